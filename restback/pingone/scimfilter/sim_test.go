package scimfilter

import (
	"testing"

	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
	"github.com/ldapbridge/ldapbridge/search/filter"
)

// TestSimulatorParses checks the quoting against the PingOne simulator's
// own parser (which serves eq, and, or today): hostile values come back
// intact and select the user they name, and only that user.
func TestSimulatorParses(t *testing.T) {
	for _, v := range []string{
		`alice`, `"`, `\`, `x" or username eq "alice`, `") or (username eq "alice`, ` or `, `) and (`,
		`not (x)`, "\u2028", `\u0022`, "é😀",
	} {
		f := &filter.Filter{Kind: filter.Or, Sub: []*filter.Filter{
			{Kind: filter.Equality, Attr: "uid", Value: v},
			{Kind: filter.Equality, Attr: "mail", Value: v + "@example.com"},
		}}
		r := Translate(f)
		sf, err := pingonesim.ParseFilter(r.Filter)
		if err != nil {
			t.Fatalf("%q: simulator refuses %q: %v", v, r.Filter, err)
		}
		// PingOne keeps values without insignificant spaces (FoldSpaces).
		u := filter.FoldSpaces(v, filter.Whole)
		if !sf.Match(map[string]string{"username": u}) || !sf.Match(map[string]string{"email": filter.FoldSpaces(v+"@example.com", filter.Whole)}) {
			t.Errorf("%q: %q does not select the user it names", v, r.Filter)
		}
		if v != "alice" && sf.Match(map[string]string{"username": "alice"}) {
			t.Errorf("%q: %q selects alice", v, r.Filter)
		}
	}
}
