package pwcontrol

import (
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/ber"
)

// PasswordPolicyResponseValue ::= SEQUENCE {
//     warning [0] CHOICE {
//         timeBeforeExpiration [0] INTEGER (0 .. maxInt),
//         graceAuthNsRemaining [1] INTEGER (0 .. maxInt) } OPTIONAL,
//     error   [1] ENUMERATED { passwordExpired (0), ... passwordInHistory (8) } OPTIONAL }

const opPolicy = "decode password policy control"

// policyParts returns the tag and clamped value of the warning (tag 0 when
// there is none) and whether the error element is present.
func policyParts(p bridge.Policy) (wtag byte, wval int64, hasErr bool) {
	switch p.Warning {
	case bridge.TimeBeforeExpiration:
		wtag = ctx0
	case bridge.GraceAuthNsRemaining:
		wtag = ctx1
	}
	return wtag, clampCount(p.WarningValue), p.Error >= bridge.PasswordExpired && p.Error <= bridge.PasswordInHistory
}

// AppendPolicy appends the BER value of a ppolicy response control to dst.
// An unknown Warning kind or an Error outside 0..8 is left out, so the
// result is always a value clients can decode; the warning value is clamped
// to [0, MaxCount].
func AppendPolicy(dst []byte, p bridge.Policy) []byte {
	wtag, wval, hasErr := policyParts(p)
	n := 0
	winner := 0
	if wtag != 0 {
		winner = 2 + ber.IntSize(wval)
		n += 2 + winner
	}
	if hasErr {
		n += 3
	}
	dst = append(dst, tagSequence, byte(n)) // at most 2+2+2+5+3 octets: short form
	if wtag != 0 {
		dst = append(dst, ctxCons0, byte(winner))
		dst = ber.AppendInt(dst, wtag, wval)
	}
	if hasErr {
		dst = append(dst, ctx1, 1, byte(p.Error))
	}
	return dst
}

// DecodePolicy decodes the BER value of a ppolicy response control. It
// accepts the elements only in the order the SEQUENCE gives them, and only
// the minimal encodings AppendPolicy writes.
func DecodePolicy(b []byte) (bridge.Policy, error) {
	p := bridge.NoPolicy()
	content, err := only(b, tagSequence, opPolicy, "value")
	if err != nil {
		return p, err
	}
	r := reader{b: content, op: opPolicy}
	if tag, ok := r.peek(); ok && tag == ctxCons0 {
		w, err := r.expect(ctxCons0, "warning")
		if err != nil {
			return bridge.NoPolicy(), err
		}
		wr := reader{b: w, op: opPolicy}
		tag, c, err := wr.next()
		if err != nil {
			return bridge.NoPolicy(), err
		}
		if !wr.empty() {
			return bridge.NoPolicy(), malformed(opPolicy, "warning holds more than one element")
		}
		switch tag {
		case ctx0:
			p.Warning = bridge.TimeBeforeExpiration
		case ctx1:
			p.Warning = bridge.GraceAuthNsRemaining
		default:
			return bridge.NoPolicy(), malformed(opPolicy, "unknown warning type %#02x", tag)
		}
		if p.WarningValue, err = parseCount(c, opPolicy, "warning"); err != nil {
			return bridge.NoPolicy(), err
		}
	}
	if !r.empty() {
		c, err := r.expect(ctx1, "error")
		if err != nil {
			return bridge.NoPolicy(), err
		}
		if len(c) != 1 || c[0] > byte(bridge.PasswordInHistory) {
			return bridge.NoPolicy(), malformed(opPolicy, "error is not an ENUMERATED in 0..8")
		}
		p.Error = bridge.PolicyError(c[0])
	}
	if !r.empty() {
		return bridge.NoPolicy(), malformed(opPolicy, "unexpected element after the error")
	}
	return p, nil
}
