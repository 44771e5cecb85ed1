package pingonesim

import (
	"slices"
	"testing"

	"github.com/ldapbridge/ldapbridge/restback/pingone/scimfilter"
	"github.com/ldapbridge/ldapbridge/search/filter"
)

// leaves lists the comparisons of a parsed filter.
func leaves(f *Filter, out *[]*Filter) {
	if f.Op == "and" || f.Op == "or" {
		for _, s := range f.Sub {
			leaves(s, out)
		}
		return
	}
	*out = append(*out, f)
}

// FuzzSearchFilterInjection: whatever the values of an LDAP filter, the
// SCIM filter the bridge sends parses at the simulator into exactly the
// comparisons the bridge meant, each value intact: no value can add a
// comparison or an operator, or change an attribute.
func FuzzSearchFilterInjection(f *testing.F) {
	for _, s := range []string{`alice`, `x" or username sw "`, `a\" or \"`, "\u2028", `)(`, `" and email ew "@`, ""} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		ldapFilter := &filter.Filter{Kind: filter.Or, Sub: []*filter.Filter{
			{Kind: filter.Equality, Attr: "uid", Value: a},
			{Kind: filter.And, Sub: []*filter.Filter{
				{Kind: filter.Substrings, Attr: "mail", Initial: b, HasInitial: b != "", Final: a, HasFinal: a != ""},
				{Kind: filter.Equality, Attr: "sn", Value: b},
			}},
		}}
		if a == "" && b == "" {
			return
		}
		tr := scimfilter.Translate(ldapFilter)
		if tr.Filter == "" {
			return
		}
		parsed, err := ParseFilter(tr.Filter)
		if err != nil {
			t.Fatalf("the bridge's filter %q does not parse: %v", tr.Filter, err)
		}
		var ls []*Filter
		leaves(parsed, &ls)
		for _, l := range ls {
			if !slices.Contains([]string{"username", "email", "name.family"}, l.Attr) || !slices.Contains([]string{"eq", "sw", "ew"}, l.Op) {
				t.Fatalf("%q parsed into a comparison the bridge did not make: %+v", tr.Filter, l)
			}
			if l.Value != filter.FoldSpaces(a, filter.Whole) && l.Value != filter.FoldSpaces(b, filter.Whole) &&
				!slices.Contains(candidates(a, b), l.Value) {
				t.Fatalf("%q parsed into value %q, not one of the LDAP values", tr.Filter, l.Value)
			}
		}
		if len(ls) > 4 {
			t.Fatalf("%q parsed into %d comparisons", tr.Filter, len(ls))
		}
	})
}

// candidates are the forms a value may take once its insignificant
// spaces are folded, at any position.
func candidates(vals ...string) []string {
	var out []string
	for _, v := range vals {
		for _, p := range []filter.Position{filter.Whole, filter.InitialPiece, filter.AnyPiece, filter.FinalPiece} {
			out = append(out, filter.FoldSpaces(v, p))
		}
	}
	return out
}
