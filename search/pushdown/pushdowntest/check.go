package pushdowntest

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/search/filter"
	"github.com/ldapbridge/ldapbridge/search/pushdown"
)

// The checks every translator's tests make. A translator turns an LDAP
// filter into a backend filter in the pushdown syntax, or into nothing
// (the bridge filters alone), or decides that nothing matches.

// Decode is the filter an LDAP client sends for s: go-ldap, an
// independent implementation, compiles it, and search/filter decodes the
// BER.
func Decode(t testing.TB, s string) *filter.Filter {
	t.Helper()
	p, err := ldap.CompileFilter(s)
	if err != nil {
		t.Fatalf("CompileFilter(%q): %v", s, err)
	}
	f, err := filter.Decode(p.Bytes())
	if err != nil {
		t.Fatalf("Decode(%q): %v", s, err)
	}
	return f
}

// CheckTranslation translates the filter an LDAP client sends for ldap
// and compares the result with want (Untranslated aside); a backend filter
// must parse.
func CheckTranslation(t testing.TB, translate func(*filter.Filter) pushdown.Result, ldap string, want pushdown.Result) {
	t.Helper()
	got := translate(Decode(t, ldap))
	if got.Filter != want.Filter || got.Exact != want.Exact || got.None != want.None {
		t.Errorf("Translate = %q exact=%v none=%v; want %q exact=%v none=%v (untranslated %v)",
			got.Filter, got.Exact, got.None, want.Filter, want.Exact, want.None, got.Untranslated)
	}
	if got.Filter != "" {
		if _, err := pushdown.Parse(got.Filter); err != nil {
			t.Errorf("output does not parse: %v", err)
		}
	}
}

// CheckComparison asserts that out, the translation of an equality on
// value, is one comparison of attr with want (no injected operator) and
// carries no control character.
func CheckComparison(t testing.TB, value, out, attr, want string) {
	t.Helper()
	e, err := pushdown.Parse(out)
	if err != nil {
		t.Fatalf("%q: output %q does not parse: %v", value, out, err)
	}
	if e.Op != pushdown.Eq || e.Attr != attr || e.Value != want {
		t.Errorf("%q: parsed back as %#v", value, e)
	}
	if strings.ContainsAny(out, "\x00\n") {
		t.Errorf("%q: control character in %q", value, out)
	}
}

// CheckSuperset asserts the superset property of r, the translation of
// f, on the entry e: where f is TRUE the backend's answer holds e. matches
// says how the backend evaluates a parsed filter on e. With exact, and
// when r is exact, the backend's answer must also hold e only where f is
// TRUE.
func CheckSuperset(t testing.TB, f *filter.Filter, e filter.Entry, r pushdown.Result, matches func(*pushdown.Expr) bool, exact bool) {
	t.Helper()
	ldapTrue := filter.Evaluate(f, e, nil) == filter.True
	var backend bool
	switch {
	case r.None:
	case r.Filter == "":
		backend = true
	default:
		x, err := pushdown.Parse(r.Filter)
		if err != nil {
			t.Fatalf("%s → %q does not parse: %v", f, r.Filter, err)
		}
		backend = matches(x)
	}
	if ldapTrue && !backend {
		t.Fatalf("narrower: %s is TRUE on %q but %q (none=%v) does not match", f, e, r.Filter, r.None)
	}
	if exact && r.Exact && backend != ldapTrue {
		t.Fatalf("not exact: %s is %v on %q, %q matches=%v", f, ldapTrue, e, r.Filter, backend)
	}
}

// Repeat calls f 20000 times (2000 with -short) with r.
func Repeat(r *rand.Rand, f func(r *rand.Rand)) {
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := 0; i < n; i++ {
		f(r)
	}
}

// FuzzTranslate fuzzes a translator from seeds, LDAP filter texts: the
// translation of every filter the decoder accepts is nothing or a filter
// that parses and is at most maxLen bytes long, and check holds on four
// random entries drawn from r.
func FuzzTranslate(f *testing.F, seeds []string, maxLen int, translate func(*filter.Filter) pushdown.Result,
	check func(t *testing.T, flt *filter.Filter, r *rand.Rand)) {
	for _, s := range seeds {
		p, err := ldap.CompileFilter(s)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(p.Bytes(), uint64(1))
	}
	f.Fuzz(func(t *testing.T, b []byte, seed uint64) {
		flt, err := filter.Decode(b)
		if err != nil {
			return
		}
		if out := translate(flt).Filter; out != "" {
			if _, err := pushdown.Parse(out); err != nil {
				t.Fatalf("%s → %q does not parse: %v", flt, out, err)
			}
			if len(out) > maxLen {
				t.Fatalf("filter of %d bytes", len(out))
			}
		}
		r := rand.New(rand.NewPCG(seed, seed))
		for i := 0; i < 4; i++ {
			check(t, flt, r)
		}
	})
}
