package pushdowntest

import (
	"slices"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/search/filter"
	"github.com/ldapbridge/ldapbridge/search/pushdown"
)

// The checks must be able to fail: each catches the translator's mistake
// it is there for.
func TestChecksCatch(t *testing.T) {
	uidA := func(*filter.Filter) pushdown.Result { return pushdown.Result{Filter: `uid eq "a"`, Exact: true} }
	uidB := pushdown.Result{Filter: `uid eq "b"`, Exact: true}
	e := filter.Entry{"uid": {"a"}}
	onE := func(x *pushdown.Expr) bool { return slices.Contains(e[x.Attr], x.Value) }
	tests := []struct {
		name string
		f    func(tb testing.TB)
		want int // failures
	}{
		{"translation as expected", func(tb testing.TB) {
			CheckTranslation(tb, uidA, "(uid=a)", pushdown.Result{Filter: `uid eq "a"`, Exact: true})
		}, 0},
		{"other translation", func(tb testing.TB) {
			CheckTranslation(tb, uidA, "(uid=a)", pushdown.Result{Filter: `uid eq "a"`})
		}, 1},
		{"output that does not parse", func(tb testing.TB) {
			CheckTranslation(tb, func(*filter.Filter) pushdown.Result { return pushdown.Result{Filter: `uid eq`} }, "(uid=a)", pushdown.Result{Filter: `uid eq`})
		}, 1},
		{"one comparison", func(tb testing.TB) { CheckComparison(tb, `a"`, `uid eq "a\""`, "uid", `a"`) }, 0},
		{"injected operator", func(tb testing.TB) {
			CheckComparison(tb, `a" or uid pr`, `uid eq "a" or uid pr`, "uid", `a" or uid pr`)
		}, 1},
		{"superset", func(tb testing.TB) {
			CheckSuperset(tb, Decode(tb, "(uid=b)"), e, uidB, onE, true)
		}, 0},
		{"narrower", func(tb testing.TB) {
			CheckSuperset(tb, Decode(tb, "(uid=a)"), e, uidB, onE, false)
		}, 1},
		{"not exact", func(tb testing.TB) {
			CheckSuperset(tb, Decode(tb, "(uid=b)"), e, pushdown.Result{Exact: true}, onE, true)
		}, 1},
		{"inexact allowed", func(tb testing.TB) {
			CheckSuperset(tb, Decode(tb, "(uid=b)"), e, pushdown.Result{Exact: true}, onE, false)
		}, 0},
	}
	for _, tt := range tests {
		if got := testkit.Record(t, tt.f).Errors; len(got) != tt.want {
			t.Errorf("%s: failures %q, want %d", tt.name, got, tt.want)
		}
	}
}
