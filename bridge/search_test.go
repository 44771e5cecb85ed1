package bridge

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/search/filter"
)

// memDir is a Backend and Searcher over entries in memory, paging by
// index; it evaluates the filter itself, as a backend whose translation
// is inexact does.
type memDir struct {
	recorder
	entries []Entry
	calls   int
}

func (m *memDir) Search(_ context.Context, req BackendSearch, emit func(Entry) bool) (string, Outcome) {
	m.calls++
	base, _ := ParseDN(req.Base)
	start := 0
	if req.Cursor != "" {
		start = int(req.Cursor[0] - '0')
	}
	n := 0
	for i := start; i < len(m.entries); i++ {
		e := m.entries[i]
		dn, _ := ParseDN(e.DN)
		in := false
		switch req.Scope {
		case ScopeBase:
			in = dn.EqualFold(base)
		case ScopeOne:
			in = base.AncestorOfFold(dn) && len(dn.RDNs) == len(base.RDNs)+1
		case ScopeSub:
			in = dn.EqualFold(base) || base.AncestorOfFold(dn)
		}
		if !in || !filter.Matches(req.Filter, e.filterEntry(), nil) {
			continue
		}
		if req.Paged && n == req.PageSize {
			return string(rune('0' + i)), Outcome{}
		}
		n++
		if !emit(e) {
			return "", Outcome{}
		}
	}
	return "", Outcome{}
}

func person(dn, uid string) Entry {
	return Entry{DN: dn, Attrs: []Attribute{
		{Name: "objectClass", Values: []string{"top", "person"}},
		{Name: "uid", Values: []string{uid}},
		{Name: "userPassword", Values: []string{"{SSHA}secret"}},
		{Name: "pwdChangedTime", Values: []string{"20260101000000Z"}},
	}}
}

func searchCore(t *testing.T, access SearchAccess, limits SearchLimits) (*Bridge, *memDir, *memDir) {
	t.Helper()
	pd := &memDir{recorder: recorder{bindOut: Outcome{Code: Success}}, entries: []Entry{
		person("uid=bob,ou=staff,dc=example,dc=com", "bob"),
		person("uid=carol,ou=staff,dc=example,dc=com", "carol"),
		// Held by the directory but owned by the PingOne route.
		person("uid=alice,ou=people,dc=example,dc=com", "alice-shadow"),
	}}
	p1 := &memDir{recorder: recorder{bindOut: Outcome{Code: Success}}, entries: []Entry{
		person("uid=alice,ou=people,dc=example,dc=com", "alice"),
		person("uid=dave,ou=people,dc=example,dc=com", "dave"),
		person("uid=erin,ou=people,dc=example,dc=com", "erin"),
	}}
	st, err := NewState([]Route{
		{Base: "dc=example,dc=com", Backend: "pd", Searchers: []string{"cn=app,ou=services,dc=example,dc=com"}, Search: access},
		{Base: "ou=people,dc=example,dc=com", Backend: "p1", Admins: []string{"cn=admin,dc=example,dc=com"}, Searchers: []string{"cn=app,ou=services,dc=example,dc=com"}, Search: access},
	}, map[string]Backend{"pd": pd, "p1": p1}, []LocalAccount{{
		DN: "cn=app,ou=services,dc=example,dc=com", Verify: func(p []byte) bool { return string(p) == "app" },
	}}, WithSearchLimits(limits))
	if err != nil {
		t.Fatal(err)
	}
	return New(st, nil), pd, p1
}

func mustFilter(t *testing.T, s string) *filter.Filter {
	t.Helper()
	f, err := ldapFilter(s)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// ldapFilter builds the few filters the tests use, without a parser.
func ldapFilter(s string) (*filter.Filter, error) {
	s = strings.TrimSuffix(strings.TrimPrefix(s, "("), ")")
	if a, v, ok := strings.Cut(s, "="); ok {
		if v == "*" {
			return &filter.Filter{Kind: filter.Present, Attr: a}, nil
		}
		return &filter.Filter{Kind: filter.Equality, Attr: a, Value: v}, nil
	}
	return nil, nil
}

func runSearch(b *Bridge, p *Principal, req SearchRequest) ([]string, Decision, SearchDone) {
	var dns []string
	d, done := b.Search(context.Background(), p, req, func(e Entry) bool {
		for _, a := range e.Attrs {
			if filter.PasswordAttribute(a.Name) {
				dns = append(dns, "PASSWORD:"+a.Name)
			}
		}
		dns = append(dns, e.DN)
		return true
	})
	return dns, d, done
}

func TestSearchRoutingAndAccess(t *testing.T) {
	b, _, _ := searchCore(t, SearchAccess{}, SearchLimits{})
	app := bind(t, b, "cn=app,ou=services,dc=example,dc=com", "app")
	alice := bind(t, b, "uid=alice,ou=people,dc=example,dc=com", "x")
	bob := bind(t, b, "uid=bob,ou=staff,dc=example,dc=com", "x")
	admin := bind(t, b, "cn=admin,dc=example,dc=com", "x")
	for _, tc := range []struct {
		name    string
		p       *Principal
		base    string
		scope   Scope
		filter  string
		code    ResultCode
		want    []string
		matched string
	}{
		{"people by uid", app, "ou=people,dc=example,dc=com", ScopeSub, "(uid=alice)", Success, []string{"uid=alice,ou=people,dc=example,dc=com"}, ""},
		{"staff by uid", app, "ou=staff,dc=example,dc=com", ScopeSub, "(uid=bob)", Success, []string{"uid=bob,ou=staff,dc=example,dc=com"}, ""},
		{"no match", app, "ou=people,dc=example,dc=com", ScopeSub, "(uid=zed)", Success, nil, ""},
		// The directory's copy of alice is not the PingOne route's: it is
		// dropped, and alice comes once, from PingOne.
		{"whole tree", app, "dc=example,dc=com", ScopeSub, "(uid=alice)", Success, []string{"uid=alice,ou=people,dc=example,dc=com"}, ""},
		{"route base container", app, "ou=people,dc=example,dc=com", ScopeBase, "(objectClass=*)", Success, []string{"ou=people,dc=example,dc=com"}, ""},
		{"one level of the top", app, "dc=example,dc=com", ScopeOne, "(objectClass=*)", Success, []string{"ou=people,dc=example,dc=com"}, ""},
		{"outside every route", app, "dc=other,dc=org", ScopeSub, "(objectClass=*)", NoSuchObject, nil, ""},
		{"missing base", app, "uid=zed,ou=people,dc=example,dc=com", ScopeBase, "(objectClass=*)", Success, nil, ""},
		{"anonymous", nil, "ou=people,dc=example,dc=com", ScopeSub, "(uid=alice)", InsufficientAccessRights, nil, ""},
		{"user without the right", bob, "ou=people,dc=example,dc=com", ScopeSub, "(uid=alice)", InsufficientAccessRights, nil, ""},
		{"own entry", alice, "uid=alice,ou=people,dc=example,dc=com", ScopeBase, "(objectClass=*)", Success, []string{"uid=alice,ou=people,dc=example,dc=com"}, ""},
		{"own entry, subtree", alice, "uid=alice,ou=people,dc=example,dc=com", ScopeSub, "(objectClass=*)", InsufficientAccessRights, nil, ""},
		// Route admins may search their route, not the others.
		{"admin of people", admin, "ou=people,dc=example,dc=com", ScopeSub, "(uid=dave)", Success, []string{"uid=dave,ou=people,dc=example,dc=com"}, ""},
		{"admin elsewhere", admin, "ou=staff,dc=example,dc=com", ScopeSub, "(uid=bob)", InsufficientAccessRights, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, d, _ := runSearch(b, tc.p, SearchRequest{Base: tc.base, Scope: tc.scope, Filter: mustFilter(t, tc.filter)})
			if d.Outcome.Code != tc.code || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v %v, want %v %v", d.Outcome, got, tc.code, tc.want)
			}
			if d.Op != OpSearch {
				t.Fatalf("op %v", d.Op)
			}
		})
	}
}

func TestSearchBoundUsersAndAnonymous(t *testing.T) {
	b, _, _ := searchCore(t, SearchAccess{BoundUsers: true, Anonymous: true}, SearchLimits{})
	bob := bind(t, b, "uid=bob,ou=staff,dc=example,dc=com", "x")
	for _, p := range []*Principal{bob, nil} {
		got, d, _ := runSearch(b, p, SearchRequest{Base: "ou=people,dc=example,dc=com", Scope: ScopeSub, Filter: mustFilter(t, "(uid=alice)")})
		if !d.Outcome.OK() || len(got) != 1 {
			t.Fatalf("%v: %v %v", p.Identity(), d.Outcome, got)
		}
	}
}

func TestSearchSizeLimits(t *testing.T) {
	b, _, _ := searchCore(t, SearchAccess{}, SearchLimits{MaxEntries: 2})
	app := bind(t, b, "cn=app,ou=services,dc=example,dc=com", "app")
	all := SearchRequest{Base: "ou=people,dc=example,dc=com", Scope: ScopeOne, Filter: mustFilter(t, "(objectClass=*)")}

	req := all
	req.SizeLimit = 1
	got, d, done := runSearch(b, app, req)
	if d.Outcome.Code != SizeLimitExceeded || len(got) != 1 || done.Limit != "" {
		t.Fatalf("client limit: %v %v %q", d.Outcome, got, done.Limit)
	}
	got, d, done = runSearch(b, app, all)
	if d.Outcome.Code != SizeLimitExceeded || len(got) != 2 || done.Limit != "max_search_entries" {
		t.Fatalf("server limit: %v %v %q", d.Outcome, got, done.Limit)
	}
	req.SizeLimit = 5
	req.Filter = mustFilter(t, "(uid=alice)")
	if got, d, _ = runSearch(b, app, req); !d.Outcome.OK() || len(got) != 1 {
		t.Fatalf("under the limit: %v %v", d.Outcome, got)
	}
}

func TestSearchNeverReturnsPasswords(t *testing.T) {
	b, _, _ := searchCore(t, SearchAccess{}, SearchLimits{})
	app := bind(t, b, "cn=app,ou=services,dc=example,dc=com", "app")
	got, d, _ := runSearch(b, app, SearchRequest{Base: "dc=example,dc=com", Scope: ScopeSub, Filter: mustFilter(t, "(objectClass=*)")})
	if !d.Outcome.OK() || len(got) == 0 {
		t.Fatalf("%v %v", d.Outcome, got)
	}
	for _, g := range got {
		if strings.HasPrefix(g, "PASSWORD:") {
			t.Fatalf("returned %s", g)
		}
	}
}

func TestSearchPaged(t *testing.T) {
	b, _, _ := searchCore(t, SearchAccess{}, SearchLimits{})
	app := bind(t, b, "cn=app,ou=services,dc=example,dc=com", "app")
	req := SearchRequest{Base: "dc=example,dc=com", Scope: ScopeSub, Filter: mustFilter(t, "(uid=*)"), Paged: true, PageSize: 1}
	var all []string
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		got, d, done := runSearch(b, app, req)
		if !d.Outcome.OK() || len(got) > req.PageSize {
			t.Fatalf("page %d: %v %v", pages, d.Outcome, got)
		}
		all = append(all, got...)
		if len(done.Cookie) == 0 {
			break
		}
		req.Cookie = done.Cookie
	}
	slices.Sort(all)
	want := []string{"uid=alice,ou=people,dc=example,dc=com", "uid=bob,ou=staff,dc=example,dc=com",
		"uid=carol,ou=staff,dc=example,dc=com", "uid=dave,ou=people,dc=example,dc=com", "uid=erin,ou=people,dc=example,dc=com"}
	if !slices.Equal(all, want) {
		t.Fatalf("pages gave %v, want %v", all, want)
	}
	// With the containers (objectClass=*), each page still holds one entry.
	req = SearchRequest{Base: "dc=example,dc=com", Scope: ScopeSub, Filter: mustFilter(t, "(objectClass=*)"), Paged: true, PageSize: 1}
	n := 0
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("paging does not end")
		}
		got, d, done := runSearch(b, app, req)
		if !d.Outcome.OK() || len(got) > 1 {
			t.Fatalf("page %d: %v %v", pages, d.Outcome, got)
		}
		n += len(got)
		if len(done.Cookie) == 0 {
			break
		}
		req.Cookie = done.Cookie
	}
	if n != 7 { // five people, two containers
		t.Fatalf("%d entries in all, want 7", n)
	}
	req.Cookie = []byte("not a cookie")
	if _, d, _ := runSearch(b, app, req); d.Outcome.Code != UnwillingToPerform {
		t.Fatalf("bad cookie: %v", d.Outcome)
	}
}

func TestSearchCookieIsBoundToItsSearch(t *testing.T) {
	b, _, _ := searchCore(t, SearchAccess{}, SearchLimits{})
	app := bind(t, b, "cn=app,ou=services,dc=example,dc=com", "app")
	admin := bind(t, b, "cn=admin,dc=example,dc=com", "x")
	req := SearchRequest{Base: "ou=people,dc=example,dc=com", Scope: ScopeSub, Filter: mustFilter(t, "(uid=*)"), Paged: true, PageSize: 1}
	_, d, done := runSearch(b, app, req)
	if !d.Outcome.OK() || len(done.Cookie) == 0 {
		t.Fatalf("first page: %v %q", d.Outcome, done.Cookie)
	}
	for name, mod := range map[string]func(r *SearchRequest) *Principal{
		"other filter":  func(r *SearchRequest) *Principal { r.Filter = mustFilter(t, "(uid=alice)"); return app },
		"other base":    func(r *SearchRequest) *Principal { r.Base = "dc=example,dc=com"; return app },
		"other session": func(r *SearchRequest) *Principal { return admin },
		"tampered": func(r *SearchRequest) *Principal {
			r.Cookie = append([]byte(nil), r.Cookie...)
			r.Cookie[len(r.Cookie)-2] ^= 1
			return app
		},
	} {
		t.Run(name, func(t *testing.T) {
			r := req
			r.Cookie = done.Cookie
			p := mod(&r)
			if _, d, _ := runSearch(b, p, r); d.Outcome.Code != UnwillingToPerform {
				t.Fatalf("%v", d.Outcome)
			}
		})
	}
	r := req
	r.Cookie = done.Cookie
	if _, d, _ := runSearch(b, app, r); !d.Outcome.OK() {
		t.Fatalf("the right search: %v", d.Outcome)
	}
}

// slowDir answers a search only when its context ends.
type slowDir struct{ recorder }

func (s *slowDir) Search(ctx context.Context, _ BackendSearch, _ func(Entry) bool) (string, Outcome) {
	<-ctx.Done()
	return "", Fail(Unavailable, "gave up")
}

func TestSearchTimeLimit(t *testing.T) {
	st, err := NewState([]Route{{Base: "dc=example,dc=com", Backend: "slow", Search: SearchAccess{Anonymous: true}}},
		map[string]Backend{"slow": &slowDir{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := New(st, nil)
	_, d, done := runSearch(b, nil, SearchRequest{Base: "dc=example,dc=com", Scope: ScopeSub, Filter: mustFilter(t, "(uid=x)"), TimeLimit: 50 * time.Millisecond})
	if d.Outcome.Code != TimeLimitExceeded || done.Limit != "search_time_limit" {
		t.Fatalf("%v %q", d.Outcome, done.Limit)
	}
}
