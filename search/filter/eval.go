package filter

import "strings"

// Result is a filter's value on an entry (RFC 4511 §4.5.1.7): TRUE,
// FALSE or Undefined. Only True returns the entry.
type Result uint8

// The three values.
const (
	False Result = iota
	True
	Undefined
)

func (r Result) String() string {
	return [...]string{"FALSE", "TRUE", "Undefined"}[r]
}

// Entry is an entry's attributes: name → values. Names are matched without
// regard to case (and through the schema's aliases); values are octets.
// Password attributes (PasswordAttribute) are ignored, as if absent.
type Entry map[string][]string

// index is an entry keyed by canonical name, built once per evaluation so
// that each filter item costs one lookup: the work of Evaluate is linear in
// the filter's size times the entry's size.
type index map[string][]string

func (s *Schema) index(e Entry) index {
	ix := make(index, len(e))
	for k, v := range e {
		if PasswordAttribute(k) {
			// Never filtered on: a filter must not probe a password.
			continue
		}
		name, _, _ := s.Canonical(k)
		ix[name] = append(ix[name], v...)
		if i := strings.IndexByte(k, ';'); i > 0 {
			// cn;lang-en is a subtype of cn: a filter on cn sees it
			// (RFC 4512 §2.5); one on cn;lang-en sees only it.
			base, _, _ := s.Canonical(k[:i])
			ix[base] = append(ix[base], v...)
		}
	}
	return ix
}

// Evaluate returns f's value on e under s (DefaultSchema if nil).
func Evaluate(f *Filter, e Entry, s *Schema) Result {
	if s == nil {
		s = DefaultSchema()
	}
	return s.eval(f, s.index(e))
}

// Matches reports whether f is TRUE on e: whether e is returned.
func Matches(f *Filter, e Entry, s *Schema) bool {
	return Evaluate(f, e, s) == True
}

func (s *Schema) eval(f *Filter, ix index) Result {
	switch f.Kind {
	case And:
		// FALSE if any is FALSE, else Undefined if any is, else TRUE.
		r := True
		for _, c := range f.Sub {
			switch s.eval(c, ix) {
			case False:
				return False
			case Undefined:
				r = Undefined
			}
		}
		return r
	case Or:
		r := False
		for _, c := range f.Sub {
			switch s.eval(c, ix) {
			case True:
				return True
			case Undefined:
				r = Undefined
			}
		}
		return r
	case Not:
		if len(f.Sub) != 1 {
			return Undefined
		}
		switch s.eval(f.Sub[0], ix) {
		case True:
			return False
		case False:
			return True
		}
		return Undefined
	case Present:
		name, _, ok := s.Canonical(f.Attr)
		if !ok {
			// RFC 4511: present on an unrecognized attribute is FALSE.
			return False
		}
		if len(ix[name]) > 0 {
			return True
		}
		return False
	case Equality, Approx:
		// No approximate rule: equality (RFC 4511 §4.5.1.7.6 SHOULD).
		name, r, ok := s.Canonical(f.Attr)
		if !ok {
			return Undefined
		}
		return equal(r, f.Value, ix[name])
	case GreaterOrEqual, LessOrEqual:
		name, r, ok := s.Canonical(f.Attr)
		if !ok || !r.Ordering {
			return Undefined
		}
		a, ok := r.Normalize(f.Value, Whole)
		if !ok {
			return Undefined
		}
		res := False
		for _, v := range ix[name] {
			n, ok := r.Normalize(v, Whole)
			if !ok {
				res = Undefined
				continue
			}
			if f.Kind == GreaterOrEqual && n >= a || f.Kind == LessOrEqual && n <= a {
				return True
			}
		}
		return res
	case Substrings:
		name, r, ok := s.Canonical(f.Attr)
		if !ok || !r.Substrings {
			return Undefined
		}
		return substringsMatch(r, f, ix[name])
	case Extensible:
		return s.extensible(f, ix)
	}
	return Undefined
}

func equal(r Rule, value string, vals []string) Result {
	a, ok := r.Normalize(value, Whole)
	if !ok {
		return Undefined
	}
	res := False
	for _, v := range vals {
		n, ok := r.Normalize(v, Whole)
		if !ok {
			res = Undefined
			continue
		}
		if n == a {
			return True
		}
	}
	return res
}

func substringsMatch(r Rule, f *Filter, vals []string) Result {
	var ini, fin string
	var ok bool
	if f.HasInitial {
		if ini, ok = r.Normalize(f.Initial, InitialPiece); !ok {
			return Undefined
		}
	}
	if f.HasFinal {
		if fin, ok = r.Normalize(f.Final, FinalPiece); !ok {
			return Undefined
		}
	}
	anys := make([]string, len(f.Any))
	for i, a := range f.Any {
		if anys[i], ok = r.Normalize(a, AnyPiece); !ok {
			return Undefined
		}
	}
	res := False
	for _, v := range vals {
		n, ok := r.Normalize(v, Whole)
		if !ok {
			res = Undefined
			continue
		}
		if pieces(n, ini, anys, fin) {
			return True
		}
	}
	return res
}

// pieces reports whether v starts with ini, ends with fin and holds the
// anys in order between them, none overlapping. Greedy leftmost matching
// is correct for this and linear in len(v) per piece.
func pieces(v, ini string, anys []string, fin string) bool {
	if !strings.HasPrefix(v, ini) {
		return false
	}
	v = v[len(ini):]
	if len(fin) > len(v) || !strings.HasSuffix(v, fin) {
		return false
	}
	v = v[:len(v)-len(fin)]
	for _, a := range anys {
		i := strings.Index(v, a)
		if i < 0 {
			return false
		}
		v = v[i+len(a):]
	}
	return true
}

// Matching rules an extensible match may name, by lower-case name or OID.
var namedRules = map[string]Rule{
	"caseignorematch":            {Kind: CaseIgnore},
	"2.5.13.2":                   {Kind: CaseIgnore},
	"caseignoreia5match":         {Kind: CaseIgnore},
	"1.3.6.1.4.1.1466.109.114.2": {Kind: CaseIgnore},
	"caseexactmatch":             {Kind: CaseExact},
	"2.5.13.5":                   {Kind: CaseExact},
	"caseexactia5match":          {Kind: CaseExact},
	"1.3.6.1.4.1.1466.109.114.1": {Kind: CaseExact},
	"telephonenumbermatch":       {Kind: TelephoneNumber},
	"2.5.13.20":                  {Kind: TelephoneNumber},
	"uuidmatch":                  {Kind: UUID},
	"1.3.6.1.1.16.2":             {Kind: UUID},
	"objectidentifiermatch":      {Kind: ObjectIdentifier},
	"2.5.13.0":                   {Kind: ObjectIdentifier},
}

// extensible evaluates a MatchingRuleAssertion (RFC 4511 §4.5.1.7.7) with
// an equality rule: the attribute's own, or the named one. dnAttributes
// asks for the DN's components too, which an Entry does not carry: a
// FALSE from the attributes is then Undefined, never a wrong FALSE.
func (s *Schema) extensible(f *Filter, ix index) Result {
	var rule Rule
	if f.Rule != "" {
		r, ok := namedRules[strings.ToLower(f.Rule)]
		if !ok {
			return Undefined // unsupported matching rule
		}
		rule = r
	}
	var res Result
	if f.Attr != "" {
		name, r, ok := s.Canonical(f.Attr)
		if !ok {
			return Undefined
		}
		if f.Rule == "" {
			rule = r
		}
		res = equal(rule, f.Value, ix[name])
	} else {
		// Every attribute of the entry, with the named rule.
		res = False
		for _, vals := range ix {
			switch equal(rule, f.Value, vals) {
			case True:
				return True
			case Undefined:
				res = Undefined
			}
		}
	}
	if res == False && f.DNAttributes {
		return Undefined
	}
	return res
}
