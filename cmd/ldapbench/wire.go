package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/ldapbridge/ldapbridge/internal/ber"
)

// The load tool speaks just enough LDAP, encoded by hand, to cost the
// server under test and not itself: a request is appended to a reused
// buffer and a response is read into another, with no allocation per
// operation.

// BER tags used here.
const (
	tagInteger     = 0x02
	tagOctetString = 0x04
	tagEnumerated  = 0x0a
	tagSequence    = 0x30

	appBindRequest     = 0x60
	appBindResponse    = 0x61
	appUnbindRequest   = 0x42
	appExtendedRequest = 0x77
	appExtendedResp    = 0x78

	ctxSimple       = 0x80 // BindRequest authentication simple [0]
	ctxControls     = 0xa0 // LDAPMessage controls [0]
	ctxExtReqName   = 0x80 // ExtendedRequest requestName [0]
	ctxExtReqValue  = 0x81 // ExtendedRequest requestValue [1]
	ctxPasswdOld    = 0x81 // PasswdModifyRequestValue oldPasswd [1]
	ctxPasswdNew    = 0x82 // PasswdModifyRequestValue newPasswd [2]
	maxResponseSize = 64 << 10
)

// OIDs.
const (
	oidPasswordModify = "1.3.6.1.4.1.4203.1.11.1"
	oidStartTLS       = "1.3.6.1.4.1.1466.20037"
	oidNotice         = "1.3.6.1.4.1.1466.20036"
	oidPasswordPolicy = "1.3.6.1.4.1.42.2.27.8.5.1"
)

// policyControlLen is the encoded size of the controls [0] element holding
// the ppolicy request control (no value, criticality left out).
var policyControlLen = ber.TLVSize(ber.TLVSize(ber.TLVSize(len(oidPasswordPolicy))))

func appendPolicyControl(b []byte) []byte {
	inner := ber.TLVSize(len(oidPasswordPolicy))
	b = append(b, ctxControls)
	b = ber.AppendLength(b, ber.TLVSize(inner))
	b = append(b, tagSequence)
	b = ber.AppendLength(b, inner)
	return ber.AppendString(b, tagOctetString, oidPasswordPolicy)
}

// appendEnvelope writes the LDAPMessage header for an operation of
// opLen bytes; the caller appends the operation, then the controls.
func appendEnvelope(b []byte, id int32, opLen int, ppolicy bool) []byte {
	body := ber.TLVSize(ber.IntSize(int64(id))) + opLen
	if ppolicy {
		body += policyControlLen
	}
	b = append(b, tagSequence)
	b = ber.AppendLength(b, body)
	return ber.AppendInt(b, tagInteger, int64(id))
}

// appendBind appends a simple BindRequest message.
func appendBind(b []byte, id int32, dn, password string, ppolicy bool) []byte {
	content := 3 + ber.TLVSize(len(dn)) + ber.TLVSize(len(password))
	b = appendEnvelope(b, id, ber.TLVSize(content), ppolicy)
	b = append(b, appBindRequest)
	b = ber.AppendLength(b, content)
	b = append(b, tagInteger, 1, 3)
	b = ber.AppendString(b, tagOctetString, dn)
	b = ber.AppendString(b, ctxSimple, password)
	if ppolicy {
		b = appendPolicyControl(b)
	}
	return b
}

// appendPasswordModify appends an RFC 3062 request for the bound identity
// (no userIdentity) with the old and new passwords.
func appendPasswordModify(b []byte, id int32, oldPW, newPW string, ppolicy bool) []byte {
	value := ber.TLVSize(len(oldPW)) + ber.TLVSize(len(newPW))
	content := ber.TLVSize(len(oidPasswordModify)) + ber.TLVSize(ber.TLVSize(value))
	b = appendEnvelope(b, id, ber.TLVSize(content), ppolicy)
	b = append(b, appExtendedRequest)
	b = ber.AppendLength(b, content)
	b = ber.AppendString(b, ctxExtReqName, oidPasswordModify)
	b = append(b, ctxExtReqValue)
	b = ber.AppendLength(b, ber.TLVSize(value))
	b = append(b, tagSequence)
	b = ber.AppendLength(b, value)
	b = ber.AppendString(b, ctxPasswdOld, oldPW)
	b = ber.AppendString(b, ctxPasswdNew, newPW)
	if ppolicy {
		b = appendPolicyControl(b)
	}
	return b
}

func appendStartTLS(b []byte, id int32) []byte {
	content := ber.TLVSize(len(oidStartTLS))
	b = appendEnvelope(b, id, ber.TLVSize(content), false)
	b = append(b, appExtendedRequest)
	b = ber.AppendLength(b, content)
	return ber.AppendString(b, ctxExtReqName, oidStartTLS)
}

func appendUnbind(b []byte, id int32) []byte {
	b = appendEnvelope(b, id, 2, false)
	return append(b, appUnbindRequest, 0)
}

var errMalformed = errors.New("malformed LDAP response")

// readMessage reads one LDAPMessage into buf (grown as needed, up to
// maxResponseSize) and returns it.
func readMessage(r *bufio.Reader, buf []byte) ([]byte, error) {
	tag, err := r.ReadByte()
	if err != nil {
		return buf, err
	}
	if tag != tagSequence {
		return buf, fmt.Errorf("%w: message tag 0x%02x", errMalformed, tag)
	}
	first, err := r.ReadByte()
	if err != nil {
		return buf, unexpected(err)
	}
	n := int(first)
	if first >= 0x80 {
		k := int(first & 0x7f)
		if k == 0 || k > 3 {
			return buf, fmt.Errorf("%w: length of %d octets", errMalformed, k)
		}
		n = 0
		for range k {
			c, err := r.ReadByte()
			if err != nil {
				return buf, unexpected(err)
			}
			n = n<<8 | int(c)
		}
	}
	if n > maxResponseSize {
		return buf, fmt.Errorf("%w: %d-byte message", errMalformed, n)
	}
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return buf, unexpected(err)
	}
	return buf, nil
}

func unexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// response is the part of an LDAP response the load tool looks at.
type response struct {
	id     int32
	op     byte // application tag of the protocolOp
	code   int
	diag   string
	notice bool // an unsolicited Notice of Disconnection
}

// tlv splits the first element off b.
func tlv(b []byte) (tag byte, content, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, errMalformed
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, fmt.Errorf("%w: multi-byte tag", errMalformed)
	}
	n, hl := int(b[1]), 2
	if b[1] >= 0x80 {
		k := int(b[1] & 0x7f)
		if k == 0 || k > 3 || len(b) < 2+k {
			return 0, nil, nil, fmt.Errorf("%w: bad length", errMalformed)
		}
		n = 0
		for _, c := range b[2 : 2+k] {
			n = n<<8 | int(c)
		}
		hl += k
	}
	if n > len(b)-hl {
		return 0, nil, nil, fmt.Errorf("%w: element overruns its message", errMalformed)
	}
	return tag, b[hl : hl+n], b[hl+n:], nil
}

func parseInt(b []byte) (int64, bool) {
	if len(b) == 0 || len(b) > 4 {
		return 0, false
	}
	v := int64(int8(b[0]))
	for _, c := range b[1:] {
		v = v<<8 | int64(c)
	}
	return v, true
}

// parseResponse decodes the content of an LDAPMessage (as readMessage
// returns it) holding an LDAPResult-shaped response.
func parseResponse(msg []byte) (response, error) {
	var r response
	tag, idb, rest, err := tlv(msg)
	if err != nil {
		return r, err
	}
	id, ok := parseInt(idb)
	if tag != tagInteger || !ok {
		return r, fmt.Errorf("%w: messageID", errMalformed)
	}
	r.id = int32(id)
	tag, op, _, err := tlv(rest)
	if err != nil {
		return r, err
	}
	if tag&0xe0 != 0x60 {
		return r, fmt.Errorf("%w: protocolOp tag 0x%02x is not an application SEQUENCE", errMalformed, tag)
	}
	r.op = tag
	t, codeb, op, err := tlv(op)
	if err != nil {
		return r, err
	}
	code, ok := parseInt(codeb)
	if t != tagEnumerated || !ok || code < 0 {
		return r, fmt.Errorf("%w: resultCode", errMalformed)
	}
	r.code = int(code)
	if t, _, op, err = tlv(op); err != nil || t != tagOctetString {
		return r, fmt.Errorf("%w: matchedDN", errMalformed)
	}
	t, diag, op, err := tlv(op)
	if err != nil || t != tagOctetString {
		return r, fmt.Errorf("%w: diagnosticMessage", errMalformed)
	}
	r.diag = string(diag)
	if r.id == 0 && tag == appExtendedResp {
		// A Notice of Disconnection names itself in responseName [10].
		for len(op) > 0 {
			var c []byte
			if t, c, op, err = tlv(op); err != nil {
				return r, err
			}
			if t == 0x8a && string(c) == oidNotice {
				r.notice = true
			}
		}
	}
	return r, nil
}

// Search request and result tags (RFC 4511 §4.5).
const (
	appSearchRequest = 0x63
	appSearchEntry   = 0x64
	appSearchDone    = 0x65
	appSearchRef     = 0x73
	tagBoolean       = 0x01
	filterEquality   = 0xa3 // Filter equalityMatch [3] AttributeValueAssertion
)

// The search scopes (RFC 4511 §4.5.1.2).
const (
	scopeBase = 0 // baseObject
	scopeOne  = 1 // singleLevel
	scopeSub  = 2 // wholeSubtree
)

// appendSearch appends a SearchRequest from base with scope for
// (attr=value), never dereferencing aliases, no size or time limit, types
// and values, asking for attrs: what mod_authnz_ldap and go-ldap send for
// a user lookup.
func appendSearch(b []byte, id int32, base string, scope int, attr, value string, attrs []string) []byte {
	ava := ber.TLVSize(len(attr)) + ber.TLVSize(len(value))
	al := 0
	for _, a := range attrs {
		al += ber.TLVSize(len(a))
	}
	content := ber.TLVSize(len(base)) + 3 + 3 + 3 + 3 + 3 + ber.TLVSize(ava) + ber.TLVSize(al)
	b = appendEnvelope(b, id, ber.TLVSize(content), false)
	b = append(b, appSearchRequest)
	b = ber.AppendLength(b, content)
	b = ber.AppendString(b, tagOctetString, base)
	b = append(b, tagEnumerated, 1, byte(scope))
	b = append(b, tagEnumerated, 1, 0) // derefAliases: neverDerefAliases
	b = append(b, tagInteger, 1, 0)    // sizeLimit
	b = append(b, tagInteger, 1, 0)    // timeLimit
	b = append(b, tagBoolean, 1, 0)    // typesOnly: FALSE
	b = append(b, filterEquality)
	b = ber.AppendLength(b, ava)
	b = ber.AppendString(b, tagOctetString, attr)
	b = ber.AppendString(b, tagOctetString, value)
	b = append(b, tagSequence)
	b = ber.AppendLength(b, al)
	for _, a := range attrs {
		b = ber.AppendString(b, tagOctetString, a)
	}
	return b
}

// parseHeader splits an LDAPMessage's content (as readMessage returns
// it) into its messageID, the protocolOp's tag and the protocolOp's
// content.
func parseHeader(msg []byte) (id int32, op byte, content []byte, err error) {
	tag, idb, rest, err := tlv(msg)
	if err != nil {
		return 0, 0, nil, err
	}
	v, ok := parseInt(idb)
	if tag != tagInteger || !ok {
		return 0, 0, nil, fmt.Errorf("%w: messageID", errMalformed)
	}
	tag, content, _, err = tlv(rest)
	if err != nil {
		return 0, 0, nil, err
	}
	if tag&0xc0 != 0x40 {
		return 0, 0, nil, fmt.Errorf("%w: protocolOp tag 0x%02x is not an application tag", errMalformed, tag)
	}
	return int32(v), tag, content, nil
}

// parseEntryDN returns the objectName of a SearchResultEntry's content
// (the attributes are not looked at).
func parseEntryDN(op []byte) ([]byte, error) {
	t, dn, _, err := tlv(op)
	if err != nil || t != tagOctetString {
		return nil, fmt.Errorf("%w: SearchResultEntry objectName", errMalformed)
	}
	return dn, nil
}
