// Package berlex reads the BER of LDAP messages (RFC 4511 §5.1) in place:
// one element at a time, straight from the bytes of a frame, with each
// definite length checked against what contains it. It builds no tree and
// allocates nothing: an Element's slices alias the input, so a caller
// copies only what it keeps beyond the frame.
//
// Only what RFC 4511 §5.1 allows is read: definite lengths, low tag
// numbers (0–30), no end-of-contents element. Lengths of up to four octets
// are accepted in long form, minimal or not (BER, not DER).
package berlex

import (
	"errors"
	"fmt"
)

// Errors. A structural error wraps ErrMalformed; an element count or a
// nesting over the Limits wraps ErrLimit.
var (
	ErrMalformed = errors.New("malformed BER")
	ErrLimit     = errors.New("BER over a limit")
)

// The bits of an identifier octet (X.690 §8.1.2).
const (
	ClassUniversal   byte = 0x00
	ClassApplication byte = 0x40
	ClassContext     byte = 0x80
	ClassPrivate     byte = 0xc0
	classMask        byte = 0xc0
	Constructed      byte = 0x20
	numberMask       byte = 0x1f
)

// maxLengthOctets bounds the long form: four octets say up to 4 GiB, far
// past any frame the front end accepts.
const maxLengthOctets = 4

// Element is one TLV. Content and TLV alias the bytes it was read from,
// with their capacity cut to their length, so that appending to one
// cannot overwrite what follows.
type Element struct {
	Tag     byte   // the identifier octet: class, constructed bit, number
	Content []byte // the value octets
	TLV     []byte // the whole element, identifier and length included
}

// Class is the element's class bits (ClassUniversal …).
func (e Element) Class() byte { return e.Tag & classMask }

// Constructed reports whether the element holds elements.
func (e Element) Constructed() bool { return e.Tag&Constructed != 0 }

// Number is the tag number, 0–30.
func (e Element) Number() byte { return e.Tag & numberMask }

// Next reads the element at the start of b and returns it and the bytes
// after it. It checks the identifier and the length, not the content.
func Next(b []byte) (Element, []byte, error) {
	if len(b) < 2 {
		return Element{}, nil, fmt.Errorf("truncated element (%d bytes): %w", len(b), ErrMalformed)
	}
	tag := b[0]
	switch {
	case tag == 0:
		return Element{}, nil, fmt.Errorf("end-of-contents element: %w", ErrMalformed)
	case tag&numberMask == numberMask:
		return Element{}, nil, fmt.Errorf("high tag number: %w", ErrMalformed)
	}
	first := b[1]
	p := 2
	var n uint64
	switch {
	case first < 0x80:
		n = uint64(first)
	case first == 0x80:
		return Element{}, nil, fmt.Errorf("indefinite length: %w", ErrMalformed)
	default:
		k := int(first & 0x7f)
		if k > maxLengthOctets {
			return Element{}, nil, fmt.Errorf("%d length octets: %w", k, ErrMalformed)
		}
		if len(b) < p+k {
			return Element{}, nil, fmt.Errorf("truncated length: %w", ErrMalformed)
		}
		for _, c := range b[p : p+k] {
			n = n<<8 | uint64(c)
		}
		p += k
	}
	if n > uint64(len(b)-p) {
		return Element{}, nil, fmt.Errorf("element of %d bytes longer than the %d left: %w", n, len(b)-p, ErrMalformed)
	}
	end := p + int(n)
	return Element{Tag: tag, Content: b[p:end:end], TLV: b[:end:end]}, b[end:], nil
}

// Limits bound the shape of a message for Check.
type Limits struct {
	// MaxDepth is the deepest nesting allowed: the outermost element is at
	// depth 0, the elements in its content at depth 1, and so on.
	MaxDepth int
	// MaxElements is how many elements, all depths counted, b may hold.
	MaxElements int
}

// Check walks b, which must be exactly one element, and every element
// inside its constructed elements. It stops at the first structural error
// or at the first element over lim, so that its cost is bounded by lim
// whatever b holds, and allocates nothing.
func Check(b []byte, lim Limits) error {
	w := walker{lim: lim}
	rest, err := w.element(b, 0)
	if err != nil {
		return err
	}
	if len(rest) != 0 {
		return fmt.Errorf("%d trailing bytes: %w", len(rest), ErrMalformed)
	}
	return nil
}

type walker struct {
	lim Limits
	n   int
}

// ldapUniversal are the universal types RFC 4511's ASN.1 uses: BOOLEAN,
// INTEGER, OCTET STRING, NULL, ENUMERATED, SEQUENCE and SET.
var ldapUniversal = [32]bool{1: true, 2: true, 4: true, 5: true, 10: true, 16: true, 17: true}

func (w *walker) element(b []byte, depth int) ([]byte, error) {
	if depth > w.lim.MaxDepth {
		return nil, fmt.Errorf("nesting deeper than %d: %w", w.lim.MaxDepth, ErrLimit)
	}
	e, rest, err := Next(b)
	if err != nil {
		return nil, err
	}
	if w.n++; w.n > w.lim.MaxElements {
		return nil, fmt.Errorf("more than %d elements: %w", w.lim.MaxElements, ErrLimit)
	}
	if e.Class() == ClassUniversal && !ldapUniversal[e.Number()] {
		// RFC 4511 messages use no other universal type; a REAL or a
		// character string type is a malformed LDAP message, refused
		// here rather than carried unread inside an operation (found by
		// FuzzDecodeMessage: asn1-ber refused such content).
		return nil, fmt.Errorf("universal type %d in an LDAP message: %w", e.Number(), ErrMalformed)
	}
	if e.Constructed() {
		for c := e.Content; len(c) > 0; {
			if c, err = w.element(c, depth+1); err != nil {
				return nil, err
			}
		}
	}
	return rest, nil
}

// Split reads the elements of content, the content of a constructed
// element, into dst, and returns how many there are. More than len(dst)
// is an error.
func Split(content []byte, dst []Element) (int, error) {
	n := 0
	for len(content) > 0 {
		if n == len(dst) {
			return n, fmt.Errorf("more than %d elements: %w", len(dst), ErrMalformed)
		}
		var err error
		if dst[n], content, err = Next(content); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Count returns how many elements content holds, stopping with an
// ErrLimit error once there are more than max.
func Count(content []byte, max int) (int, error) {
	n := 0
	for len(content) > 0 {
		if n == max {
			return n, fmt.Errorf("more than %d elements: %w", max, ErrLimit)
		}
		var err error
		if _, content, err = Next(content); err != nil {
			return n, err
		}
		n++
	}
	return n, nil
}

// Int decodes the content of an INTEGER or ENUMERATED of one to eight
// octets, two's complement.
func Int(content []byte) (int64, error) {
	if len(content) == 0 || len(content) > 8 {
		return 0, fmt.Errorf("integer of %d octets: %w", len(content), ErrMalformed)
	}
	v := int64(int8(content[0])) // sign-extends
	for _, c := range content[1:] {
		v = v<<8 | int64(c)
	}
	return v, nil
}

// Bool decodes the content of a BOOLEAN: one octet, zero is false.
func Bool(content []byte) (bool, error) {
	if len(content) != 1 {
		return false, fmt.Errorf("BOOLEAN of %d octets: %w", len(content), ErrMalformed)
	}
	return content[0] != 0, nil
}
