// Package pushdowntest generates random LDAP filters and entries for the
// translators' property tests: small alphabets, so that random filters and
// entries often agree, with the characters that matter to matching and to
// quoting (case, spaces, hyphens, quotes, backslashes, parentheses, the
// words and/or/not, non-ASCII, a control character).
package pushdowntest

import (
	"math/rand/v2"
	"strings"

	"github.com/ldapbridge/ldapbridge/search/filter"
)

// Attrs are the attribute descriptions filters and entries are drawn from:
// the schema's table, an alias and an OID, an unknown one, options, a
// password attribute and an unrecognizable OID.
var Attrs = []string{
	"uid", "mail", "cn", "sn", "givenName", "title", "telephoneNumber", "mobile",
	"objectClass", "entryUUID", "description", "commonName", "2.5.4.4",
	"cn;lang-en", "userPassword", "1.2.3.4",
}

var pieces = []string{"a", "b", "A", "B", " ", "  ", "-", "é", "É", `"`, `\`, "(", ")", " or ", "and", "not", "\n", "k", "\u212a", "person", "top"}

// Value returns a short random string over the alphabet above.
func Value(r *rand.Rand) string {
	var b strings.Builder
	for n := r.IntN(4); n >= 0; n-- {
		b.WriteString(pieces[r.IntN(len(pieces))])
	}
	return b.String()
}

func nonEmpty(r *rand.Rand) string {
	for {
		if v := Value(r); v != "" {
			return v
		}
	}
}

// Filter returns a random filter of at most depth levels of and/or/not.
func Filter(r *rand.Rand, depth int) *filter.Filter {
	k := filter.Kind(r.IntN(10))
	if depth <= 0 && k <= filter.Not {
		k = filter.Equality
	}
	attr := Attrs[r.IntN(len(Attrs))]
	switch k {
	case filter.And, filter.Or:
		f := &filter.Filter{Kind: k}
		for n := r.IntN(4); n > 0; n-- {
			f.Sub = append(f.Sub, Filter(r, depth-1))
		}
		return f
	case filter.Not:
		return &filter.Filter{Kind: k, Sub: []*filter.Filter{Filter(r, depth-1)}}
	case filter.Present:
		return &filter.Filter{Kind: k, Attr: attr}
	case filter.Substrings:
		f := &filter.Filter{Kind: k, Attr: attr}
		if r.IntN(2) == 0 {
			f.Initial, f.HasInitial = nonEmpty(r), true
		}
		for n := r.IntN(3); n > 0; n-- {
			f.Any = append(f.Any, nonEmpty(r))
		}
		if r.IntN(2) == 0 || (!f.HasInitial && len(f.Any) == 0) {
			f.Final, f.HasFinal = nonEmpty(r), true
		}
		return f
	case filter.Extensible:
		f := &filter.Filter{Kind: k, Attr: attr, Value: Value(r), DNAttributes: r.IntN(4) == 0}
		if r.IntN(2) == 0 {
			f.Rule = []string{"caseExactMatch", "2.5.13.2", "1.2.3"}[r.IntN(3)]
		}
		return f
	}
	return &filter.Filter{Kind: k, Attr: attr, Value: Value(r)}
}

// Entry returns a random entry over Attrs (their first spelling of each
// canonical name); values of the attributes for which normalized(name)
// is true are stored without insignificant spaces, as the backend under
// test is assumed to keep them.
func Entry(r *rand.Rand, normalized func(canonical string) bool) filter.Entry {
	s := filter.DefaultSchema()
	e := filter.Entry{}
	for _, a := range Attrs {
		if r.IntN(3) == 0 {
			continue
		}
		name, _, ok := s.Canonical(a)
		if !ok {
			continue
		}
		if _, dup := e[name]; dup {
			continue
		}
		var vals []string
		for n := 1 + r.IntN(2); n > 0; n-- {
			v := Value(r)
			if normalized != nil && normalized(name) {
				v = filter.FoldSpaces(v, filter.Whole)
				if v == "" {
					continue
				}
			}
			vals = append(vals, v)
		}
		if len(vals) > 0 {
			e[name] = vals
		}
	}
	return e
}
