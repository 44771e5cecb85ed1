package config

import "testing"

// TestSearchSettings: the search keys are read, defaulted and checked
// with line numbers.
func TestSearchSettings(t *testing.T) {
	cfg := mustParse(t, edit(base, map[int]string{
		22: `    searchers: ["cn=app,ou=services,dc=example,dc=com"]` + "\n" + `    search: {bound_users: true}`,
		31: "search: {max_scan: 50}",
	}), ParseOptions{})
	r := cfg.Routes[0]
	if len(r.Searchers) != 1 || r.Searchers[0] != "cn=app,ou=services,dc=example,dc=com" || !r.Search.BoundUsers || r.Search.Anonymous {
		t.Errorf("route search settings %+v %+v", r.Searchers, r.Search)
	}
	if cfg.Search.MaxScan != 50 || cfg.Limits.MaxSearchEntries != 1000 {
		t.Errorf("max_scan %d, max_search_entries %d", cfg.Search.MaxScan, cfg.Limits.MaxSearchEntries)
	}
	if d := mustParse(t, base, ParseOptions{}); d.Search.MaxScan != 1000 || len(d.Routes[0].Searchers) != 0 {
		t.Errorf("defaults %+v", d.Search)
	}

	for _, tc := range []struct {
		name  string
		edits map[int]string
		want  []want
	}{
		{"bad searcher", map[int]string{22: `    searchers: ["not a dn"]`}, []want{{22, "routes[0].searchers[0]", "not a valid DN"}}},
		{"unknown key", map[int]string{22: `    search: {bound_user: true}`}, []want{{22, "routes[0].search.bound_user", ""}}},
		{"max_scan", map[int]string{31: "search: {max_scan: 0}"}, []want{{0, "search.max_scan", "between 1"}}},
		{"max_search_entries", map[int]string{4: "limits: {max_search_entries: -1}"}, []want{{0, "limits.max_search_entries", "at least 0"}}},
		{"attributes", map[int]string{13: "      attributes: {userPassword: password}"}, []want{{0, "backends[0].pingone.attributes", "password attribute"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := parse(t, edit(base, tc.edits), ParseOptions{})
			checkProblems(t, ps, tc.want)
		})
	}
}
