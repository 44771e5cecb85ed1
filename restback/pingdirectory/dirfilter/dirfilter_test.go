package dirfilter

import (
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/search/filter"
	"github.com/ldapbridge/ldapbridge/search/pushdown"
	"github.com/ldapbridge/ldapbridge/search/pushdown/pushdowntest"
)

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
			pushdowntest.CheckTranslation(t, Translate, tc.ldap, pushdown.Result{Filter: tc.want, Exact: tc.exact, None: tc.none})
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
		pushdowntest.CheckComparison(t, v, Translate(f).Filter, "description", v)
	}
}

func TestTooLong(t *testing.T) {
	long := strings.Repeat("x", 3000)
	f := pushdowntest.Decode(t, "(&(uid=a)(cn="+long+")(sn="+long+")(mail="+long+")(title=b))")
	r := Translate(f)
	if len(r.Filter) > MaxFilterLen || r.Exact {
		t.Fatalf("len %d exact %v", len(r.Filter), r.Exact)
	}
	if !strings.HasPrefix(r.Filter, `uid eq "a" and cn eq "`) || !strings.HasSuffix(r.Filter, `title eq "b"`) {
		t.Errorf("kept %.60q...", r.Filter)
	}
	or := pushdowntest.Decode(t, "(|(uid=a)(cn="+long+")(sn="+long+")(mail="+long+"))")
	if r := Translate(or); r.Filter != "" || r.Exact || r.None {
		t.Errorf("long or: %+v", r)
	}
}

// check asserts the superset property (and equality when Exact) of the
// translation of f on entry e.
func check(t *testing.T, f *filter.Filter, e filter.Entry) {
	t.Helper()
	pushdowntest.CheckSuperset(t, f, e, Translate(f), func(x *pushdown.Expr) bool {
		return filter.Evaluate(x.AsLDAP(), e, nil) == filter.True
	}, true)
}

func TestSuperset(t *testing.T) {
	pushdowntest.Repeat(rand.New(rand.NewPCG(1, 2)), func(r *rand.Rand) {
		check(t, pushdowntest.Filter(r, 3), pushdowntest.Entry(r, nil))
	})
}

func FuzzTranslate(f *testing.F) {
	seeds := []string{"(uid=jdoe)", "(&(objectClass=person)(uid=jdoe))", "(|(uid=a)(!(cn=b*c*d)))",
		`(cn=\22\29 or \28uid pr)`, "(cn:dn:2.5.13.5:=J)", "(!(userPassword=x))"}
	pushdowntest.FuzzTranslate(f, seeds, MaxFilterLen, Translate, func(t *testing.T, flt *filter.Filter, r *rand.Rand) {
		check(t, flt, pushdowntest.Entry(r, nil))
	})
}
