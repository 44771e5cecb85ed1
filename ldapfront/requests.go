package ldapfront

import (
	"fmt"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/ldapfront/internal/berlex"
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
	// paged is the Simple Paged Results control's value (search.go),
	// pagedSeen whether the request carried one.
	paged     []byte
	pagedSeen bool
}

func interpretControls(cs []reqControl) controls {
	var out controls
	for _, c := range cs {
		switch c.oid {
		case pwcontrol.OIDPasswordPolicy:
			out.core.PasswordPolicy = true
		case pwcontrol.OIDValidationDetailsRequest:
			out.core.ValidationDetails = true
		case oidPagedResults:
			out.paged, out.pagedSeen = c.value, true
		default:
			if c.critical && out.unsupported == "" {
				out.unsupported = c.oid
			}
		}
	}
	return out
}

// The decoders below read a protocolOp that decodeMessage has checked
// (berlex.Check: lengths, nesting, element count), straight from the
// frame's bytes. What they return is copied out of the frame where it
// outlives it (strings, Secrets) and aliases it otherwise (an extended
// request's value, a search filter); the caller clears the frame once
// the passwords in it have been copied into Secrets. They are safe on
// unchecked input too: every length is checked again as it is read.

// bindRequest is a decoded BindRequest.
type bindRequest struct {
	version  int64
	name     string
	simple   bool
	password bridge.Secret // simple only
	// mech is the SASL mechanism, or a description of another method.
	mech string
}

// Context tags of the BindRequest's AuthenticationChoice.
const (
	tagAuthSimple = 0x80 // [0] simple OCTET STRING
	tagAuthSASL   = 0xa3 // [3] SaslCredentials
)

func decodeBind(op berlex.Element) (bindRequest, error) {
	var r bindRequest
	var c [3]berlex.Element
	if n, err := berlex.Split(op.Content, c[:]); err != nil || !op.Constructed() || n != 3 {
		return r, fmt.Errorf("BindRequest is not SEQUENCE { version, name, authentication }: %w", errMalformed)
	}
	v, name, auth := c[0], c[1], c[2]
	if v.Tag != tagInteger || name.Tag != tagOctetString {
		return r, fmt.Errorf("BindRequest version or name: %w", errMalformed)
	}
	var err error
	if r.version, err = parseInt(v.Content); err != nil {
		return r, err
	}
	if auth.Class() != berlex.ClassContext {
		return r, fmt.Errorf("BindRequest authentication is not a context tag: %w", errMalformed)
	}
	switch auth.Tag {
	case tagAuthSimple:
		r.simple = true
		r.password = bridge.NewSecret(auth.Content)
	case tagAuthSASL:
		var sc [2]berlex.Element
		if n, err := berlex.Split(auth.Content, sc[:]); err != nil || n < 1 || sc[0].Tag != tagOctetString {
			return r, fmt.Errorf("SaslCredentials: %w", errMalformed)
		}
		r.mech = "SASL " + printable(string(sc[0].Content), 32)
	default:
		r.mech = fmt.Sprintf("authentication choice [%d]", auth.Number())
	}
	// Last, so that a failed decode allocates nothing that outlives it.
	r.name = string(name.Content)
	return r, nil
}

// searchRequest is the part of a SearchRequest the bridge looks at.
type searchRequest struct {
	base      string
	scope     int64
	sizeLimit int64
	timeLimit int64
	typesOnly bool
	filter    berlex.Element // aliases the frame
	attrs     []string
}

func decodeSearch(op berlex.Element) (searchRequest, error) {
	var r searchRequest
	var c [8]berlex.Element
	if n, err := berlex.Split(op.Content, c[:]); err != nil || !op.Constructed() || n != 8 {
		return r, fmt.Errorf("SearchRequest does not have 8 elements: %w", errMalformed)
	}
	if c[0].Tag != tagOctetString || c[1].Tag != tagEnumerated || c[2].Tag != tagEnumerated ||
		c[3].Tag != tagInteger || c[4].Tag != tagInteger || c[5].Tag != tagBoolean ||
		c[6].Class() != berlex.ClassContext || c[7].Tag != tagSequence {
		return r, fmt.Errorf("SearchRequest element types: %w", errMalformed)
	}
	var err error
	if r.scope, err = parseInt(c[1].Content); err != nil {
		return r, err
	}
	if _, err := parseInt(c[2].Content); err != nil {
		return r, err
	}
	if r.sizeLimit, err = parseInt(c[3].Content); err != nil {
		return r, err
	}
	if r.timeLimit, err = parseInt(c[4].Content); err != nil {
		return r, err
	}
	if r.typesOnly, err = berlex.Bool(c[5].Content); err != nil {
		return r, fmt.Errorf("typesOnly is not a one-octet BOOLEAN: %w", errMalformed)
	}
	n, err := berlex.Count(c[7].Content, maxElements)
	if err != nil {
		return r, berError("attribute selection", err)
	}
	if n > 0 {
		r.attrs = make([]string, 0, n)
	}
	for rest := c[7].Content; len(rest) > 0; {
		var a berlex.Element
		if a, rest, err = berlex.Next(rest); err != nil || a.Tag != tagOctetString {
			return searchRequest{}, fmt.Errorf("attribute selector is not an OCTET STRING: %w", errMalformed)
		}
		r.attrs = append(r.attrs, string(a.Content))
	}
	r.base = string(c[0].Content)
	r.filter = c[6]
	return r, nil
}

// extendedRequest is a decoded ExtendedRequest.
type extendedRequest struct {
	oid      string
	value    []byte // aliases the frame
	hasValue bool
}

// Context tags of the ExtendedRequest.
const (
	tagExtReqName  = 0x80 // [0] requestName
	tagExtReqValue = 0x81 // [1] requestValue, primitive (RFC 4511 §5.1)
)

// knownExtended are the extended operations the bridge implements;
// decoding one of their OIDs costs no allocation.
var knownExtended = [...]string{oidPasswordModify, oidWhoAmI, oidStartTLS}

func decodeExtended(op berlex.Element) (extendedRequest, error) {
	var r extendedRequest
	var c [2]berlex.Element
	n, err := berlex.Split(op.Content, c[:])
	if err != nil || !op.Constructed() || n < 1 {
		return r, fmt.Errorf("ExtendedRequest is not SEQUENCE { requestName, requestValue? }: %w", errMalformed)
	}
	if c[0].Tag != tagExtReqName {
		return r, fmt.Errorf("ExtendedRequest requestName is not [0]: %w", errMalformed)
	}
	if n == 2 {
		// RFC 4511 §5.1: OCTET STRINGs are primitive only.
		if c[1].Tag != tagExtReqValue {
			return r, fmt.Errorf("ExtendedRequest requestValue is not a primitive [1]: %w", errMalformed)
		}
		r.value = c[1].Content
		r.hasValue = true
	}
	r.oid = string(c[0].Content)
	for _, k := range knownExtended {
		if string(c[0].Content) == k {
			r.oid = k
		}
	}
	return r, nil
}

func decodeAbandon(op berlex.Element) (int64, error) {
	if op.Constructed() {
		return 0, fmt.Errorf("AbandonRequest is not a primitive INTEGER: %w", errMalformed)
	}
	return parseInt(op.Content)
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
	malformed := &opError{bridge.ProtocolError, "Password Modify request value is not a PasswdModifyRequestValue SEQUENCE"}
	// The value is an OCTET STRING holding BER of its own, which the
	// message's check did not look into: check it as a message is checked.
	if berlex.Check(value, messageLimits) != nil {
		return pm, malformed
	}
	s, _, err := berlex.Next(value)
	if err != nil || s.Tag != tagSequence {
		return pm, malformed
	}
	next := byte(0)
	for rest := s.Content; len(rest) > 0; {
		var c berlex.Element
		if c, rest, err = berlex.Next(rest); err != nil {
			return pm, malformed
		}
		if c.Class() != berlex.ClassContext || c.Constructed() || c.Number() > 2 || c.Number() < next {
			pm.OldPassword.Wipe()
			pm.NewPassword.Wipe()
			return bridge.PasswordModify{}, &opError{bridge.ProtocolError, "Password Modify request value has an unexpected or repeated element"}
		}
		next = c.Number() + 1
		b := c.Content
		switch c.Number() {
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
