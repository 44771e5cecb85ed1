package dirfilter

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/search/filter"
	"github.com/ldapbridge/ldapbridge/search/pushdown"
	"github.com/ldapbridge/ldapbridge/search/pushdown/pushdowntest"
)

func decode(t testing.TB, s string) *filter.Filter {
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

func TestTranslate(t *testing.T) {
	tests := []struct {
		ldap  string
		want  string
		exact bool
		none  bool
	}{
		{"(uid=jdoe)", `uid eq "jdoe"`, true, false},
		{"(&(objectClass=person)(uid=jdoe))", `objectclass eq "person" and uid eq "jdoe"`, true, false},
		{"(|(uid=alice)(uid=bob))", `uid eq "alice" or uid eq "bob"`, true, false},
		{"(&(objectClass=person)(|(uid=a)(mail=b)))", `objectclass eq "person" and (uid eq "a" or mail eq "b")`, true, false},
		{"(uid=ali*)", `uid sw "ali"`, true, false},
		{"(uid=*ice)", `uid ew "ice"`, true, false},
		{"(uid=*li*)", `uid co "li"`, true, false},
		{"(cn=a*b*c)", `cn sw "a" and cn co "b" and cn ew "c"`, false, false},
		{"(mail=*)", `mail pr`, true, false},
		{"(entryUUID>=5)", `entryuuid ge "5"`, true, false},
		{"(description<=m)", `description le "m"`, true, false},
		{"(commonName=x)", `cn eq "x"`, true, false},
		{"(2.5.4.4=x)", `sn eq "x"`, true, false},
		{"(!(uid=jdoe))", `not (uid eq "jdoe")`, false, false},
		{"(!(cn=a*b))", ``, false, false},
		{"(uid~=jdoe)", `uid eq "jdoe"`, true, false},
		// Left to the bridge: extensible, options, ordering without a rule.
		{"(cn:caseExactMatch:=x)", ``, false, false},
		{"(&(uid=a)(cn:caseExactMatch:=x))", `uid eq "a"`, false, false},
		{"(|(uid=a)(cn:caseExactMatch:=x))", ``, false, false},
		{"(cn;lang-en=x)", ``, false, false},
		{"(cn>=m)", ``, true, true}, // no ordering rule: never TRUE
		{"(|(cn>=m)(uid=a))", `uid eq "a"`, true, false},
		// Never TRUE: nothing to ask.
		{"(1.2.3.4=x)", ``, true, true},
		{`(uid=\ff)`, ``, true, true},
		{"(&(uid=a)(objectClass=x*))", ``, true, true},
		{"(|)", ``, true, true},
		{"(&)", ``, true, false},
		// Passwords are never sent.
		{"(userPassword=secret)", ``, true, true},
		{"(userPassword=*)", ``, true, true},
		{"(&(uid=a)(!(userPassword=secret)))", `uid eq "a"`, true, false},
		{"(pwdChangedTime>=2020)", ``, true, true},
	}
	for _, tc := range tests {
		t.Run(tc.ldap, func(t *testing.T) {
			r := Translate(decode(t, tc.ldap))
			if r.Filter != tc.want || r.Exact != tc.exact || r.None != tc.none {
				t.Errorf("Translate = %q exact=%v none=%v; want %q exact=%v none=%v (untranslated %v)",
					r.Filter, r.Exact, r.None, tc.want, tc.exact, tc.none, r.Untranslated)
			}
			if r.Filter != "" {
				if _, err := pushdown.Parse(r.Filter); err != nil {
					t.Errorf("output does not parse: %v", err)
				}
			}
		})
	}
}

// TestInjection: whatever the value, the output is one comparison whose
// value is the LDAP value, byte for byte.
func TestInjection(t *testing.T) {
	for _, v := range []string{
		`"`, `\`, `x" or uid pr or "`, `") or (uid pr`, ` or `, `) and (`, "a\nb", "a\x00b",
		`not (uid pr)`, "\u2028", strings.Repeat(`"\`, 1500),
	} {
		f := &filter.Filter{Kind: filter.Equality, Attr: "description", Value: v}
		r := Translate(f)
		e, err := pushdown.Parse(r.Filter)
		if err != nil {
			t.Fatalf("%q: output %q does not parse: %v", v, r.Filter, err)
		}
		if e.Op != pushdown.Eq || e.Attr != "description" || e.Value != v {
			t.Errorf("%q: parsed back as %#v", v, e)
		}
		if strings.ContainsAny(r.Filter, "\x00\n") {
			t.Errorf("%q: control character in %q", v, r.Filter)
		}
	}
}

func TestTooLong(t *testing.T) {
	long := strings.Repeat("x", 3000)
	f := decode(t, "(&(uid=a)(cn="+long+")(sn="+long+")(mail="+long+")(title=b))")
	r := Translate(f)
	if len(r.Filter) > MaxFilterLen || r.Exact {
		t.Fatalf("len %d exact %v", len(r.Filter), r.Exact)
	}
	if !strings.HasPrefix(r.Filter, `uid eq "a" and cn eq "`) || !strings.HasSuffix(r.Filter, `title eq "b"`) {
		t.Errorf("kept %.60q...", r.Filter)
	}
	or := decode(t, "(|(uid=a)(cn="+long+")(sn="+long+")(mail="+long+"))")
	if r := Translate(or); r.Filter != "" || r.Exact || r.None {
		t.Errorf("long or: %+v", r)
	}
}

// reference evaluates a Directory REST API filter as the directory does:
// each term is the LDAP item it stands for, under the same schema.
func reference(e *pushdown.Expr) *filter.Filter {
	switch e.Op {
	case pushdown.And, pushdown.Or:
		f := &filter.Filter{Kind: filter.And}
		if e.Op == pushdown.Or {
			f.Kind = filter.Or
		}
		for _, s := range e.Sub {
			f.Sub = append(f.Sub, reference(s))
		}
		return f
	case pushdown.Not:
		return &filter.Filter{Kind: filter.Not, Sub: []*filter.Filter{reference(e.Sub[0])}}
	case pushdown.Pr:
		return &filter.Filter{Kind: filter.Present, Attr: e.Attr}
	case pushdown.Eq:
		return &filter.Filter{Kind: filter.Equality, Attr: e.Attr, Value: e.Value}
	case pushdown.Ge:
		return &filter.Filter{Kind: filter.GreaterOrEqual, Attr: e.Attr, Value: e.Value}
	case pushdown.Le:
		return &filter.Filter{Kind: filter.LessOrEqual, Attr: e.Attr, Value: e.Value}
	case pushdown.Sw:
		return &filter.Filter{Kind: filter.Substrings, Attr: e.Attr, Initial: e.Value, HasInitial: true}
	case pushdown.Ew:
		return &filter.Filter{Kind: filter.Substrings, Attr: e.Attr, Final: e.Value, HasFinal: true}
	case pushdown.Co:
		return &filter.Filter{Kind: filter.Substrings, Attr: e.Attr, Any: []string{e.Value}}
	}
	panic("unexpected operator " + string(e.Op))
}

// check asserts the superset property (and equality when Exact) of the
// translation of f on entry e.
func check(t *testing.T, f *filter.Filter, e filter.Entry) {
	t.Helper()
	r := Translate(f)
	ldapTrue := filter.Evaluate(f, e, nil) == filter.True
	var backend bool
	switch {
	case r.None:
		backend = false
	case r.Filter == "":
		backend = true
	default:
		x, err := pushdown.Parse(r.Filter)
		if err != nil {
			t.Fatalf("%s → %q does not parse: %v", f, r.Filter, err)
		}
		backend = filter.Evaluate(reference(x), e, nil) == filter.True
	}
	if ldapTrue && !backend {
		t.Fatalf("narrower: %s is TRUE on %v but %q (none=%v) does not match", f, e, r.Filter, r.None)
	}
	if r.Exact && backend != ldapTrue {
		t.Fatalf("not exact: %s is %v on %v, %q matches=%v", f, ldapTrue, e, r.Filter, backend)
	}
}

func TestSuperset(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	n := 20000
	if testing.Short() {
		n = 2000
	}
	for i := 0; i < n; i++ {
		check(t, pushdowntest.Filter(r, 3), pushdowntest.Entry(r, nil))
	}
}

func FuzzTranslate(f *testing.F) {
	for _, s := range []string{"(uid=jdoe)", "(&(objectClass=person)(uid=jdoe))", "(|(uid=a)(!(cn=b*c*d)))",
		`(cn=\22\29 or \28uid pr)`, "(cn:dn:2.5.13.5:=J)", "(!(userPassword=x))"} {
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
		r := Translate(flt)
		if r.Filter != "" {
			if _, err := pushdown.Parse(r.Filter); err != nil {
				t.Fatalf("%s → %q does not parse: %v", flt, r.Filter, err)
			}
			if len(r.Filter) > MaxFilterLen {
				t.Fatalf("filter of %d bytes", len(r.Filter))
			}
		}
		rnd := rand.New(rand.NewPCG(seed, seed))
		for i := 0; i < 4; i++ {
			check(t, flt, pushdowntest.Entry(rnd, nil))
		}
	})
}
