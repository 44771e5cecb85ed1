package ldapfront

import (
	"context"
	"fmt"
	"strings"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/ldapbridge/ldapbridge/bridge"
)

// The operations of a ModifyRequest change (RFC 4511 §4.6, RFC 4525).
const (
	modAdd       = 0
	modDelete    = 1
	modReplace   = 2
	modIncrement = 3
)

// modification is one change of a ModifyRequest. Values are kept only for
// userPassword, as Secrets; of other attributes only their number.
type modification struct {
	op   int64
	attr string // the AttributeDescription as sent
	// password: attr is userPassword (any case, or its OID 2.5.4.35);
	// options: and it carries attribute options.
	password, options bool
	nvals             int
	values            []bridge.Secret
}

// modifyRequest is a decoded ModifyRequest. The caller wipes it.
type modifyRequest struct {
	object  string
	changes []modification
}

func (r *modifyRequest) wipe() {
	for i := range r.changes {
		for j := range r.changes[i].values {
			r.changes[i].values[j].Wipe()
		}
	}
}

// touchesPassword reports whether any change is to userPassword: such a
// request is a password change attempt, audited whatever becomes of it.
func (r *modifyRequest) touchesPassword() bool {
	for _, c := range r.changes {
		if c.password {
			return true
		}
	}
	return false
}

// passwordOnly reports whether there are changes and all are to userPassword.
func (r *modifyRequest) passwordOnly() bool {
	for _, c := range r.changes {
		if !c.password {
			return false
		}
	}
	return len(r.changes) > 0
}

// isUserPassword matches an AttributeDescription (type and options,
// RFC 4512 §2.5) against userPassword.
func isUserPassword(desc string) (match, options bool) {
	typ, _, opts := strings.Cut(desc, ";")
	match = strings.EqualFold(typ, "userPassword") || typ == "2.5.4.35"
	return match, match && opts
}

// decodeModify decodes a ModifyRequest
//
//	ModifyRequest ::= [APPLICATION 6] SEQUENCE {
//	  object  LDAPDN,
//	  changes SEQUENCE OF change SEQUENCE {
//	    operation    ENUMERATED { add (0), delete (1), replace (2), ... },
//	    modification PartialAttribute ::= SEQUENCE {
//	      type AttributeDescription, vals SET OF value AttributeValue } } }
//
// A structural error wraps errMalformed (the connection ends, as for
// every other request); an operation number outside the enumeration is
// kept for passwordChange to answer. The userPassword values are copies;
// the caller wipes them and the packet.
func decodeModify(op *ber.Packet) (modifyRequest, error) {
	var r modifyRequest
	if op.TagType != ber.TypeConstructed || len(op.Children) != 2 ||
		!isUniversal(op.Children[0], ber.TypePrimitive, ber.TagOctetString) ||
		!isUniversal(op.Children[1], ber.TypeConstructed, ber.TagSequence) {
		return r, fmt.Errorf("ModifyRequest is not SEQUENCE { object, changes }: %w", errMalformed)
	}
	r.object = op.Children[0].Data.String()
	fail := func(what string) (modifyRequest, error) {
		r.wipe()
		return modifyRequest{}, fmt.Errorf("ModifyRequest %s: %w", what, errMalformed)
	}
	for _, ch := range op.Children[1].Children {
		if !isUniversal(ch, ber.TypeConstructed, ber.TagSequence) || len(ch.Children) != 2 {
			return fail("change is not SEQUENCE { operation, modification }")
		}
		opp, mod := ch.Children[0], ch.Children[1]
		if !isUniversal(opp, ber.TypePrimitive, ber.TagEnumerated) ||
			!isUniversal(mod, ber.TypeConstructed, ber.TagSequence) || len(mod.Children) != 2 ||
			!isUniversal(mod.Children[0], ber.TypePrimitive, ber.TagOctetString) ||
			!isUniversal(mod.Children[1], ber.TypeConstructed, ber.TagSet) {
			return fail("change element types")
		}
		n, err := parseInt(opp.Data.Bytes())
		if err != nil {
			return fail("operation")
		}
		m := modification{op: n, attr: mod.Children[0].Data.String(), nvals: len(mod.Children[1].Children)}
		m.password, m.options = isUserPassword(m.attr)
		for _, v := range mod.Children[1].Children {
			if !isUniversal(v, ber.TypePrimitive, ber.TagOctetString) {
				return fail("value is not an OCTET STRING")
			}
			if m.password {
				m.values = append(m.values, bridge.NewSecret(v.Data.Bytes()))
			}
		}
		r.changes = append(r.changes, m)
	}
	return r, nil
}

// Diagnostics of Modify requests the bridge does not take.
const (
	diagModifyOnlyPassword = "this server supports modify of the userPassword attribute only"
	diagModifyShape        = "unsupported change of userPassword: send replace with the new password, " +
		"or delete of the old password followed by add of the new one"
)

// passwordChange reads a Modify of userPassword as a password change:
//
//   - replace with one value: set it (the core makes it a reset by an
//     administrator, or a self change proven by the session's password);
//   - delete of one value, then add of one value: change the old password
//     to the new one.
//
// Anything else is refused with the reason. The Secrets returned are the
// request's own: valid until r.wipe.
func (r *modifyRequest) passwordChange() (bridge.PasswordModify, *opError) {
	unwilling := func(diag string) (bridge.PasswordModify, *opError) {
		return bridge.PasswordModify{}, &opError{bridge.UnwillingToPerform, diag}
	}
	for _, c := range r.changes {
		if c.op < modAdd || c.op > modIncrement {
			// slapd's answer to an operation outside the enumeration.
			return bridge.PasswordModify{}, &opError{bridge.ProtocolError, "unrecognized modify operation"}
		}
	}
	if len(r.changes) == 0 {
		return unwilling("the modify request has no modifications")
	}
	for _, c := range r.changes {
		switch {
		case !c.password:
			return unwilling(diagModifyOnlyPassword + "; this request also modifies " + printable(c.attr, 64))
		case c.options:
			return unwilling("userPassword with attribute options is not supported")
		}
	}
	pm := bridge.PasswordModify{UserIdentity: "dn:" + r.object}
	switch c := r.changes; {
	case len(c) == 1 && c[0].op == modReplace:
		switch {
		case c[0].nvals == 0:
			return unwilling("replace of userPassword needs the new password as its value; passwords are not removed through this server")
		case c[0].nvals > 1:
			return unwilling("replace of userPassword takes exactly one value, the new password")
		case c[0].values[0].IsZero():
			return unwilling("new password value is empty")
		}
		pm.NewPassword = c[0].values[0]
	case len(c) == 2 && c[0].op == modDelete && c[1].op == modAdd:
		switch {
		case c[0].nvals != 1 || c[1].nvals != 1:
			return unwilling("delete and add of userPassword take exactly one value each, the old and the new password")
		case c[0].values[0].IsZero():
			return unwilling("old password value is empty")
		case c[1].values[0].IsZero():
			return unwilling("new password value is empty")
		}
		pm.OldPassword, pm.NewPassword = c[0].values[0], c[1].values[0]
	default:
		return unwilling(diagModifyShape)
	}
	return pm, nil
}

// modify answers request seq, a ModifyRequest: a change of userPassword
// is a password change, with the result codes and response controls of
// Password Modify; any other modify is refused.
func (c *conn) modify(ctx context.Context, m *message, seq uint64, ctl controls, mr *modifyRequest) ([]byte, bridge.ResultCode) {
	reply := func(o bridge.Outcome) ([]byte, bridge.ResultCode) {
		return appendMessage(nil, m.id, appModifyResponse, resultOf(o), nil, changeControls(ctl, o)), o.Code
	}
	p := c.currentPrincipal()
	op := c.opInfo(m, seq, p)
	refuse := func(o bridge.Outcome) ([]byte, bridge.ResultCode) {
		if mr.touchesPassword() {
			info := bridge.ChangeInfo{Target: mr.object}
			if p != nil {
				info.Actor = p.DN()
			}
			c.srv.obs.PasswordChange(op, info, o)
			c.log.Info("password change refused", "op", seq, "msgid", m.id, "type", "modify", "target", printable(mr.object, 256), "answer", o)
		}
		return reply(o)
	}
	target, derr := bridge.ParseDN(mr.object)
	validDN := derr == nil && len(target.RDNs) > 0
	// A session that must change its password may change its own and do
	// nothing else, as under slapd's ppolicy.
	if p != nil && p.MustChange() && !(validDN && p.Is(target) && mr.passwordOnly()) {
		return refuse(restrictedOutcome())
	}
	if !mr.touchesPassword() {
		return reply(bridge.Fail(bridge.UnwillingToPerform, diagModifyOnlyPassword))
	}
	if !c.cleartextOK() {
		return refuse(bridge.Fail(bridge.ConfidentialityRequired, "password changes need TLS on this connection"))
	}
	if !validDN {
		return refuse(bridge.Fail(bridge.InvalidDNSyntax, "invalid DN: a password is modified on a user's entry"))
	}
	pm, oe := mr.passwordChange()
	if oe != nil {
		return refuse(bridge.Fail(oe.code, oe.diag))
	}
	pm.Controls = ctl.core
	o, info := c.srv.core.ChangePassword(ctx, p, pm)
	// A ModifyResponse has nowhere to put a generated password, and every
	// shape accepted above names the new one.
	o.GeneratedPassword.Wipe()
	if info.Target == "" {
		// The core refused before naming it (an anonymous session).
		info.Target = mr.object
	}
	c.srv.obs.PasswordChange(op, info, o)
	c.log.Info("password change", "op", seq, "msgid", m.id, "type", "modify", "target", info.Target, "kind", info.Kind.String(),
		"backend", info.Backend, "answer", o)
	return reply(o)
}
