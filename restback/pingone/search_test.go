package pingone

import (
	"context"
	"slices"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/search/filter"
)

const peopleBase = "ou=people,dc=example,dc=com"

func eq(a, v string) *filter.Filter { return &filter.Filter{Kind: filter.Equality, Attr: a, Value: v} }

func (e *env) search(req bridge.BackendSearch) ([]bridge.Entry, string, bridge.Outcome) {
	e.t.Helper()
	req.Route.Base = peopleBase
	if req.Base == "" {
		req.Base = peopleBase
	}
	var got []bridge.Entry
	next, out := e.c.Search(context.Background(), req, func(en bridge.Entry) bool {
		got = append(got, en)
		return true
	})
	return got, next, out
}

func dns(es []bridge.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.DN)
	}
	return out
}

func attr(e bridge.Entry, name string) []string {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a.Values
		}
	}
	return nil
}

func TestSearchUsers(t *testing.T) {
	e := newEnv(t)
	if err := e.sim.SetProfile(e.ids["alice"], map[string]string{"name.given": "Alice", "name.family": "Liddell"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		base   string
		scope  bridge.Scope
		f      *filter.Filter
		want   []string
		code   bridge.ResultCode
		maxScn int
	}{
		{"uid", "", bridge.ScopeSub, eq("uid", "alice"), []string{dn("alice")}, bridge.Success, 0},
		{"uid any case", "", bridge.ScopeSub, eq("UID", "ALICE"), []string{dn("alice")}, bridge.Success, 0},
		{"mail", "", bridge.ScopeSub, eq("mail", "bob@example.com"), []string{dn("bob")}, bridge.Success, 0},
		{"sn", "", bridge.ScopeSub, eq("sn", "liddell"), []string{dn("alice")}, bridge.Success, 0},
		{"objectClass and uid", "", bridge.ScopeSub, &filter.Filter{Kind: filter.And, Sub: []*filter.Filter{eq("objectClass", "person"), eq("uid", "carol")}}, []string{dn("carol")}, bridge.Success, 0},
		{"prefix", "", bridge.ScopeSub, &filter.Filter{Kind: filter.Substrings, Attr: "uid", Initial: "ali", HasInitial: true}, []string{dn("alice")}, bridge.Success, 0},
		{"suffix of mail", "", bridge.ScopeOne, &filter.Filter{Kind: filter.Substrings, Attr: "mail", Final: "@example.com", HasFinal: true}, []string{dn("alice"), dn("bob"), dn("carol")}, bridge.Success, 0},
		{"no match", "", bridge.ScopeSub, eq("uid", "zed"), nil, bridge.Success, 0},
		{"other object class", "", bridge.ScopeSub, eq("objectClass", "groupOfNames"), nil, bridge.Success, 0},
		// An injection attempt is a value like any other: no user.
		{"injection", "", bridge.ScopeSub, eq("uid", `x" or username sw "`), nil, bridge.Success, 0},
		{"route base, base scope", "", bridge.ScopeBase, eq("objectClass", "person"), nil, bridge.Success, 0},
		{"own entry", dn("bob"), bridge.ScopeBase, &filter.Filter{Kind: filter.Present, Attr: "objectClass"}, []string{dn("bob")}, bridge.Success, 0},
		{"missing entry", dn("zed"), bridge.ScopeBase, &filter.Filter{Kind: filter.Present, Attr: "objectClass"}, nil, bridge.NoSuchObject, 0},
		{"not a user DN", "ou=x," + peopleBase, bridge.ScopeSub, &filter.Filter{Kind: filter.Present, Attr: "objectClass"}, nil, bridge.NoSuchObject, 0},
		{"unnarrowed, under the scan limit", "", bridge.ScopeSub, &filter.Filter{Kind: filter.Present, Attr: "objectClass"}, []string{dn("alice"), dn("bob"), dn("carol")}, bridge.Success, 3},
		{"unnarrowed, over the scan limit", "", bridge.ScopeSub, &filter.Filter{Kind: filter.Present, Attr: "objectClass"}, nil, bridge.AdminLimitExceeded, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, out := e.search(bridge.BackendSearch{Base: tc.base, Scope: tc.scope, Filter: tc.f, MaxScan: tc.maxScn})
			if out.Code != tc.code || (tc.code == bridge.Success && !slices.Equal(dns(got), tc.want)) {
				t.Fatalf("got %v %v, want %v %v", out, dns(got), tc.code, tc.want)
			}
		})
	}
	got, _, _ := e.search(bridge.BackendSearch{Scope: bridge.ScopeSub, Filter: eq("uid", "alice")})
	a := got[0]
	for name, want := range map[string][]string{
		"uid": {"alice"}, "mail": {"alice@example.com"}, "givenName": {"Alice"}, "sn": {"Liddell"},
		"cn": {"Alice Liddell"}, "objectClass": {"top", "person", "organizationalPerson", "inetOrgPerson"},
		"entryUUID": {e.ids["alice"]},
	} {
		if !slices.Equal(attr(a, name), want) {
			t.Errorf("%s = %v, want %v", name, attr(a, name), want)
		}
	}
}

// TestSearchFillsTheUserCache: the bind after a search needs no lookup,
// one request (the password check) in all.
func TestSearchFillsTheUserCache(t *testing.T) {
	e := newEnv(t)
	e.search(bridge.BackendSearch{Scope: bridge.ScopeSub, Filter: eq("mail", "carol@example.com")})
	n := e.requests(func() {
		if out := e.bind("carol", carolPW, bridge.RequestControls{}); !out.OK() {
			t.Fatalf("bind: %v", out)
		}
	})
	if n != 1 {
		t.Fatalf("the bind after a search made %d requests, want 1", n)
	}
}

func TestSearchPaging(t *testing.T) {
	e := newEnv(t)
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		got, next, out := e.search(bridge.BackendSearch{Scope: bridge.ScopeSub, Filter: &filter.Filter{Kind: filter.Present, Attr: "objectClass"},
			Paged: true, PageSize: 2, Cursor: cursor})
		if !out.OK() || len(got) > 2 {
			t.Fatalf("page %d: %v %v", pages, out, dns(got))
		}
		all = append(all, dns(got)...)
		if next == "" {
			break
		}
		cursor = next
	}
	if want := []string{dn("alice"), dn("bob"), dn("carol")}; !slices.Equal(all, want) {
		t.Fatalf("pages gave %v, want %v", all, want)
	}
	if _, _, out := e.search(bridge.BackendSearch{Scope: bridge.ScopeSub, Filter: eq("uid", "a"), Paged: true, PageSize: 2, Cursor: "%zz"}); out.OK() {
		t.Fatalf("a bad cursor: %v", out)
	}
}
