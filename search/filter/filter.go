// Package filter is the LDAP search filter (RFC 4511 §4.5.1): its model, a
// bounded decoder from the BER a client sends, its string form (RFC 4515)
// for logs and tests, and an evaluator over an entry with RFC 4511's
// three-valued logic.
//
// The package is neutral: it knows neither the LDAP front end, the
// backends, the configuration nor HTTP, so that the front end (decoding),
// the backends' translators (search/pushdown and restback/.../dirfilter,
// scimfilter) and the bridge (evaluation of what a backend cannot express)
// share one model.
package filter

import (
	"strings"
	"unicode/utf8"
)

// Kind is the CHOICE alternative of a Filter (RFC 4511 §4.5.1).
type Kind uint8

// The alternatives, in the order of their context tags [0]..[9].
const (
	And Kind = iota
	Or
	Not
	Equality
	Substrings
	GreaterOrEqual
	LessOrEqual
	Present
	Approx
	Extensible
)

var kindNames = [...]string{"and", "or", "not", "equalityMatch", "substrings",
	"greaterOrEqual", "lessOrEqual", "present", "approxMatch", "extensibleMatch"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// Filter is one node of a search filter. Which fields are set depends on
// Kind:
//
//   - And, Or: Sub (possibly empty: RFC 4526's absolute true and false);
//   - Not: Sub[0];
//   - Equality, GreaterOrEqual, LessOrEqual, Approx: Attr, Value;
//   - Substrings: Attr and at least one of Initial, Any, Final (each
//     non-empty; HasInitial/HasFinal say whether Initial/Final are present);
//   - Present: Attr;
//   - Extensible: Value and at least one of Rule and Attr; DNAttributes.
//
// Values are the octets the client sent, held in a string; they need not
// be UTF-8.
type Filter struct {
	Kind         Kind
	Sub          []*Filter
	Attr         string
	Value        string
	Initial      string
	HasInitial   bool
	Any          []string
	Final        string
	HasFinal     bool
	Rule         string
	DNAttributes bool
}

// String returns the RFC 4515 form of f, with every octet that is not safe
// in a log line (controls, invalid UTF-8) and every filter metacharacter
// escaped as \XX, so that the string can neither break a log line nor be
// mistaken for another filter.
func (f *Filter) String() string {
	var b strings.Builder
	f.write(&b)
	return b.String()
}

func (f *Filter) write(b *strings.Builder) {
	b.WriteByte('(')
	switch f.Kind {
	case And, Or:
		if f.Kind == And {
			b.WriteByte('&')
		} else {
			b.WriteByte('|')
		}
		for _, s := range f.Sub {
			s.write(b)
		}
	case Not:
		b.WriteByte('!')
		if len(f.Sub) == 1 {
			f.Sub[0].write(b)
		}
	case Equality, GreaterOrEqual, LessOrEqual, Approx:
		writeAttr(b, f.Attr)
		b.WriteString([...]string{Equality: "=", GreaterOrEqual: ">=", LessOrEqual: "<=", Approx: "~="}[f.Kind])
		writeValue(b, f.Value)
	case Substrings:
		writeAttr(b, f.Attr)
		b.WriteByte('=')
		if f.HasInitial {
			writeValue(b, f.Initial)
		}
		b.WriteByte('*')
		for _, a := range f.Any {
			writeValue(b, a)
			b.WriteByte('*')
		}
		if f.HasFinal {
			writeValue(b, f.Final)
		}
	case Present:
		writeAttr(b, f.Attr)
		b.WriteString("=*")
	case Extensible:
		writeAttr(b, f.Attr)
		if f.DNAttributes {
			b.WriteString(":dn")
		}
		if f.Rule != "" {
			b.WriteByte(':')
			writeAttr(b, f.Rule)
		}
		b.WriteString(":=")
		writeValue(b, f.Value)
	}
	b.WriteByte(')')
}

const hexDigits = "0123456789abcdef"

func writeHex(b *strings.Builder, c byte) {
	b.WriteByte('\\')
	b.WriteByte(hexDigits[c>>4])
	b.WriteByte(hexDigits[c&15])
}

// writeAttr writes an attribute description or matching rule; anything
// outside the characters RFC 4512 allows there is escaped so that a
// malformed description cannot change the shape of the string.
func writeAttr(b *strings.Builder, s string) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if isKeychar(c) || c == ';' || c == '.' {
			b.WriteByte(c)
		} else {
			writeHex(b, c)
		}
	}
}

// writeValue writes an assertion value per RFC 4515 (escaping *, (, ), \
// and NUL), and escapes controls and invalid UTF-8 as well.
func writeValue(b *strings.Builder, s string) {
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == '*' || c == '(' || c == ')' || c == '\\' || c < 0x20 || c == 0x7f:
			writeHex(b, c)
			i++
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError || r == 0x2028 || r == 0x2029 || (r >= 0x80 && r < 0xa0) {
				for j := 0; j < n; j++ {
					writeHex(b, s[i+j])
				}
			} else {
				b.WriteString(s[i : i+n])
			}
			i += n
		}
	}
}

func isKeychar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-'
}

// Size is the number of nodes of f.
func (f *Filter) Size() int {
	n := 1
	for _, s := range f.Sub {
		n += s.Size()
	}
	return n
}
