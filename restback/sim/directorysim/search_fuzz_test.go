package directorysim

import (
	"slices"
	"testing"

	"github.com/ldapbridge/ldapbridge/restback/pingdirectory/dirfilter"
	"github.com/ldapbridge/ldapbridge/search/filter"
	"github.com/ldapbridge/ldapbridge/search/pushdown"
)

func exprLeaves(e *pushdown.Expr, out *[]*pushdown.Expr) {
	switch e.Op {
	case pushdown.And, pushdown.Or, pushdown.Not:
		for _, s := range e.Sub {
			exprLeaves(s, out)
		}
		return
	}
	*out = append(*out, e)
}

// FuzzSearchFilterInjection: whatever the values of an LDAP filter, the
// filter the bridge sends in a subtree search parses at the simulator
// (the Conventions grammar) into exactly the comparisons the bridge
// meant, each value intact.
func FuzzSearchFilterInjection(f *testing.F) {
	for _, s := range []string{`alice`, `x" or uid pr or uid eq "`, `a\" or \"`, "\u2028", `)(`, `not (`, ""} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		if a == "" || b == "" {
			return
		}
		ldapFilter := &filter.Filter{Kind: filter.Or, Sub: []*filter.Filter{
			{Kind: filter.Equality, Attr: "uid", Value: a},
			{Kind: filter.Not, Sub: []*filter.Filter{{Kind: filter.Equality, Attr: "mail", Value: b}}},
			{Kind: filter.Substrings, Attr: "cn", Initial: b, HasInitial: true, Any: []string{a}, Final: a, HasFinal: true},
		}}
		tr := dirfilter.Translate(ldapFilter)
		if tr.Filter == "" {
			return
		}
		e, err := pushdown.Parse(tr.Filter)
		if err != nil {
			t.Fatalf("the bridge's filter %q does not parse: %v", tr.Filter, err)
		}
		var ls []*pushdown.Expr
		exprLeaves(e, &ls)
		if len(ls) > 5 {
			t.Fatalf("%q parsed into %d comparisons", tr.Filter, len(ls))
		}
		for _, l := range ls {
			if !slices.Contains([]string{"uid", "mail", "cn"}, l.Attr) {
				t.Fatalf("%q compares attribute %q", tr.Filter, l.Attr)
			}
			if l.Value != a && l.Value != b {
				t.Fatalf("%q parsed into value %q, not one of the LDAP values", tr.Filter, l.Value)
			}
		}
	})
}
