package ldapfront

import (
	"context"
	"fmt"
	"strings"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/ldapfront/internal/berlex"
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
// the caller wipes them and the frame.
func decodeModify(op berlex.Element) (modifyRequest, error) {
	var r modifyRequest
	var top [2]berlex.Element
	if n, err := berlex.Split(op.Content, top[:]); err != nil || !op.Constructed() || n != 2 ||
		top[0].Tag != tagOctetString || top[1].Tag != tagSequence {
		return r, fmt.Errorf("ModifyRequest is not SEQUENCE { object, changes }: %w", errMalformed)
	}
	fail := func(what string) (modifyRequest, error) {
		r.wipe()
		return modifyRequest{}, fmt.Errorf("ModifyRequest %s: %w", what, errMalformed)
	}
	// Counted first, so that the slice is made once at its size.
	n, err := berlex.Count(top[1].Content, maxElements)
	if err != nil {
		return fail("changes")
	}
	if n > 0 {
		r.changes = make([]modification, 0, n)
	}
	for rest := top[1].Content; len(rest) > 0; {
		var ch berlex.Element
		if ch, rest, err = berlex.Next(rest); err != nil {
			return fail("change")
		}
		var parts, pa [2]berlex.Element
		if k, err := berlex.Split(ch.Content, parts[:]); err != nil || ch.Tag != tagSequence || k != 2 {
			return fail("change is not SEQUENCE { operation, modification }")
		}
		opp, mod := parts[0], parts[1]
		if k, err := berlex.Split(mod.Content, pa[:]); err != nil || opp.Tag != tagEnumerated ||
			mod.Tag != tagSequence || k != 2 || pa[0].Tag != tagOctetString || pa[1].Tag != tagSet {
			return fail("change element types")
		}
		opn, err := parseInt(opp.Content)
		if err != nil {
			return fail("operation")
		}
		nvals, err := berlex.Count(pa[1].Content, maxElements)
		if err != nil {
			return fail("values")
		}
		m := modification{op: opn, attr: string(pa[0].Content), nvals: nvals}
		m.password, m.options = isUserPassword(m.attr)
		if m.password && nvals > 0 {
			m.values = make([]bridge.Secret, 0, nvals)
		}
		for vals := pa[1].Content; len(vals) > 0; {
			var v berlex.Element
			if v, vals, err = berlex.Next(vals); err != nil || v.Tag != tagOctetString {
				// The values kept so far are in r only once m is: wipe them here.
				for i := range m.values {
					m.values[i].Wipe()
				}
				return fail("value is not an OCTET STRING")
			}
			if m.password {
				m.values = append(m.values, bridge.NewSecret(v.Content))
			}
		}
		r.changes = append(r.changes, m)
	}
	r.object = string(top[0].Content)
	return r, nil
}

// diagModifyShape answers a change of userPassword the bridge does not take.
const diagModifyShape = "unsupported change of userPassword: send replace with the new password, " +
	"or delete of the old password followed by add of the new one"

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
			return unwilling(bridge.DiagModifyOnlyPassword + "; this request also modifies " + printable(c.attr, 64))
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

// modify answers request seq, a ModifyRequest: the core decides (a change
// of userPassword is a password change, with the result codes and response
// controls of Password Modify; any other modify is refused); this encodes.
func (c *conn) modify(ctx context.Context, m *message, seq uint64, ctl controls, mr *modifyRequest) ([]byte, bridge.ResultCode) {
	p := c.currentPrincipal()
	op := c.opInfo(m, seq, p)
	pm, oe := mr.passwordChange()
	if oe != nil {
		invalid := bridge.Fail(oe.code, oe.diag)
		pm.Invalid = &invalid
	}
	pm.Controls = ctl.core
	pm.Secure = c.cleartextOK()
	d := c.srv.core.Modify(ctx, p, bridge.ModifyRequest{
		Object: mr.object, TouchesPassword: mr.touchesPassword(), PasswordOnly: mr.passwordOnly(), Change: pm,
	})
	c.decided(op, d)
	return appendMessage(nil, m.id, appModifyResponse, resultOf(d.Outcome), nil, changeControls(ctl, d.Outcome)), d.Outcome.Code
}
