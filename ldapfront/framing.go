package ldapfront

import (
	"bufio"
	"errors"
	"fmt"
	"io"

	"github.com/ldapbridge/ldapbridge/ldapfront/internal/berlex"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

// Errors of the framing layer. errMalformed and errTooLarge end the
// connection with a Notice of Disconnection (protocolError); so does
// errTooComplex, a message over the structure limits below, which wraps
// errMalformed.
var (
	errMalformed  = errors.New("malformed LDAP message")
	errTooLarge   = errors.New("LDAP message larger than the limit")
	errTooComplex = fmt.Errorf("LDAP message over the structure limits: %w", errMalformed)
)

// Structure limits of one LDAPMessage, checked before anything is
// decoded, so that what a message costs beyond its own bytes is bounded
// by them and not by what it holds (half a million empty elements fit in
// 1 MB). Nothing the bridge accepts comes near: a bind is 6 elements, a
// Password Modify 9, a root DSE search with a few attributes 20, each
// control up to 4 more.
const (
	// maxDepth bounds BER nesting; LDAP messages are shallow except for
	// filters.
	maxDepth = 64
	// maxElements bounds the elements of a message, all depths counted.
	maxElements = 4096
	// maxControls bounds the controls of a message. slapd knows about 40
	// and a client sends at most a few.
	maxControls = 32
)

var messageLimits = berlex.Limits{MaxDepth: maxDepth, MaxElements: maxElements}

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

// berError turns an error of the reader into one of the framing layer.
func berError(what string, err error) error {
	if errors.Is(err, berlex.ErrLimit) {
		return fmt.Errorf("%s: %v: %w", what, err, errTooComplex)
	}
	return fmt.Errorf("%s: %v: %w", what, err, errMalformed)
}

// message is a decoded LDAPMessage envelope. Its elements alias the frame
// it was decoded from.
type message struct {
	id       int64
	op       berlex.Element
	tag      byte // the protocolOp identifier byte, e.g. 0x60 for BindRequest
	controls []reqControl
}

// reqControl is one request control.
type reqControl struct {
	oid      string
	critical bool
	value    []byte // nil when absent; a copy
}

// decodeMessage decodes one LDAPMessage (RFC 4511 §4.1.1) from b, its
// frame: the whole of b is checked against the structure limits first,
// then the envelope and the controls are read. The protocolOp is left to
// the decoder of its type. Any error wraps errMalformed: the connection
// cannot be trusted to stay in step.
func decodeMessage(b []byte) (*message, error) {
	if err := berlex.Check(b, messageLimits); err != nil {
		return nil, berError("LDAPMessage", err)
	}
	env, _, err := berlex.Next(b)
	if err != nil || env.Tag != tagSequence {
		return nil, fmt.Errorf("LDAPMessage is not a SEQUENCE: %w", errMalformed)
	}
	var parts [3]berlex.Element
	n, err := berlex.Split(env.Content, parts[:])
	if err != nil || n < 2 {
		return nil, fmt.Errorf("LDAPMessage is not SEQUENCE { messageID, protocolOp, controls? }: %w", errMalformed)
	}
	if parts[0].Tag != tagInteger {
		return nil, fmt.Errorf("messageID is not an INTEGER: %w", errMalformed)
	}
	id, err := parseInt(parts[0].Content)
	if err != nil || id < 1 || id > maxMessageID {
		// 0 is reserved for unsolicited notifications (RFC 4511 §4.1.1.1).
		return nil, fmt.Errorf("messageID out of range: %w", errMalformed)
	}
	op := parts[1]
	if op.Class() != berlex.ClassApplication {
		return nil, fmt.Errorf("protocolOp is not an APPLICATION element: %w", errMalformed)
	}
	m := &message{id: id, op: op, tag: op.Tag}
	if n == 3 {
		if m.controls, err = decodeControls(parts[2]); err != nil {
			return nil, err
		}
	}
	return m, nil
}

const maxMessageID = 1<<31 - 1

// decodeControls decodes
//
//	Controls ::= SEQUENCE OF control Control
//	Control ::= SEQUENCE {
//	  controlType  LDAPOID,
//	  criticality  BOOLEAN DEFAULT FALSE,
//	  controlValue OCTET STRING OPTIONAL }
//
// after counting them, so that more than maxControls costs nothing.
func decodeControls(e berlex.Element) ([]reqControl, error) {
	if e.Tag != tagControls {
		return nil, fmt.Errorf("controls are not [0] SEQUENCE OF Control: %w", errMalformed)
	}
	n, err := berlex.Count(e.Content, maxControls)
	if err != nil {
		return nil, berError(fmt.Sprintf("controls (at most %d)", maxControls), err)
	}
	out := make([]reqControl, 0, n)
	for rest := e.Content; len(rest) > 0; {
		var c berlex.Element
		if c, rest, err = berlex.Next(rest); err != nil {
			return nil, berError("control", err)
		}
		var parts [3]berlex.Element
		k, err := berlex.Split(c.Content, parts[:])
		if err != nil || c.Tag != tagSequence || k < 1 {
			return nil, fmt.Errorf("control is not a SEQUENCE: %w", errMalformed)
		}
		if parts[0].Tag != tagOctetString {
			return nil, fmt.Errorf("controlType is not an OCTET STRING: %w", errMalformed)
		}
		rc := reqControl{oid: controlOID(parts[0].Content)}
		more := parts[1:k]
		if len(more) > 0 && more[0].Tag == tagBoolean {
			if rc.critical, err = berlex.Bool(more[0].Content); err != nil {
				return nil, fmt.Errorf("criticality is not a one-octet BOOLEAN: %w", errMalformed)
			}
			more = more[1:]
		}
		if len(more) > 0 {
			if more[0].Tag != tagOctetString {
				return nil, fmt.Errorf("controlValue is not an OCTET STRING: %w", errMalformed)
			}
			// A copy: the controls outlive the frame, which is wiped.
			rc.value = append([]byte{}, more[0].Content...)
			more = more[1:]
		}
		if len(more) > 0 {
			return nil, fmt.Errorf("control has extra elements: %w", errMalformed)
		}
		out = append(out, rc)
	}
	return out, nil
}

// knownControls are the control OIDs clients send most; decoding one of
// them costs no allocation.
var knownControls = [...]string{
	pwcontrol.OIDPasswordPolicy,
	pwcontrol.OIDValidationDetailsRequest,
}

func controlOID(b []byte) string {
	for _, k := range knownControls {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

// parseInt decodes a BER INTEGER or ENUMERATED content.
func parseInt(b []byte) (int64, error) {
	v, err := berlex.Int(b)
	if err != nil {
		return 0, fmt.Errorf("%v: %w", err, errMalformed)
	}
	return v, nil
}
