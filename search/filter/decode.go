package filter

import (
	"errors"
	"fmt"
)

// Limits on what Decode accepts. A filter beyond them is refused before
// any work proportional to it is done; the caller answers protocolError.
const (
	// MaxDepth bounds nesting (and, or, not), so that recursion is bounded.
	MaxDepth = 32
	// MaxNodes bounds the number of filter items and operators.
	MaxNodes = 256
	// MaxValueLen bounds each attribute description, matching rule and
	// assertion value (substring pieces included), in octets.
	MaxValueLen = 4096
)

// ErrMalformed is wrapped by every error of Decode for bytes that are not
// a Filter of RFC 4511 §4.5.1.
var ErrMalformed = errors.New("malformed search filter")

// ErrTooComplex is wrapped by every error of Decode for a filter that is
// well-formed as far as read but beyond MaxDepth, MaxNodes or MaxValueLen.
var ErrTooComplex = errors.New("search filter too complex")

// BER identifiers of the Filter CHOICE (context-specific class).
const (
	tagAnd        = 0xa0
	tagOr         = 0xa1
	tagNot        = 0xa2
	tagEquality   = 0xa3
	tagSubstrings = 0xa4
	tagGE         = 0xa5
	tagLE         = 0xa6
	tagPresent    = 0x87
	tagApprox     = 0xa8
	tagExtensible = 0xa9

	tagOctetString = 0x04
	tagSequence    = 0x30

	tagSubInitial = 0x80
	tagSubAny     = 0x81
	tagSubFinal   = 0x82

	tagMRRule  = 0x81
	tagMRType  = 0x82
	tagMRValue = 0x83
	tagMRDN    = 0x84
)

// Decode decodes exactly one Filter (the encoding of the filter field of
// a SearchRequest, identifier octet included) from b. Trailing octets are
// an error. Work and memory are linear in len(b).
func Decode(b []byte) (*Filter, error) {
	d := decoder{}
	tag, body, rest, err := readTLV(b)
	if err != nil {
		return nil, err
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d octets after the filter", ErrMalformed, len(rest))
	}
	return d.filter(tag, body, 0)
}

type decoder struct {
	nodes int
}

// readTLV splits b into its first element's identifier, contents and the
// octets after it. Only single-octet identifiers and definite lengths of
// at most four octets are accepted (RFC 4511 §5.1: definite form only).
func readTLV(b []byte) (tag byte, body, rest []byte, err error) {
	if len(b) < 2 {
		return 0, nil, nil, fmt.Errorf("%w: truncated element", ErrMalformed)
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, nil, fmt.Errorf("%w: multi-octet identifier %#x", ErrMalformed, tag)
	}
	l := int(b[1])
	i := 2
	if l&0x80 != 0 {
		n := l & 0x7f
		if n == 0 {
			return 0, nil, nil, fmt.Errorf("%w: indefinite length", ErrMalformed)
		}
		if n > 4 {
			return 0, nil, nil, fmt.Errorf("%w: length of %d octets", ErrMalformed, n)
		}
		if len(b) < 2+n {
			return 0, nil, nil, fmt.Errorf("%w: truncated length", ErrMalformed)
		}
		l = 0
		for _, c := range b[2 : 2+n] {
			l = l<<8 | int(c)
		}
		i += n
	}
	if l < 0 || l > len(b)-i {
		return 0, nil, nil, fmt.Errorf("%w: element of %d octets in %d", ErrMalformed, l, len(b)-i)
	}
	return tag, b[i : i+l], b[i+l:], nil
}

func (d *decoder) filter(tag byte, body []byte, depth int) (*Filter, error) {
	d.nodes++
	if d.nodes > MaxNodes {
		return nil, fmt.Errorf("%w: more than %d items", ErrTooComplex, MaxNodes)
	}
	switch tag {
	case tagAnd, tagOr:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("%w: nested deeper than %d", ErrTooComplex, MaxDepth)
		}
		f := &Filter{Kind: And}
		if tag == tagOr {
			f.Kind = Or
		}
		for len(body) > 0 {
			t, sb, rest, err := readTLV(body)
			if err != nil {
				return nil, err
			}
			s, err := d.filter(t, sb, depth+1)
			if err != nil {
				return nil, err
			}
			f.Sub = append(f.Sub, s)
			body = rest
		}
		return f, nil
	case tagNot:
		if depth >= MaxDepth {
			return nil, fmt.Errorf("%w: nested deeper than %d", ErrTooComplex, MaxDepth)
		}
		t, sb, rest, err := readTLV(body)
		if err != nil {
			return nil, err
		}
		if len(rest) != 0 {
			return nil, fmt.Errorf("%w: not holds more than one filter", ErrMalformed)
		}
		s, err := d.filter(t, sb, depth+1)
		if err != nil {
			return nil, err
		}
		return &Filter{Kind: Not, Sub: []*Filter{s}}, nil
	case tagEquality, tagGE, tagLE, tagApprox:
		attr, val, err := ava(body)
		if err != nil {
			return nil, err
		}
		// The context tag number is the Kind.
		return &Filter{Kind: Kind(tag & 0x1f), Attr: attr, Value: val}, nil
	case tagSubstrings:
		return substrings(body)
	case tagPresent:
		attr, err := text(body, "attribute description")
		if err != nil {
			return nil, err
		}
		if attr == "" {
			return nil, fmt.Errorf("%w: present with an empty attribute description", ErrMalformed)
		}
		return &Filter{Kind: Present, Attr: attr}, nil
	case tagExtensible:
		return extensible(body)
	}
	return nil, fmt.Errorf("%w: unknown filter choice %#x", ErrMalformed, tag)
}

// text checks a string's length against MaxValueLen.
func text(b []byte, what string) (string, error) {
	if len(b) > MaxValueLen {
		return "", fmt.Errorf("%w: %s of %d octets (at most %d)", ErrTooComplex, what, len(b), MaxValueLen)
	}
	return string(b), nil
}

// octetString reads one OCTET STRING (universal tag 4) from b.
func octetString(b []byte, what string) (string, []byte, error) {
	t, body, rest, err := readTLV(b)
	if err != nil {
		return "", nil, err
	}
	if t != tagOctetString {
		return "", nil, fmt.Errorf("%w: %s has tag %#x, not OCTET STRING", ErrMalformed, what, t)
	}
	s, err := text(body, what)
	return s, rest, err
}

// ava reads the contents of an AttributeValueAssertion.
func ava(body []byte) (string, string, error) {
	attr, rest, err := octetString(body, "attribute description")
	if err != nil {
		return "", "", err
	}
	val, rest, err := octetString(rest, "assertion value")
	if err != nil {
		return "", "", err
	}
	if len(rest) != 0 {
		return "", "", fmt.Errorf("%w: octets after an attribute value assertion", ErrMalformed)
	}
	if attr == "" {
		return "", "", fmt.Errorf("%w: empty attribute description", ErrMalformed)
	}
	return attr, val, nil
}

func substrings(body []byte) (*Filter, error) {
	attr, rest, err := octetString(body, "attribute description")
	if err != nil {
		return nil, err
	}
	if attr == "" {
		return nil, fmt.Errorf("%w: empty attribute description", ErrMalformed)
	}
	t, seq, rest, err := readTLV(rest)
	if err != nil {
		return nil, err
	}
	if t != tagSequence || len(rest) != 0 {
		return nil, fmt.Errorf("%w: substrings is not one SEQUENCE", ErrMalformed)
	}
	f := &Filter{Kind: Substrings, Attr: attr}
	n := 0
	for len(seq) > 0 {
		t, piece, r, err := readTLV(seq)
		if err != nil {
			return nil, err
		}
		seq = r
		v, err := text(piece, "substring")
		if err != nil {
			return nil, err
		}
		if v == "" {
			// RFC 4515 cannot write it and it constrains nothing.
			return nil, fmt.Errorf("%w: empty substring", ErrMalformed)
		}
		if f.HasFinal {
			return nil, fmt.Errorf("%w: substring after final", ErrMalformed)
		}
		switch t {
		case tagSubInitial:
			if n != 0 {
				return nil, fmt.Errorf("%w: initial substring not first", ErrMalformed)
			}
			f.Initial, f.HasInitial = v, true
		case tagSubAny:
			f.Any = append(f.Any, v)
		case tagSubFinal:
			f.Final, f.HasFinal = v, true
		default:
			return nil, fmt.Errorf("%w: unknown substring choice %#x", ErrMalformed, t)
		}
		n++
		// Each piece counts towards the node budget: they are the work.
		if n > MaxNodes {
			return nil, fmt.Errorf("%w: more than %d substrings", ErrTooComplex, MaxNodes)
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("%w: substrings without a substring", ErrMalformed)
	}
	return f, nil
}

func extensible(body []byte) (*Filter, error) {
	f := &Filter{Kind: Extensible}
	last := byte(0)
	hasValue := false
	for len(body) > 0 {
		t, v, rest, err := readTLV(body)
		if err != nil {
			return nil, err
		}
		body = rest
		if t <= last {
			return nil, fmt.Errorf("%w: matching rule assertion fields out of order", ErrMalformed)
		}
		last = t
		switch t {
		case tagMRRule:
			if f.Rule, err = text(v, "matching rule"); err != nil {
				return nil, err
			}
		case tagMRType:
			if f.Attr, err = text(v, "attribute description"); err != nil {
				return nil, err
			}
		case tagMRValue:
			if f.Value, err = text(v, "assertion value"); err != nil {
				return nil, err
			}
			hasValue = true
		case tagMRDN:
			if len(v) != 1 {
				return nil, fmt.Errorf("%w: dnAttributes is not a BOOLEAN", ErrMalformed)
			}
			f.DNAttributes = v[0] != 0
		default:
			return nil, fmt.Errorf("%w: unknown matching rule assertion field %#x", ErrMalformed, t)
		}
	}
	if !hasValue {
		return nil, fmt.Errorf("%w: extensible match without a value", ErrMalformed)
	}
	if f.Rule == "" && f.Attr == "" {
		// RFC 4511 §4.5.1.7.7: one of them must be present.
		return nil, fmt.Errorf("%w: extensible match without a rule or a type", ErrMalformed)
	}
	return f, nil
}
