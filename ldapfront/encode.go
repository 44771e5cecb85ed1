package ldapfront

import (
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/ber"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

// BER identifiers (RFC 4511 §4.2) of the PDUs the front end reads and writes.
const (
	tagSequence    = 0x30
	tagSet         = 0x31
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagBoolean     = 0x01

	tagControls = 0xa0 // [0] Controls in an LDAPMessage

	appBindRequest     = 0x60
	appBindResponse    = 0x61
	appUnbindRequest   = 0x42
	appSearchRequest   = 0x63
	appSearchEntry     = 0x64
	appSearchDone      = 0x65
	appModifyRequest   = 0x66
	appModifyResponse  = 0x67
	appAddRequest      = 0x68
	appAddResponse     = 0x69
	appDelRequest      = 0x4a
	appDelResponse     = 0x6b
	appModDNRequest    = 0x6c
	appModDNResponse   = 0x6d
	appCompareRequest  = 0x6e
	appCompareResponse = 0x6f
	appAbandonRequest  = 0x50
	appExtendedRequest = 0x77
	appExtendedResp    = 0x78

	tagExtRespName  = 0x8a // [10] responseName
	tagExtRespValue = 0x8b // [11] responseValue
	tagGenPasswd    = 0x80 // [0] genPasswd in PasswdModifyResponseValue
)

// OIDs the front end implements or names.
const (
	oidPasswordModify = "1.3.6.1.4.1.4203.1.11.1"
	oidWhoAmI         = "1.3.6.1.4.1.4203.1.11.3"
	oidStartTLS       = "1.3.6.1.4.1.1466.20037"
	oidNotice         = "1.3.6.1.4.1.1466.20036"
)

// begin appends an identifier and a one-byte length placeholder and
// returns the offset of the content; end patches the length in. Building
// in place avoids an allocation per nesting level.
func begin(dst []byte, tag byte) ([]byte, int) {
	dst = append(dst, tag, 0)
	return dst, len(dst)
}

func end(dst []byte, start int) []byte {
	n := len(dst) - start
	if n < 0x80 {
		dst[start-1] = byte(n)
		return dst
	}
	// The long form takes k more octets than the placeholder: make room,
	// move the content up, and write the length where the placeholder was.
	var buf [9]byte
	length := ber.AppendLength(buf[:0], n)
	k := len(length) - 1
	dst = append(dst, buf[1:1+k]...)
	copy(dst[start+k:], dst[start:start+n])
	copy(dst[start-1:], length)
	return dst
}

// The element writers are the shared ones (internal/ber); the short names
// keep the builders below readable.
func appendString(dst []byte, tag byte, s string) []byte { return ber.AppendString(dst, tag, s) }
func appendBytes(dst []byte, tag byte, b []byte) []byte  { return ber.AppendBytes(dst, tag, b) }
func appendInt(dst []byte, tag byte, v int64) []byte     { return ber.AppendInt(dst, tag, v) }

// result is the LDAPResult part of a response.
type result struct {
	code      bridge.ResultCode
	matchedDN string
	diag      string
}

func resultOf(o bridge.Outcome) result {
	return result{code: o.Code, matchedDN: o.MatchedDN, diag: o.Diagnostic}
}

// respControl is a response control. Criticality is never written: it is
// FALSE for every response control the bridge sends, and libldap reads an
// explicit FALSE the wrong way round.
type respControl struct {
	oid   string
	value func(dst []byte) []byte
}

func policyControl(p *bridge.Policy) respControl {
	v := bridge.NoPolicy()
	if p != nil {
		v = *p
	}
	return respControl{oid: pwcontrol.OIDPasswordPolicy, value: func(dst []byte) []byte {
		return pwcontrol.AppendPolicy(dst, v)
	}}
}

func validationControl(v *bridge.ValidationDetails) respControl {
	return respControl{oid: pwcontrol.OIDValidationDetailsResponse, value: func(dst []byte) []byte {
		return pwcontrol.AppendValidation(dst, v)
	}}
}

// appendMessage writes one LDAPMessage whose protocolOp is an LDAPResult
// of type opTag, optionally followed by op-specific trailing elements.
func appendMessage(dst []byte, msgID int64, opTag byte, r result, tail func([]byte) []byte, ctls []respControl) []byte {
	dst, msg := begin(dst, tagSequence)
	dst = appendInt(dst, tagInteger, msgID)
	dst, op := begin(dst, opTag)
	dst = appendInt(dst, tagEnumerated, int64(r.code))
	dst = appendString(dst, tagOctetString, r.matchedDN)
	dst = appendString(dst, tagOctetString, r.diag)
	if tail != nil {
		dst = tail(dst)
	}
	dst = end(dst, op)
	dst = appendControls(dst, ctls)
	return end(dst, msg)
}

func appendControls(dst []byte, ctls []respControl) []byte {
	if len(ctls) == 0 {
		return dst
	}
	dst, all := begin(dst, tagControls)
	for _, c := range ctls {
		var one, val int
		dst, one = begin(dst, tagSequence)
		dst = appendString(dst, tagOctetString, c.oid)
		if c.value != nil {
			dst, val = begin(dst, tagOctetString)
			dst = c.value(dst)
			dst = end(dst, val)
		}
		dst = end(dst, one)
	}
	return end(dst, all)
}

// appendNotice writes the Notice of Disconnection (RFC 4511 §4.4.1).
func appendNotice(dst []byte, code bridge.ResultCode, diag string) []byte {
	return appendMessage(dst, 0, appExtendedResp, result{code: code, diag: diag}, func(b []byte) []byte {
		return appendString(b, tagExtRespName, oidNotice)
	}, nil)
}

// responseValue returns a tail writing an ExtendedResponse responseValue;
// there is never a responseName (see DESIGN.md: slapd sends none and
// clients break on it).
func responseValue(v []byte) func([]byte) []byte {
	return func(b []byte) []byte { return appendBytes(b, tagExtRespValue, v) }
}

// genPasswdValue returns a tail writing PasswdModifyResponseValue
// SEQUENCE { genPasswd [0] } as the responseValue.
func genPasswdValue(pw bridge.Secret) func([]byte) []byte {
	return func(b []byte) []byte {
		b, v := begin(b, tagExtRespValue)
		b, s := begin(b, tagSequence)
		b = appendBytes(b, tagGenPasswd, pw.Bytes())
		b = end(b, s)
		return end(b, v)
	}
}

// attribute is one attribute of a search result entry.
type attribute struct {
	name        string
	values      []string
	operational bool
}

// appendEntry writes a SearchResultEntry with the given attributes.
func appendEntry(dst []byte, msgID int64, dn string, attrs []attribute, typesOnly bool) []byte {
	dst, msg := begin(dst, tagSequence)
	dst = appendInt(dst, tagInteger, msgID)
	dst, op := begin(dst, appSearchEntry)
	dst = appendString(dst, tagOctetString, dn)
	dst, list := begin(dst, tagSequence)
	for _, a := range attrs {
		var pa, vals int
		dst, pa = begin(dst, tagSequence)
		dst = appendString(dst, tagOctetString, a.name)
		dst, vals = begin(dst, tagSet)
		if !typesOnly {
			for _, v := range a.values {
				dst = appendString(dst, tagOctetString, v)
			}
		}
		dst = end(dst, vals)
		dst = end(dst, pa)
	}
	dst = end(dst, list)
	dst = end(dst, op)
	return end(dst, msg)
}
