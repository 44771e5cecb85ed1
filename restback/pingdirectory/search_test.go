package pingdirectory

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/search/filter"
)

func eq(a, v string) *filter.Filter { return &filter.Filter{Kind: filter.Equality, Attr: a, Value: v} }

var everyone = &filter.Filter{Kind: filter.Present, Attr: "objectClass"}

func runSearch(t *testing.T, c *Client, req bridge.BackendSearch) ([]bridge.Entry, string, bridge.Outcome) {
	t.Helper()
	if req.Route.Base == "" {
		req.Route.Base = "dc=example,dc=com"
	}
	if req.Base == "" {
		req.Base = people
	}
	var got []bridge.Entry
	next, out := c.Search(context.Background(), req, func(e bridge.Entry) bool {
		got = append(got, e)
		return true
	})
	return got, next, out
}

func entryDNs(es []bridge.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.DN)
	}
	return out
}

func TestSearchSubtree(t *testing.T) {
	sim, u := startSim(t, simPolicy, nil)
	for dn, mail := range map[string]string{aliceDN: "alice@example.com", bobDN: "bob@example.com"} {
		if err := sim.SetAttributes(dn, map[string][]string{"mail": {mail}, "cn": {strings.ToUpper(mail[:1]) + mail[1:3]}}); err != nil {
			t.Fatal(err)
		}
	}
	c, _ := newClient(t, u, func(cfg *Config) { cfg.AdminDN, cfg.AdminPassword = adminDN, secret(adminPW) })
	admin := creds(adminDN, adminPW)
	for _, tc := range []struct {
		name  string
		actor bridge.Credentials
		base  string
		scope bridge.Scope
		f     *filter.Filter
		want  []string
		code  bridge.ResultCode
	}{
		{"uid as admin", admin, "", bridge.ScopeSub, eq("uid", "alice"), []string{aliceDN}, bridge.Success},
		{"service credential", bridge.Credentials{}, "", bridge.ScopeSub, eq("mail", "BOB@example.com"), []string{bobDN}, bridge.Success},
		{"prefix", admin, "", bridge.ScopeSub, &filter.Filter{Kind: filter.Substrings, Attr: "uid", Initial: "ali", HasInitial: true}, []string{aliceDN}, bridge.Success},
		{"or", admin, "dc=example,dc=com", bridge.ScopeSub, &filter.Filter{Kind: filter.Or, Sub: []*filter.Filter{eq("uid", "alice"), eq("uid", "bob")}}, []string{aliceDN, bobDN}, bridge.Success},
		{"one level", admin, "", bridge.ScopeOne, everyone, []string{aliceDN, bobDN}, bridge.Success},
		{"base", admin, bobDN, bridge.ScopeBase, everyone, []string{bobDN}, bridge.Success},
		{"no match", admin, "", bridge.ScopeSub, eq("uid", "zed"), nil, bridge.Success},
		// A value cannot change the filter's structure: no entry.
		{"injection", admin, "", bridge.ScopeSub, eq("uid", `x" or uid pr or uid eq "`), nil, bridge.Success},
		// The directory's own access control: a user sees only itself.
		{"as a user", creds(aliceDN, alicePW), "", bridge.ScopeSub, everyone, []string{aliceDN}, bridge.Success},
		{"wrong password", creds(aliceDN, "nope"), "", bridge.ScopeSub, everyone, nil, bridge.InsufficientAccessRights},
		{"missing base", admin, "ou=nowhere,dc=example,dc=com", bridge.ScopeSub, everyone, nil, bridge.NoSuchObject},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _, out := runSearch(t, c, bridge.BackendSearch{Base: tc.base, Scope: tc.scope, Filter: tc.f, Actor: tc.actor})
			if out.Code != tc.code || !slices.Equal(entryDNs(got), tc.want) {
				t.Fatalf("got %v %v, want %v %v", out, entryDNs(got), tc.code, tc.want)
			}
		})
	}
	got, _, _ := runSearch(t, c, bridge.BackendSearch{Scope: bridge.ScopeSub, Filter: eq("uid", "alice"), Actor: admin})
	if len(got) != 1 {
		t.Fatal(got)
	}
	var mail []string
	for _, a := range got[0].Attrs {
		if a.Name == "mail" {
			mail = a.Values
		}
	}
	if !slices.Equal(mail, []string{"alice@example.com"}) {
		t.Fatalf("attributes %+v", got[0].Attrs)
	}
}

func TestSearchPagingAndScan(t *testing.T) {
	_, u := startSim(t, simPolicy, nil)
	c, _ := newClient(t, u, nil)
	admin := creds(adminDN, adminPW)
	var all []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 5 {
			t.Fatal("paging does not end")
		}
		got, next, out := runSearch(t, c, bridge.BackendSearch{Base: "dc=example,dc=com", Scope: bridge.ScopeSub, Filter: everyone,
			Actor: admin, Paged: true, PageSize: 1, Cursor: cursor})
		if !out.OK() || len(got) > 1 {
			t.Fatalf("page %d: %v %v", pages, out, entryDNs(got))
		}
		all = append(all, entryDNs(got)...)
		if next == "" {
			break
		}
		cursor = next
	}
	if len(all) != 3 {
		t.Fatalf("pages gave %v", all)
	}
	// (&) asks for every entry: the directory cannot narrow it.
	if _, _, out := runSearch(t, c, bridge.BackendSearch{Base: "dc=example,dc=com", Scope: bridge.ScopeSub, Filter: &filter.Filter{Kind: filter.And}, Actor: admin, MaxScan: 2}); out.Code != bridge.AdminLimitExceeded {
		t.Fatalf("over the scan limit: %v", out)
	}
	if _, _, out := runSearch(t, c, bridge.BackendSearch{Scope: bridge.ScopeSub, Filter: everyone}); out.Code != bridge.InsufficientAccessRights {
		t.Fatalf("no service credential: %v", out)
	}
}
