package pwcontrol

import "unicode/utf8"

// maxLenOctets bounds the lengths the reader accepts: a control value is part of
// one LDAP message, and 4 length octets are more than any message limit.
const maxLenOctets = 4

// reader walks the elements of one constructed element's content. It only
// ever slices its input, so no length field can make it allocate.
type reader struct {
	b  []byte
	op string // names the structure being read, for errors
}

func (r *reader) empty() bool { return len(r.b) == 0 }

// peek returns the next element's tag without consuming it.
func (r *reader) peek() (byte, bool) {
	if len(r.b) == 0 {
		return 0, false
	}
	return r.b[0], true
}

// next reads one element with a definite, minimally encoded length.
func (r *reader) next() (tag byte, content []byte, err error) {
	b := r.b
	if len(b) < 2 {
		return 0, nil, malformed(r.op, "truncated element")
	}
	tag = b[0]
	if tag&0x1f == 0x1f {
		return 0, nil, malformed(r.op, "multi-octet tag %#02x", tag)
	}
	l := int(b[1])
	b = b[2:]
	if l >= 0x80 {
		k := l & 0x7f
		switch {
		case k == 0:
			return 0, nil, malformed(r.op, "indefinite length in element %#02x", tag)
		case k > maxLenOctets:
			return 0, nil, malformed(r.op, "length of element %#02x too large", tag)
		case len(b) < k:
			return 0, nil, malformed(r.op, "truncated length in element %#02x", tag)
		case b[0] == 0:
			return 0, nil, malformed(r.op, "non-minimal length in element %#02x", tag)
		}
		var ul uint64
		for _, c := range b[:k] {
			ul = ul<<8 | uint64(c)
		}
		if k == 1 && ul < 0x80 {
			return 0, nil, malformed(r.op, "non-minimal length in element %#02x", tag)
		}
		b = b[k:]
		if ul > uint64(len(b)) {
			return 0, nil, malformed(r.op, "element %#02x claims %d octets, %d remain", tag, ul, len(b))
		}
		l = int(ul)
	}
	if l > len(b) {
		return 0, nil, malformed(r.op, "element %#02x claims %d octets, %d remain", tag, l, len(b))
	}
	r.b = b[l:]
	return tag, b[:l], nil
}

// expect reads one element and checks its tag.
func (r *reader) expect(want byte, what string) ([]byte, error) {
	tag, content, err := r.next()
	if err != nil {
		return nil, err
	}
	if tag != want {
		return nil, malformed(r.op, "%s: tag %#02x, want %#02x", what, tag, want)
	}
	return content, nil
}

// only reads the single element that must make up all of b.
func only(b []byte, want byte, op, what string) ([]byte, error) {
	r := reader{b: b, op: op}
	content, err := r.expect(want, what)
	if err != nil {
		return nil, err
	}
	if !r.empty() {
		return nil, malformed(op, "%d octets after %s", len(r.b), what)
	}
	return content, nil
}

// parseCount decodes a minimal INTEGER and checks it is in [0, MaxCount].
func parseCount(c []byte, op, what string) (int64, error) {
	if len(c) == 0 {
		return 0, malformed(op, "%s: empty INTEGER", what)
	}
	if len(c) > 1 && ((c[0] == 0 && c[1]&0x80 == 0) || (c[0] == 0xff && c[1]&0x80 != 0)) {
		return 0, malformed(op, "%s: non-minimal INTEGER", what)
	}
	if c[0]&0x80 != 0 || len(c) > 5 {
		return 0, malformed(op, "%s: out of range", what)
	}
	var v int64
	for _, o := range c {
		v = v<<8 | int64(o)
	}
	if v > MaxCount {
		return 0, malformed(op, "%s: out of range", what)
	}
	return v, nil
}

// parseTrue accepts only the encoding of a DEFAULT FALSE BOOLEAN that is
// present: TRUE as 0xFF (FALSE is left out by the encoder).
func parseTrue(c []byte, op, what string) error {
	if len(c) != 1 || c[0] != 0xff {
		return malformed(op, "%s: BOOLEAN must be TRUE (0xff) when present", what)
	}
	return nil
}

func parseBool(c []byte, op, what string) (bool, error) {
	if len(c) != 1 || (c[0] != 0 && c[0] != 0xff) {
		return false, malformed(op, "%s: BOOLEAN is neither 0x00 nor 0xff", what)
	}
	return c[0] == 0xff, nil
}

// parseString returns an OCTET STRING's content as text; the reference
// implementation treats all of these strings as UTF-8, and the JSON form
// cannot carry anything else without loss.
func parseString(c []byte, op, what string) (string, error) {
	if !utf8.Valid(c) {
		return "", malformed(op, "%s: not UTF-8", what)
	}
	return string(c), nil
}
