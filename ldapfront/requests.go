package ldapfront

import (
	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

// opError is a failure of one operation that is answered with a result
// code rather than by dropping the connection. diag never holds a request
// value.
type opError struct {
	code bridge.ResultCode
	diag string
}

func (e *opError) Error() string { return e.code.String() + ": " + e.diag }

// controls is what the front end makes of a request's controls.
type controls struct {
	core bridge.RequestControls
	// unsupported is the OID of the first critical control the bridge
	// does not implement, "" if none.
	unsupported string
}

func interpretControls(cs []reqControl) controls {
	var out controls
	for _, c := range cs {
		switch c.oid {
		case pwcontrol.OIDPasswordPolicy:
			out.core.PasswordPolicy = true
		case pwcontrol.OIDValidationDetailsRequest:
			out.core.ValidationDetails = true
		default:
			if c.critical && out.unsupported == "" {
				out.unsupported = c.oid
			}
		}
	}
	return out
}

// bindRequest is a decoded BindRequest.
type bindRequest struct {
	version  int64
	name     string
	simple   bool
	password bridge.Secret // simple only
	// mech is the SASL mechanism, or a description of another method.
	mech string
}

func decodeBind(op *ber.Packet) (bindRequest, error) {
	var r bindRequest
	if op.TagType != ber.TypeConstructed || len(op.Children) != 3 {
		return r, fmt.Errorf("BindRequest is not SEQUENCE { version, name, authentication }: %w", errMalformed)
	}
	v, name, auth := op.Children[0], op.Children[1], op.Children[2]
	if !isUniversal(v, ber.TypePrimitive, ber.TagInteger) || !isUniversal(name, ber.TypePrimitive, ber.TagOctetString) {
		return r, fmt.Errorf("BindRequest version or name: %w", errMalformed)
	}
	var err error
	if r.version, err = parseInt(v.Data.Bytes()); err != nil {
		return r, err
	}
	r.name = name.Data.String()
	if auth.ClassType != ber.ClassContext {
		return r, fmt.Errorf("BindRequest authentication is not a context tag: %w", errMalformed)
	}
	switch {
	case auth.Tag == 0 && auth.TagType == ber.TypePrimitive:
		r.simple = true
		r.password = bridge.NewSecret(auth.Data.Bytes())
	case auth.Tag == 3 && auth.TagType == ber.TypeConstructed:
		if len(auth.Children) < 1 || len(auth.Children) > 2 || !isUniversal(auth.Children[0], ber.TypePrimitive, ber.TagOctetString) {
			return r, fmt.Errorf("SaslCredentials: %w", errMalformed)
		}
		r.mech = "SASL " + printable(auth.Children[0].Data.String(), 32)
	default:
		r.mech = fmt.Sprintf("authentication choice [%d]", auth.Tag)
	}
	return r, nil
}

// searchRequest is the part of a SearchRequest the bridge looks at.
type searchRequest struct {
	base      string
	scope     int64
	typesOnly bool
	filter    *ber.Packet
	attrs     []string
}

func decodeSearch(op *ber.Packet) (searchRequest, error) {
	var r searchRequest
	if op.TagType != ber.TypeConstructed || len(op.Children) != 8 {
		return r, fmt.Errorf("SearchRequest does not have 8 elements: %w", errMalformed)
	}
	c := op.Children
	if !isUniversal(c[0], ber.TypePrimitive, ber.TagOctetString) ||
		!isUniversal(c[1], ber.TypePrimitive, ber.TagEnumerated) ||
		!isUniversal(c[2], ber.TypePrimitive, ber.TagEnumerated) ||
		!isUniversal(c[3], ber.TypePrimitive, ber.TagInteger) ||
		!isUniversal(c[4], ber.TypePrimitive, ber.TagInteger) ||
		!isUniversal(c[5], ber.TypePrimitive, ber.TagBoolean) ||
		c[6].ClassType != ber.ClassContext ||
		!isUniversal(c[7], ber.TypeConstructed, ber.TagSequence) {
		return r, fmt.Errorf("SearchRequest element types: %w", errMalformed)
	}
	r.base = c[0].Data.String()
	var err error
	if r.scope, err = parseInt(c[1].Data.Bytes()); err != nil {
		return r, err
	}
	for _, i := range []int{2, 3, 4} {
		if _, err := parseInt(c[i].Data.Bytes()); err != nil {
			return r, err
		}
	}
	if b := c[5].Data.Bytes(); len(b) != 1 {
		return r, fmt.Errorf("typesOnly is not a one-octet BOOLEAN: %w", errMalformed)
	} else {
		r.typesOnly = b[0] != 0
	}
	r.filter = c[6]
	for _, a := range c[7].Children {
		if !isUniversal(a, ber.TypePrimitive, ber.TagOctetString) {
			return r, fmt.Errorf("attribute selector is not an OCTET STRING: %w", errMalformed)
		}
		r.attrs = append(r.attrs, a.Data.String())
	}
	return r, nil
}

// extendedRequest is a decoded ExtendedRequest.
type extendedRequest struct {
	oid      string
	value    []byte
	hasValue bool
}

func decodeExtended(op *ber.Packet) (extendedRequest, error) {
	var r extendedRequest
	if op.TagType != ber.TypeConstructed || len(op.Children) < 1 || len(op.Children) > 2 {
		return r, fmt.Errorf("ExtendedRequest is not SEQUENCE { requestName, requestValue? }: %w", errMalformed)
	}
	if !isContext(op.Children[0], ber.TypePrimitive, 0) {
		return r, fmt.Errorf("ExtendedRequest requestName is not [0]: %w", errMalformed)
	}
	r.oid = op.Children[0].Data.String()
	if len(op.Children) == 2 {
		// RFC 4511 §5.1: OCTET STRINGs are primitive only.
		if !isContext(op.Children[1], ber.TypePrimitive, 1) {
			return r, fmt.Errorf("ExtendedRequest requestValue is not a primitive [1]: %w", errMalformed)
		}
		r.value = op.Children[1].Data.Bytes()
		r.hasValue = true
	}
	return r, nil
}

func decodeAbandon(op *ber.Packet) (int64, error) {
	if op.TagType != ber.TypePrimitive {
		return 0, fmt.Errorf("AbandonRequest is not a primitive INTEGER: %w", errMalformed)
	}
	return parseInt(op.Data.Bytes())
}

// decodePasswordModify decodes the RFC 3062 request value
//
//	PasswdModifyRequestValue ::= SEQUENCE {
//	  userIdentity [0] OCTET STRING OPTIONAL,
//	  oldPasswd    [1] OCTET STRING OPTIONAL,
//	  newPasswd    [2] OCTET STRING OPTIONAL }
//
// in every form clients send it: an absent value means the same as an
// empty SEQUENCE; userIdentity present but empty means the bound identity
// (as slapd reads it); an oldPasswd or newPasswd present but empty is
// refused, because treating it as absent would turn "set this empty
// password" into "generate one". The returned passwords are copies; the
// caller wipes them and value.
func decodePasswordModify(value []byte, present bool) (bridge.PasswordModify, error) {
	var pm bridge.PasswordModify
	if !present {
		return pm, nil
	}
	p, err := decodeBER(value)
	if err != nil || !isUniversal(p, ber.TypeConstructed, ber.TagSequence) {
		return pm, &opError{bridge.ProtocolError, "Password Modify request value is not a PasswdModifyRequestValue SEQUENCE"}
	}
	defer wipePacket(p)
	next := ber.Tag(0)
	for _, c := range p.Children {
		if c.ClassType != ber.ClassContext || c.TagType != ber.TypePrimitive || c.Tag > 2 || c.Tag < next {
			return bridge.PasswordModify{}, &opError{bridge.ProtocolError, "Password Modify request value has an unexpected or repeated element"}
		}
		next = c.Tag + 1
		b := c.Data.Bytes()
		switch c.Tag {
		case 0:
			pm.UserIdentity = string(b)
		case 1:
			if len(b) == 0 {
				return bridge.PasswordModify{}, &opError{bridge.UnwillingToPerform, "old password value is empty"}
			}
			pm.OldPassword = bridge.NewSecret(b)
		case 2:
			if len(b) == 0 {
				pm.OldPassword.Wipe()
				return bridge.PasswordModify{}, &opError{bridge.UnwillingToPerform, "new password value is empty"}
			}
			pm.NewPassword = bridge.NewSecret(b)
		}
	}
	return pm, nil
}

// printable returns s if it is short printable ASCII, else a placeholder,
// so that a client-chosen string can go into a diagnostic or a log line.
func printable(s string, max int) string {
	if len(s) > max {
		return "(too long)"
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return "(not printable)"
		}
	}
	return s
}

// isNumericOID reports whether s looks like a dotted-decimal OID.
func isNumericOID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	prevDot := true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '.':
			if prevDot {
				return false
			}
			prevDot = true
		case c >= '0' && c <= '9':
			prevDot = false
		default:
			return false
		}
	}
	return !prevDot
}

// quoteOID names an OID in a diagnostic without echoing arbitrary bytes.
func quoteOID(s string) string {
	if isNumericOID(s) {
		return s
	}
	return "(invalid OID)"
}
