package filter

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// RuleKind names the matching behaviour of an attribute.
type RuleKind uint8

const (
	// CaseIgnore is caseIgnoreMatch / caseIgnoreSubstringsMatch (and the
	// IA5 variants): case folded, insignificant spaces removed (RFC 4518
	// §2.6.1, simplified: leading and trailing spaces ignored, inner runs
	// collapsed to one).
	CaseIgnore RuleKind = iota
	// CaseExact is caseExactMatch / caseExactSubstringsMatch: spaces as
	// CaseIgnore, case kept.
	CaseExact
	// TelephoneNumber is telephoneNumberMatch / telephoneNumberSubstringsMatch:
	// case folded, every space and hyphen removed (RFC 4517 §4.2.29,
	// RFC 4518 §2.6.2).
	TelephoneNumber
	// UUID is uuidMatch / uuidOrderingMatch (RFC 4530): compared without
	// regard to the case of the hex digits; no substrings rule.
	UUID
	// ObjectIdentifier is objectIdentifierMatch (objectClass): names
	// compared without regard to case; no substrings or ordering rule.
	ObjectIdentifier
)

// Rule is how an attribute's values are matched.
type Rule struct {
	Kind RuleKind
	// Substrings and Ordering say whether the attribute has a substrings
	// and an ordering rule; a filter item that needs a missing rule is
	// Undefined (RFC 4511 §4.5.1.7).
	Substrings bool
	Ordering   bool
}

// Schema is what the evaluator knows of attributes: the rule of each
// (by lower-case name) and the aliases of names.
type Schema struct {
	// Rules maps a lower-case attribute name to its rule.
	Rules map[string]Rule
	// Aliases maps a lower-case alternative name to the lower-case name
	// used in Rules and in entries (commonName → cn).
	Aliases map[string]string
	// Default is the rule of attributes not in Rules; nil makes a filter
	// item on such an attribute Undefined (an unrecognized attribute).
	Default *Rule
}

var caseIgnoreRule = Rule{Kind: CaseIgnore, Substrings: true, Ordering: true}

// DefaultSchema is the table of the attributes the bridge serves (RFC 4519,
// RFC 2798, RFC 4524, RFC 4530), with caseIgnore for any other attribute.
func DefaultSchema() *Schema {
	ci := Rule{Kind: CaseIgnore, Substrings: true} // RFC 4519: no ORDERING
	tel := Rule{Kind: TelephoneNumber, Substrings: true}
	d := caseIgnoreRule
	return &Schema{
		Rules: map[string]Rule{
			"uid":             ci,
			"mail":            ci, // caseIgnoreIA5Match
			"cn":              ci,
			"sn":              ci,
			"givenname":       ci,
			"title":           ci,
			"telephonenumber": tel,
			"mobile":          tel,
			"objectclass":     {Kind: ObjectIdentifier},
			"entryuuid":       {Kind: UUID, Ordering: true},
		},
		Aliases: map[string]string{
			"userid":                     "uid",
			"rfc822mailbox":              "mail",
			"commonname":                 "cn",
			"surname":                    "sn",
			"gn":                         "givenname",
			"mobiletelephonenumber":      "mobile",
			"0.9.2342.19200300.100.1.1":  "uid",
			"0.9.2342.19200300.100.1.3":  "mail",
			"2.5.4.3":                    "cn",
			"2.5.4.4":                    "sn",
			"2.5.4.42":                   "givenname",
			"2.5.4.12":                   "title",
			"2.5.4.20":                   "telephonenumber",
			"0.9.2342.19200300.100.1.41": "mobile",
			"2.5.4.0":                    "objectclass",
			"1.3.6.1.1.16.4":             "entryuuid",
		},
		Default: &d,
	}
}

// Canonical returns the lower-case name under which attr's values are
// found in an entry (aliases resolved), and its rule; ok is false for an
// attribute the schema does not recognize.
func (s *Schema) Canonical(attr string) (name string, r Rule, ok bool) {
	name = strings.ToLower(attr)
	if a, found := s.Aliases[name]; found {
		name = a
	}
	if r, found := s.Rules[name]; found {
		return name, r, true
	}
	if s.Default != nil && validDescr(name) {
		return name, *s.Default, true
	}
	return name, Rule{}, false
}

// validDescr reports whether s is an attribute type name (RFC 4512 descr)
// with optional options; numeric OIDs are known only through Aliases.
func validDescr(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isKeychar(c) && c != ';' {
			return false
		}
	}
	return !strings.HasSuffix(s, ";") && !strings.Contains(s, ";;")
}

// Position says where a substring piece stands, for space handling.
type Position uint8

// Positions of a value or a substring piece.
const (
	Whole Position = iota
	InitialPiece
	AnyPiece
	FinalPiece
)

// Normalize returns v prepared for comparison under r, at position p: for a
// whole value, leading and trailing spaces go; for an initial piece, the
// leading ones; for a final piece, the trailing ones; inner runs always
// collapse to one space (RFC 4518-ish). ok is false for a value that is
// not valid for the rule (not UTF-8), which makes the item Undefined.
func (r Rule) Normalize(v string, p Position) (string, bool) {
	if !utf8.ValidString(v) {
		return "", false
	}
	switch r.Kind {
	case UUID:
		return strings.ToLower(v), true
	case ObjectIdentifier:
		return foldCase(strings.TrimSpace(v)), true
	case TelephoneNumber:
		var b strings.Builder
		for _, c := range v {
			if c == '-' || isSpace(c) || c == 0x2010 || c == 0x2011 || c == 0x2212 {
				continue
			}
			b.WriteRune(canonRune(c))
		}
		return b.String(), true
	}
	s := FoldSpaces(v, p)
	if r.Kind == CaseIgnore {
		s = foldCase(s)
	}
	return s, true
}

// FoldSpaces maps whitespace to SPACE and collapses runs of it to one,
// dropping the leading run unless p is AnyPiece or FinalPiece and the
// trailing run unless p is AnyPiece or InitialPiece.
func FoldSpaces(v string, p Position) string {
	var b strings.Builder
	b.Grow(len(v))
	pending := false
	started := false
	for _, c := range v {
		if isSpace(c) {
			pending = true
			continue
		}
		if c == 0xad || c == 0x200b || c == 0xfeff || c == 0x180e {
			continue // RFC 4518 §2.2: mapped to nothing
		}
		if pending && (started || p == AnyPiece || p == FinalPiece) {
			b.WriteByte(' ')
		}
		pending = false
		started = true
		b.WriteRune(c)
	}
	if pending && (p == AnyPiece || p == InitialPiece) && (started || p == AnyPiece) {
		b.WriteByte(' ')
	}
	return b.String()
}

func isSpace(c rune) bool {
	switch c {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x85:
		return true
	}
	return c > 0x7f && unicode.Is(unicode.Zs, c)
}

// foldCase maps every rune to one representative of its simple case
// folding orbit, so that foldCase(a) == foldCase(b) exactly when
// strings.EqualFold(a, b) for valid UTF-8.
func foldCase(s string) string {
	ascii := true
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return strings.ToLower(s)
	}
	var b strings.Builder
	b.Grow(len(s))
	for _, c := range s {
		b.WriteRune(canonRune(c))
	}
	return b.String()
}

// canonRune is the smallest rune of c's simple folding orbit.
func canonRune(c rune) rune {
	if c < utf8.RuneSelf {
		if c >= 'A' && c <= 'Z' {
			return c + 'a' - 'A'
		}
		return c
	}
	m := c
	for f := unicode.SimpleFold(c); f != c; f = unicode.SimpleFold(f) {
		if f < m {
			m = f
		}
	}
	// Keep ASCII letters lower-case whatever the orbit (K, Kelvin sign).
	if m >= 'A' && m <= 'Z' {
		m += 'a' - 'A'
	}
	return m
}

// FoldCase is the case folding of CaseIgnore, exported for the translators'
// reference evaluators.
func FoldCase(s string) string { return foldCase(s) }

// PasswordAttribute reports whether name (any case) is a password
// attribute the bridge never returns, filters on nor sends to a backend in
// a filter: userPassword, authPassword, pwd*, ds-pwp-* (issue 11).
func PasswordAttribute(name string) bool {
	n := strings.ToLower(name)
	if i := strings.IndexByte(n, ';'); i >= 0 {
		n = n[:i]
	}
	switch n {
	case "userpassword", "authpassword", "2.5.4.35", "1.3.6.1.4.1.4203.1.3.4":
		return true
	}
	return strings.HasPrefix(n, "pwd") || strings.HasPrefix(n, "ds-pwp-")
}
