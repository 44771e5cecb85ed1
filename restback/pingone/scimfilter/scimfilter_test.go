package scimfilter

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
		none  bool
		exact bool
	}{
		{"(uid=jdoe)", `username eq "jdoe"`, false, false},
		{"(mail=alice@example.com)", `email eq "alice@example.com"`, false, false},
		{"(&(objectClass=person)(uid=bob))", `username eq "bob"`, false, false},
		{"(|(uid=alice)(uid=bob))", `username eq "alice" or username eq "bob"`, false, false},
		{"(uid=ali*)", `username sw "ali"`, false, false},
		{"(uid=*ice)", ``, false, false}, // no ew on username
		{"(mail=*@example.com)", `email ew "@example.com"`, false, false},
		{"(sn=Jo*es)", `name.family sw "Jo" and name.family ew "es"`, false, false},
		{"(cn=*oh*)", ``, false, false}, // co not documented
		{"(givenName=  John   Paul )", `name.given eq "John Paul"`, false, false},
		{"(cn=John *)", `name.formatted sw "John "`, false, false},
		{"(&(sn=Smith)(givenName=W*))", `name.family eq "Smith" and name.given sw "W"`, false, false},
		{"(&(objectClass=person)(|(uid=a)(mail=b)))", `username eq "a" or email eq "b"`, false, false},
		{"(title=Engineer)", `title eq "Engineer"`, false, false},
		// Left to the bridge.
		{"(telephoneNumber=+1 555 0100)", ``, false, false},
		{"(entryUUID=5c1a6a4e-0b9b-4f7b-9b2a-3c4d5e6f7a8b)", ``, false, false},
		{"(uid=*)", ``, false, false}, // no pr documented
		{"(!(uid=jdoe))", ``, false, false},
		{"(description=x)", ``, false, false},
		{"(&(uid=a)(description=x))", `username eq "a"`, false, false},
		{"(|(uid=a)(description=x))", ``, false, false},
		{"(uid>=a)", ``, true, true}, // uid has no ordering rule: never TRUE
		// objectClass is the same on every user.
		{"(objectClass=inetOrgPerson)", ``, false, true},
		{"(objectClass=groupOfNames)", ``, true, true},
		{"(!(objectClass=groupOfNames))", ``, false, true},
		{"(&(objectClass=groupOfNames)(uid=a))", ``, true, true},
		{"(|(objectClass=groupOfNames)(uid=a))", `username eq "a"`, false, false},
		// Passwords are never sent.
		{"(userPassword=secret)", ``, true, true},
		{"(&(uid=a)(!(userPassword=secret)))", `username eq "a"`, false, false},
		// Values with control characters and long values stay with the bridge.
		{`(uid=a\00b)`, ``, false, false},
		{`(uid=a\01*)`, ``, false, false},
		// Long values stay with the bridge.
		{"(uid=" + strings.Repeat("x", MaxValueLen+1) + ")", ``, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.ldap, func(t *testing.T) {
			pushdowntest.CheckTranslation(t, Translate, tc.ldap, pushdown.Result{Filter: tc.want, Exact: tc.exact, None: tc.none})
		})
	}
}

func TestInjection(t *testing.T) {
	for _, v := range []string{
		`"`, `\`, `x" or username pr or "`, `") or (email sw "`, ` or `, `) and (`, "a\nb",
		`not (username pr)`, "\u2028", `\u0022`, strings.Repeat(`"\`, MaxValueLen/2),
	} {
		f := &filter.Filter{Kind: filter.Equality, Attr: "uid", Value: v}
		pushdowntest.CheckComparison(t, v, Translate(f).Filter, "username", filter.FoldSpaces(v, filter.Whole))
	}
}

func TestConfigRefusesBadMaps(t *testing.T) {
	bad := [][]Mapping{
		{{LDAP: "uid", PingOne: `username eq "x" or id`, Ops: []pushdown.Op{pushdown.Eq}}},
		{{LDAP: "uid", PingOne: "username"}, {LDAP: "userid", PingOne: "email"}},
		{{LDAP: "1.2.3", PingOne: "username"}},
		{{LDAP: "uid", PingOne: "username", Ops: []pushdown.Op{pushdown.And}}},
	}
	for _, ms := range bad {
		if _, err := Config(ms, nil); err == nil {
			t.Errorf("Config(%v) accepted", ms)
		}
	}
	if _, err := Config(nil, nil); err != nil {
		t.Fatalf("default map: %v", err)
	}
	if n, ok := PingOneName(DefaultMappings(), "surname", nil); !ok || n != "name.family" {
		t.Errorf("PingOneName(surname) = %q, %v", n, ok)
	}
}

// reference evaluates a PingOne users filter as PingOne is documented to:
// strings compared without regard to case (RFC 7643 caseExact=false),
// spaces significant; no three-valued logic.
func reference(e *pushdown.Expr, user map[string][]string) bool {
	switch e.Op {
	case pushdown.And:
		for _, s := range e.Sub {
			if !reference(s, user) {
				return false
			}
		}
		return true
	case pushdown.Or:
		for _, s := range e.Sub {
			if reference(s, user) {
				return true
			}
		}
		return false
	case pushdown.Not:
		return !reference(e.Sub[0], user)
	}
	want := filter.FoldCase(e.Value)
	for _, v := range user[e.Attr] {
		v = filter.FoldCase(v)
		switch e.Op {
		case pushdown.Pr:
			if v != "" {
				return true
			}
		case pushdown.Eq:
			if v == want {
				return true
			}
		case pushdown.Sw:
			if strings.HasPrefix(v, want) {
				return true
			}
		case pushdown.Ew:
			if strings.HasSuffix(v, want) {
				return true
			}
		case pushdown.Co:
			if strings.Contains(v, want) {
				return true
			}
		default:
			panic("unexpected operator " + string(e.Op))
		}
	}
	return false
}

// user returns the PingOne view of an LDAP entry built from a PingOne user.
func user(e filter.Entry) map[string][]string {
	u := map[string][]string{}
	for k, v := range e {
		if n, ok := PingOneName(defaultMappings, k, schema); ok {
			u[n] = append(u[n], v...)
		}
	}
	return u
}

// entry makes a random entry as the bridge would build it from a PingOne
// user: the synthesized objectClass, and mapped attributes stored without
// insignificant spaces (the assumption Target.FoldSpaces documents).
var (
	defaultMappings = DefaultMappings()
	schema          = filter.DefaultSchema()
)

func entry(r *rand.Rand) filter.Entry {
	e := pushdowntest.Entry(r, func(name string) bool {
		_, ok := PingOneName(defaultMappings, name, schema)
		return ok
	})
	e["objectclass"] = ObjectClasses
	for k := range e {
		if strings.Contains(k, ";") {
			delete(e, k) // PingOne users have no attribute options
		}
	}
	return e
}

// check asserts the superset property (not exactness) of the translation
// of f on entry e.
func check(t *testing.T, f *filter.Filter, e filter.Entry) {
	t.Helper()
	pushdowntest.CheckSuperset(t, f, e, Translate(f), func(x *pushdown.Expr) bool {
		return reference(x, user(e))
	}, false)
}

func TestSuperset(t *testing.T) {
	pushdowntest.Repeat(rand.New(rand.NewPCG(3, 4)), func(r *rand.Rand) {
		check(t, pushdowntest.Filter(r, 3), entry(r))
	})
}

func FuzzTranslate(f *testing.F) {
	seeds := []string{"(uid=jdoe)", "(&(objectClass=person)(uid=jdoe))", "(|(uid=a)(!(cn=b*c*d)))",
		`(uid=\22\29 or \28username pr)`, "(sn=  a  b *c)", "(!(objectClass=x))"}
	pushdowntest.FuzzTranslate(f, seeds, MaxFilterLen, Translate, func(t *testing.T, flt *filter.Filter, r *rand.Rand) {
		check(t, flt, entry(r))
	})
}
