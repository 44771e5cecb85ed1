package pingonesim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Filter is a parsed SCIM filter (RFC 7644 §3.4.2.2), restricted to what
// the simulator serves: "attr eq "value"" comparisons joined by "and",
// "or" and parentheses. It is exported so that the bridge's client can
// check that its escaping round-trips through the simulator's parser.
type Filter struct {
	// Op is "eq", "sw", "ew", "and" or "or".
	Op string
	// Attr and Value are set for "eq", "sw" and "ew".
	Attr  string
	Value string
	// Sub holds the operands of "and" and "or".
	Sub []*Filter
}

// maxFilterLen bounds the work one request can ask for.
const maxFilterLen = 4096

// ErrFilter is wrapped by every filter syntax error.
var ErrFilter = errors.New("invalid SCIM filter")

// ParseFilter parses s. Attribute names are returned in lower case.
func ParseFilter(s string) (*Filter, error) {
	if len(s) > maxFilterLen {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrFilter, maxFilterLen)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%w: not UTF-8", ErrFilter)
	}
	p := &filterParser{s: s}
	f, err := p.or(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.i != len(p.s) {
		return nil, fmt.Errorf("%w: unexpected %q at offset %d", ErrFilter, p.rest(), p.i)
	}
	return f, nil
}

// Match reports whether the attributes (lower-case names) satisfy f.
// "eq" compares case-insensitively, as PingOne does for username and
// email.
func (f *Filter) Match(attrs map[string]string) bool {
	switch f.Op {
	case "eq":
		v, ok := attrs[f.Attr]
		return ok && strings.EqualFold(v, f.Value)
	case "sw", "ew":
		// Case-insensitive, as eq (the Read All Users page lists sw and
		// ew on these attributes).
		v, ok := attrs[f.Attr]
		if !ok {
			return false
		}
		lv, lf := strings.ToLower(v), strings.ToLower(f.Value)
		if f.Op == "sw" {
			return strings.HasPrefix(lv, lf)
		}
		return strings.HasSuffix(lv, lf)
	case "and":
		for _, s := range f.Sub {
			if !s.Match(attrs) {
				return false
			}
		}
		return true
	case "or":
		for _, s := range f.Sub {
			if s.Match(attrs) {
				return true
			}
		}
	}
	return false
}

type filterParser struct {
	s string
	i int
}

// maxDepth bounds the nesting of parentheses.
const maxDepth = 32

func (p *filterParser) rest() string {
	r := p.s[p.i:]
	if len(r) > 20 {
		r = r[:20] + "..."
	}
	return r
}

func (p *filterParser) space() {
	for p.i < len(p.s) && p.s[p.i] == ' ' {
		p.i++
	}
}

// keyword consumes a case-insensitive word followed by a space, if present.
func (p *filterParser) keyword(w string) bool {
	p.space()
	end := p.i + len(w)
	if end >= len(p.s) || !strings.EqualFold(p.s[p.i:end], w) || p.s[end] != ' ' {
		return false
	}
	p.i = end
	return true
}

func (p *filterParser) or(depth int) (*Filter, error) {
	left, err := p.and(depth)
	if err != nil {
		return nil, err
	}
	subs := []*Filter{left}
	for p.keyword("or") {
		right, err := p.and(depth)
		if err != nil {
			return nil, err
		}
		subs = append(subs, right)
	}
	if len(subs) == 1 {
		return left, nil
	}
	return &Filter{Op: "or", Sub: subs}, nil
}

func (p *filterParser) and(depth int) (*Filter, error) {
	left, err := p.term(depth)
	if err != nil {
		return nil, err
	}
	subs := []*Filter{left}
	for p.keyword("and") {
		right, err := p.term(depth)
		if err != nil {
			return nil, err
		}
		subs = append(subs, right)
	}
	if len(subs) == 1 {
		return left, nil
	}
	return &Filter{Op: "and", Sub: subs}, nil
}

func (p *filterParser) term(depth int) (*Filter, error) {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == '(' {
		if depth >= maxDepth {
			return nil, fmt.Errorf("%w: nested deeper than %d", ErrFilter, maxDepth)
		}
		p.i++
		f, err := p.or(depth + 1)
		if err != nil {
			return nil, err
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			return nil, fmt.Errorf("%w: missing ')'", ErrFilter)
		}
		p.i++
		return f, nil
	}
	attr := p.attr()
	if attr == "" {
		return nil, fmt.Errorf("%w: expected an attribute name at offset %d", ErrFilter, p.i)
	}
	op := ""
	for _, o := range []string{"eq", "sw", "ew"} {
		if p.keyword(o) {
			op = o
			break
		}
	}
	if op == "" {
		return nil, fmt.Errorf("%w: only the eq, sw and ew operators are supported (at offset %d)", ErrFilter, p.i)
	}
	p.space()
	v, err := p.str()
	if err != nil {
		return nil, err
	}
	return &Filter{Op: op, Attr: strings.ToLower(attr), Value: v}, nil
}

func (p *filterParser) attr() string {
	start := p.i
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '.' || c == '_' || (p.i > start && (c >= '0' && c <= '9' || c == '-')) {
			p.i++
			continue
		}
		break
	}
	return p.s[start:p.i]
}

// str reads a JSON string literal, as RFC 7644 requires of compValue.
func (p *filterParser) str() (string, error) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", fmt.Errorf("%w: expected a quoted value at offset %d", ErrFilter, p.i)
	}
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return b.String(), nil
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", fmt.Errorf("%w: unfinished escape", ErrFilter)
			}
			e := p.s[p.i+1]
			p.i += 2
			switch e {
			case '"', '\\', '/':
				b.WriteByte(e)
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, err := p.hex4()
				if err != nil {
					return "", err
				}
				if utf16High(r) {
					// A surrogate pair must follow as \uDC00-\uDFFF.
					if p.i+1 < len(p.s) && p.s[p.i] == '\\' && p.s[p.i+1] == 'u' {
						p.i += 2
						lo, err := p.hex4()
						if err != nil {
							return "", err
						}
						if !utf16Low(lo) {
							return "", fmt.Errorf("%w: invalid surrogate pair", ErrFilter)
						}
						r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
					} else {
						return "", fmt.Errorf("%w: lone surrogate", ErrFilter)
					}
				} else if utf16Low(r) {
					return "", fmt.Errorf("%w: lone surrogate", ErrFilter)
				}
				b.WriteRune(r)
			default:
				return "", fmt.Errorf("%w: invalid escape \\%c", ErrFilter, e)
			}
		case c < 0x20:
			return "", fmt.Errorf("%w: control character in a value", ErrFilter)
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return "", fmt.Errorf("%w: unterminated value", ErrFilter)
}

func (p *filterParser) hex4() (rune, error) {
	if p.i+4 > len(p.s) {
		return 0, fmt.Errorf("%w: short \\u escape", ErrFilter)
	}
	n, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, fmt.Errorf("%w: bad \\u escape", ErrFilter)
	}
	p.i += 4
	return rune(n), nil
}

func utf16High(r rune) bool { return r >= 0xD800 && r < 0xDC00 }
func utf16Low(r rune) bool  { return r >= 0xDC00 && r < 0xE000 }
