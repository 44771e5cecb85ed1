package ldapfront

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	ber "github.com/go-asn1-ber/asn1-ber"
)

// Errors of the framing layer. errMalformed and errTooLarge end the
// connection with a Notice of Disconnection (protocolError).
var (
	errMalformed = errors.New("malformed LDAP message")
	errTooLarge  = errors.New("LDAP message larger than the limit")
)

// maxDepth bounds BER nesting; LDAP messages are shallow except for
// filters, and nothing the bridge accepts needs more.
const maxDepth = 64

// readFrame reads the rest of one LDAPMessage whose first byte (tag) has
// already been read: a definite BER length of at most max bytes, then
// exactly that many content bytes. It returns the whole TLV. The length is
// checked before anything is allocated, so a hostile length prefix costs
// nothing.
func readFrame(r *bufio.Reader, tag byte, max int) ([]byte, error) {
	if tag != tagSequence {
		return nil, fmt.Errorf("read message: tag 0x%02x is not a SEQUENCE: %w", tag, errMalformed)
	}
	var hdr [10]byte
	hdr[0] = tag
	first, err := r.ReadByte()
	if err != nil {
		return nil, fmt.Errorf("read message length: %w", eofIsUnexpected(err))
	}
	hdr[1] = first
	hl := 2
	var n uint64
	switch {
	case first < 0x80:
		n = uint64(first)
	case first == 0x80:
		return nil, fmt.Errorf("read message: indefinite length: %w", errMalformed)
	case first == 0xff:
		return nil, fmt.Errorf("read message: length byte 0xff: %w", errMalformed)
	default:
		k := int(first & 0x7f)
		if k > 8 {
			return nil, fmt.Errorf("read message: %d length octets: %w", k, errMalformed)
		}
		for i := 0; i < k; i++ {
			b, err := r.ReadByte()
			if err != nil {
				return nil, fmt.Errorf("read message length: %w", eofIsUnexpected(err))
			}
			hdr[hl] = b
			hl++
			n = n<<8 | uint64(b)
			if n > uint64(max) {
				return nil, fmt.Errorf("read message: length over %d bytes: %w", max, errTooLarge)
			}
		}
	}
	if n > uint64(max) {
		return nil, fmt.Errorf("read message: length %d over %d bytes: %w", n, max, errTooLarge)
	}
	buf := make([]byte, hl+int(n))
	copy(buf, hdr[:hl])
	if _, err := io.ReadFull(r, buf[hl:]); err != nil {
		return nil, fmt.Errorf("read message body: %w", eofIsUnexpected(err))
	}
	return buf, nil
}

func eofIsUnexpected(err error) error {
	if errors.Is(err, io.EOF) {
		return io.ErrUnexpectedEOF
	}
	return err
}

// checkBER walks b, which must hold exactly one TLV, and rejects what
// RFC 4511 §5.1 forbids and asn1-ber would accept: indefinite lengths,
// high tag numbers, trailing bytes, and nesting deeper than maxDepth.
func checkBER(b []byte) error {
	rest, err := checkTLV(b, 0)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes: %w", len(rest), errMalformed)
	}
	return nil
}

func checkTLV(b []byte, depth int) ([]byte, error) {
	if depth > maxDepth {
		return nil, fmt.Errorf("nesting deeper than %d: %w", maxDepth, errMalformed)
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("truncated element: %w", errMalformed)
	}
	tag := b[0]
	if tag&0x1f == 0x1f {
		return nil, fmt.Errorf("high tag number: %w", errMalformed)
	}
	if tag == 0 {
		return nil, fmt.Errorf("end-of-contents element: %w", errMalformed)
	}
	l := int(b[1])
	p := 2
	switch {
	case l == 0x80:
		return nil, fmt.Errorf("indefinite length: %w", errMalformed)
	case l > 0x80:
		k := l & 0x7f
		if k > 4 || len(b) < 2+k {
			return nil, fmt.Errorf("bad length: %w", errMalformed)
		}
		l = 0
		for _, c := range b[2 : 2+k] {
			l = l<<8 | int(c)
		}
		p += k
	}
	if l > len(b)-p {
		return nil, fmt.Errorf("element longer than its container: %w", errMalformed)
	}
	content := b[p : p+l]
	if tag&0x20 != 0 {
		for len(content) > 0 {
			var err error
			if content, err = checkTLV(content, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return b[p+l:], nil
}

// decodeBER checks b strictly, then decodes it with asn1-ber.
func decodeBER(b []byte) (*ber.Packet, error) {
	if err := checkBER(b); err != nil {
		return nil, err
	}
	p, err := ber.DecodePacketErr(b)
	if err != nil {
		return nil, fmt.Errorf("decode BER: %v: %w", err, errMalformed)
	}
	return p, nil
}

// message is a decoded LDAPMessage envelope.
type message struct {
	id       int64
	op       *ber.Packet
	tag      byte // the protocolOp identifier byte, e.g. 0x60 for BindRequest
	controls []reqControl
	packet   *ber.Packet
}

// reqControl is one request control.
type reqControl struct {
	oid      string
	critical bool
	value    []byte // nil when absent
}

// decodeMessage decodes one LDAPMessage (RFC 4511 §4.1.1). Any error wraps
// errMalformed: the connection cannot be trusted to stay in step.
func decodeMessage(b []byte) (*message, error) {
	p, err := decodeBER(b)
	if err != nil {
		return nil, err
	}
	if !isUniversal(p, ber.TypeConstructed, ber.TagSequence) || len(p.Children) < 2 || len(p.Children) > 3 {
		return nil, fmt.Errorf("LDAPMessage is not SEQUENCE { messageID, protocolOp, controls? }: %w", errMalformed)
	}
	idp := p.Children[0]
	if !isUniversal(idp, ber.TypePrimitive, ber.TagInteger) {
		return nil, fmt.Errorf("messageID is not an INTEGER: %w", errMalformed)
	}
	id, err := parseInt(idp.Data.Bytes())
	if err != nil || id < 1 || id > maxMessageID {
		// 0 is reserved for unsolicited notifications (RFC 4511 §4.1.1.1).
		return nil, fmt.Errorf("messageID out of range: %w", errMalformed)
	}
	op := p.Children[1]
	if op.ClassType != ber.ClassApplication || op.Tag > 30 {
		return nil, fmt.Errorf("protocolOp is not an APPLICATION element: %w", errMalformed)
	}
	m := &message{id: id, op: op, tag: byte(op.ClassType) | byte(op.TagType) | byte(op.Tag), packet: p}
	if len(p.Children) == 3 {
		m.controls, err = decodeControls(p.Children[2])
		if err != nil {
			return nil, err
		}
	}
	return m, nil
}

const maxMessageID = 1<<31 - 1

func decodeControls(p *ber.Packet) ([]reqControl, error) {
	if p.ClassType != ber.ClassContext || p.TagType != ber.TypeConstructed || p.Tag != 0 {
		return nil, fmt.Errorf("controls are not [0] SEQUENCE OF Control: %w", errMalformed)
	}
	out := make([]reqControl, 0, len(p.Children))
	for _, c := range p.Children {
		if !isUniversal(c, ber.TypeConstructed, ber.TagSequence) || len(c.Children) < 1 || len(c.Children) > 3 {
			return nil, fmt.Errorf("control is not a SEQUENCE: %w", errMalformed)
		}
		if !isUniversal(c.Children[0], ber.TypePrimitive, ber.TagOctetString) {
			return nil, fmt.Errorf("controlType is not an OCTET STRING: %w", errMalformed)
		}
		rc := reqControl{oid: c.Children[0].Data.String()}
		rest := c.Children[1:]
		if len(rest) > 0 && isUniversal(rest[0], ber.TypePrimitive, ber.TagBoolean) {
			v := rest[0].Data.Bytes()
			if len(v) != 1 {
				return nil, fmt.Errorf("criticality is not a one-octet BOOLEAN: %w", errMalformed)
			}
			rc.critical = v[0] != 0
			rest = rest[1:]
		}
		if len(rest) > 0 {
			if !isUniversal(rest[0], ber.TypePrimitive, ber.TagOctetString) {
				return nil, fmt.Errorf("controlValue is not an OCTET STRING: %w", errMalformed)
			}
			rc.value = append([]byte{}, rest[0].Data.Bytes()...)
			rest = rest[1:]
		}
		if len(rest) > 0 {
			return nil, fmt.Errorf("control has extra elements: %w", errMalformed)
		}
		out = append(out, rc)
	}
	return out, nil
}

func isUniversal(p *ber.Packet, typ ber.Type, tag ber.Tag) bool {
	return p.ClassType == ber.ClassUniversal && p.TagType == typ && p.Tag == tag
}

func isContext(p *ber.Packet, typ ber.Type, tag ber.Tag) bool {
	return p.ClassType == ber.ClassContext && p.TagType == typ && p.Tag == tag
}

// parseInt decodes a BER INTEGER or ENUMERATED content.
func parseInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 8 {
		return 0, fmt.Errorf("integer of %d octets: %w", len(b), errMalformed)
	}
	return ber.ParseInt64(b)
}

// wipePacket zeroes every buffer asn1-ber made while decoding p, which
// each hold a copy of the request's passwords.
func wipePacket(p *ber.Packet) {
	if p == nil {
		return
	}
	if p.Data != nil {
		clear(p.Data.Bytes())
	}
	clear(p.ByteValue)
	for _, c := range p.Children {
		wipePacket(c)
	}
}
