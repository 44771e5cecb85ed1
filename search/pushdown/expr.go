// Package pushdown turns an LDAP search filter into the filter of a backend
// whose language is SCIM-like (RFC 7644 §3.4.2.2: attr op "value", and, or,
// not, parentheses): PingDirectory's Directory REST API and PingOne's users
// list. What a backend cannot express is widened, never narrowed: the
// backend filter always matches a superset of the entries the LDAP filter
// matches, and the bridge evaluates the LDAP filter on what comes back.
//
// The backend-specific knowledge (which attributes, which operators, the
// documentation it comes from) lives in restback/pingdirectory/dirfilter and
// restback/pingone/scimfilter; this package is the shared, neutral machinery.
package pushdown

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Op is a comparison or logical operator of the backend language.
type Op string

// The operators of RFC 7644 §3.4.2.2 (the translators emit eq, sw, ew, co,
// ge, le, pr, and, or, not; the reference parser reads them all).
const (
	Eq  Op = "eq"
	Ne  Op = "ne"
	Co  Op = "co"
	Sw  Op = "sw"
	Ew  Op = "ew"
	Pr  Op = "pr"
	Gt  Op = "gt"
	Ge  Op = "ge"
	Lt  Op = "lt"
	Le  Op = "le"
	And Op = "and"
	Or  Op = "or"
	Not Op = "not"
)

var comparisons = map[string]Op{"eq": Eq, "ne": Ne, "co": Co, "sw": Sw, "ew": Ew, "pr": Pr, "gt": Gt, "ge": Ge, "lt": Lt, "le": Le}

// Expr is a backend filter expression.
type Expr struct {
	Op    Op
	Attr  string  // comparisons and pr
	Value string  // comparisons other than pr
	Sub   []*Expr // and, or (two or more), not (one)
}

// String renders e. Every value is a JSON string (RFC 7644 §3.4.2.2:
// compValue is a JSON value), so quotes, backslashes and control
// characters are escaped and nothing inside a value, the words and, or,
// not or parentheses included, can reach the filter's structure. Compound
// operands are parenthesized.
func (e *Expr) String() string {
	var b strings.Builder
	e.write(&b)
	return b.String()
}

func (e *Expr) write(b *strings.Builder) {
	switch e.Op {
	case And, Or:
		for i, s := range e.Sub {
			if i > 0 {
				b.WriteByte(' ')
				b.WriteString(string(e.Op))
				b.WriteByte(' ')
			}
			s.writeOperand(b)
		}
	case Not:
		b.WriteString("not (")
		if len(e.Sub) == 1 {
			e.Sub[0].write(b)
		}
		b.WriteByte(')')
	case Pr:
		b.WriteString(e.Attr)
		b.WriteString(" pr")
	default:
		b.WriteString(e.Attr)
		b.WriteByte(' ')
		b.WriteString(string(e.Op))
		b.WriteByte(' ')
		b.WriteString(Quote(e.Value))
	}
}

func (e *Expr) writeOperand(b *strings.Builder) {
	if e.Op == And || e.Op == Or {
		b.WriteByte('(')
		e.write(b)
		b.WriteByte(')')
		return
	}
	e.write(b)
}

// Quote returns v as a JSON string literal. v must be valid UTF-8 (the
// translators never send other values). Controls, DEL and the two JSON-
// unsafe line separators are written as \u escapes, so the literal is one
// line of printable text.
func Quote(v string) string {
	var b strings.Builder
	b.Grow(len(v) + 2)
	b.WriteByte('"')
	for _, r := range v {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f || r == 0x2028 || r == 0x2029 || r == utf8.RuneError:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// ValidAttr reports whether a is a backend attribute path the translators
// may write unquoted: a letter, then letters, digits and - _ . : $ (the
// characters of an attribute path token in RFC 7644's ABNF and in Ping's
// SCIM 2 SDK filter tokenizer).
func ValidAttr(a string) bool {
	if a == "" || len(a) > 128 {
		return false
	}
	for i := 0; i < len(a); i++ {
		c := a[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
		if i == 0 && !letter {
			return false
		}
		if !letter && !(c >= '0' && c <= '9') && !strings.ContainsRune("-_.:$", rune(c)) {
			return false
		}
	}
	// A keyword where an attribute stands would be ambiguous.
	switch strings.ToLower(a) {
	case "and", "or", "not":
		return false
	}
	return true
}

// ErrSyntax is wrapped by every error of Parse.
var ErrSyntax = errors.New("invalid backend filter")

// Parse limits: the reference parser is used on translator output and in
// tests and fuzzing; it must stay bounded on any input.
const (
	maxParseLen   = 1 << 16
	maxParseDepth = 64
)

// Parse reads a filter in the language String writes (and the rest of
// RFC 7644's comparison operators, keywords in any case, runs of spaces).
// Values must be JSON strings. It is the reference parser the translators'
// tests and fuzz targets check their output against.
func Parse(s string) (*Expr, error) {
	if len(s) > maxParseLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrSyntax, maxParseLen)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrSyntax)
	}
	p := &parser{s: s}
	e, err := p.or(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("%w: unexpected text at offset %d", ErrSyntax, p.i)
	}
	return e, nil
}

type parser struct {
	s string
	i int
}

func (p *parser) space() int {
	n := 0
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
		n++
	}
	return n
}

// keyword consumes w (any case) if it stands at the cursor followed by a
// space or, when paren is true, by '('.
func (p *parser) keyword(w string, paren bool) bool {
	save := p.i
	p.space()
	end := p.i + len(w)
	if end <= len(p.s) && strings.EqualFold(p.s[p.i:end], w) &&
		(end < len(p.s) && (p.s[end] == ' ' || paren && p.s[end] == '(')) {
		p.i = end
		return true
	}
	p.i = save
	return false
}

func (p *parser) or(depth int) (*Expr, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	subs := []*Expr{left}
	for p.keyword("or", true) {
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		subs = append(subs, right)
	}
	if len(subs) == 1 {
		return left, nil
	}
	return &Expr{Op: Or, Sub: subs}, nil
}

func (p *parser) and(depth int) (*Expr, error) {
	left, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	subs := []*Expr{left}
	for p.keyword("and", true) {
		right, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		subs = append(subs, right)
	}
	if len(subs) == 1 {
		return left, nil
	}
	return &Expr{Op: And, Sub: subs}, nil
}

func (p *parser) group(depth int) (*Expr, error) {
	if depth >= maxParseDepth {
		return nil, fmt.Errorf("%w: nested deeper than %d", ErrSyntax, maxParseDepth)
	}
	p.i++ // '('
	e, err := p.or(depth + 1)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i >= len(p.s) || p.s[p.i] != ')' {
		return nil, fmt.Errorf("%w: missing ')' at offset %d", ErrSyntax, p.i)
	}
	p.i++
	return e, nil
}

func (p *parser) term(depth int) (*Expr, error) {
	if p.keyword("not", true) {
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != '(' {
			return nil, fmt.Errorf("%w: not without '(' at offset %d", ErrSyntax, p.i)
		}
		e, err := p.group(depth)
		if err != nil {
			return nil, err
		}
		return &Expr{Op: Not, Sub: []*Expr{e}}, nil
	}
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		return p.group(depth)
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != '(' && p.s[p.i] != ')' {
		p.i++
	}
	attr := p.s[start:p.i]
	if !ValidAttr(attr) {
		return nil, fmt.Errorf("%w: %q is not an attribute at offset %d", ErrSyntax, attr, start)
	}
	if p.space() == 0 {
		return nil, fmt.Errorf("%w: expected an operator at offset %d", ErrSyntax, p.i)
	}
	start = p.i
	for p.i < len(p.s) && p.s[p.i] != ' ' && p.s[p.i] != ')' {
		p.i++
	}
	op, ok := comparisons[strings.ToLower(p.s[start:p.i])]
	if !ok {
		return nil, fmt.Errorf("%w: unknown operator %q at offset %d", ErrSyntax, p.s[start:p.i], start)
	}
	if op == Pr {
		return &Expr{Op: Pr, Attr: attr}, nil
	}
	if p.space() == 0 {
		return nil, fmt.Errorf("%w: expected a value at offset %d", ErrSyntax, p.i)
	}
	v, err := p.str()
	if err != nil {
		return nil, err
	}
	return &Expr{Op: op, Attr: attr, Value: v}, nil
}

// str reads a JSON string literal.
func (p *parser) str() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", fmt.Errorf("%w: expected a quoted value at offset %d", ErrSyntax, p.i)
	}
	start := p.i
	p.i++
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			var v string
			if err := json.Unmarshal([]byte(p.s[start:p.i]), &v); err != nil {
				return "", fmt.Errorf("%w: bad string literal at offset %d", ErrSyntax, start)
			}
			return v, nil
		case c == '\\':
			if p.i+1 >= len(p.s) || !strings.ContainsRune(`"\/bfnrtu`, rune(p.s[p.i+1])) {
				return "", fmt.Errorf("%w: bad escape at offset %d", ErrSyntax, p.i)
			}
			if p.s[p.i+1] == 'u' && (p.i+6 > len(p.s) || !isHex4(p.s[p.i+2:p.i+6])) {
				return "", fmt.Errorf("%w: bad \\u escape at offset %d", ErrSyntax, p.i)
			}
			p.i += 2
		case c < 0x20:
			return "", fmt.Errorf("%w: control character in a value at offset %d", ErrSyntax, p.i)
		default:
			p.i++
		}
	}
	return "", fmt.Errorf("%w: unterminated value", ErrSyntax)
}

func isHex4(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return len(s) == 4
}
