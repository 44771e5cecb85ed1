// Package ber holds the BER primitives every encoder in the module writes
// with: definite lengths in their shortest form, and INTEGERs in the
// fewest two's complement octets. These are the only forms LDAP allows
// (RFC 4511 §5.1), and one copy means one place to get them right.
//
// The package imports only the standard library, so the neutral codecs
// (pwcontrol, search/filter) and the front end can all use it.
package ber

// LengthSize is the number of octets the definite, minimal length n takes.
// n must not be negative.
func LengthSize(n int) int {
	if n < 0x80 {
		return 1
	}
	k := 1
	for v := n; v > 0; v >>= 8 {
		k++
	}
	return k
}

// TLVSize is the size of an element whose content is n octets long (a
// one-octet identifier, the length, the content).
func TLVSize(n int) int { return 1 + LengthSize(n) + n }

// AppendLength appends the definite length n in its shortest form: one
// octet below 0x80, else 0x80|k followed by k big-endian octets with no
// leading zero. n must not be negative.
func AppendLength(dst []byte, n int) []byte {
	if n < 0x80 {
		return append(dst, byte(n))
	}
	k := LengthSize(n) - 1
	dst = append(dst, 0x80|byte(k))
	for i := k - 1; i >= 0; i-- {
		dst = append(dst, byte(n>>(8*i)))
	}
	return dst
}

// AppendHeader appends the identifier tag and the length n of content the
// caller appends next.
func AppendHeader(dst []byte, tag byte, n int) []byte {
	return AppendLength(append(dst, tag), n)
}

// AppendString appends a primitive element whose content is s.
func AppendString(dst []byte, tag byte, s string) []byte {
	return append(AppendHeader(dst, tag, len(s)), s...)
}

// AppendBytes appends an element whose content is b.
func AppendBytes(dst []byte, tag byte, b []byte) []byte {
	return append(AppendHeader(dst, tag, len(b)), b...)
}

// IntSize is the length of the minimal two's complement content of v: the
// fewest octets whose first nine bits are not all equal.
func IntSize(v int64) int {
	n := 1
	for v > 127 || v < -128 {
		v >>= 8
		n++
	}
	return n
}

// AppendInt appends an INTEGER or ENUMERATED (by tag) holding v in the
// fewest octets.
func AppendInt(dst []byte, tag byte, v int64) []byte {
	n := IntSize(v)
	dst = append(dst, tag, byte(n))
	for i := n - 1; i >= 0; i-- {
		dst = append(dst, byte(v>>(8*i)))
	}
	return dst
}
