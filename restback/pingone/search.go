package pingone

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/pingone/scimfilter"
	"github.com/ldapbridge/ldapbridge/search/filter"
	"github.com/ldapbridge/ldapbridge/search/pushdown"
)

// callSearchUsers names the users list request of a search in the
// backend metrics.
const callSearchUsers = "search_users"

// searchPageSize is the page asked of PingOne when the client does not
// page; PingOne's users page holds at most 200 (see docs/search-filters.md).
const searchPageSize = 200

// maxCursor bounds a cursor taken from a next link (and sent back by the
// client inside a paged results cookie).
const maxCursor = 2048

// searchState is the client's search configuration: the attribute map
// and the filter translation it gives.
type searchState struct {
	maps []scimfilter.Mapping
	tr   *pushdown.Config
	// fillCache: the DN-to-user filter is the default (username eq
	// "{uid}"), so a user found by a search can be put in the user cache
	// under the key the bind that follows will look up.
	fillCache bool
}

// knownOps are the operators PingOne documents on its user attributes
// (docs/search-filters.md), for an attribute map that names them.
var knownOps = func() map[string][]pushdown.Op {
	m := map[string][]pushdown.Op{}
	for _, d := range scimfilter.DefaultMappings() {
		m[d.PingOne] = d.Ops
	}
	return m
}()

// Mappings returns the default map with overrides (LDAP name → PingOne
// attribute path) applied; the operators of a remapped attribute are
// those PingOne documents for the new path, none if it is not listed.
func Mappings(overrides map[string]string) ([]scimfilter.Mapping, error) {
	ms := scimfilter.DefaultMappings()
	s := filter.DefaultSchema()
	names := make([]string, 0, len(overrides))
	for k := range overrides {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, ldapName := range names {
		path := overrides[ldapName]
		want, _, ok := s.Canonical(ldapName)
		if !ok {
			return nil, fmt.Errorf("attribute map: %q is not an LDAP attribute name", ldapName)
		}
		if filter.PasswordAttribute(ldapName) {
			return nil, fmt.Errorf("attribute map: %q is a password attribute, which a search never returns", ldapName)
		}
		if !pushdown.ValidAttr(path) {
			return nil, fmt.Errorf("attribute map: %s: %q is not a PingOne attribute path", ldapName, path)
		}
		m := scimfilter.Mapping{LDAP: ldapName, PingOne: path, Ops: knownOps[path]}
		replaced := false
		for i := range ms {
			if n, _, _ := s.Canonical(ms[i].LDAP); n == want {
				ms[i], replaced = m, true
			}
		}
		if !replaced {
			ms = append(ms, m)
		}
	}
	if _, err := scimfilter.Config(ms, s); err != nil {
		return nil, err
	}
	return ms, nil
}

func newSearchState(ms []scimfilter.Mapping, userFilter *filterTemplate) (searchState, error) {
	if ms == nil {
		ms = scimfilter.DefaultMappings()
	}
	tr, err := scimfilter.Config(ms, nil)
	if err != nil {
		return searchState{}, err
	}
	def, _ := parseFilterTemplate(DefaultUserFilter)
	same := userFilter != nil && def != nil && fmt.Sprint(userFilter.parts, userFilter.attrs) == fmt.Sprint(def.parts, def.attrs)
	return searchState{maps: ms, tr: tr, fillCache: same}, nil
}

var _ bridge.Searcher = (*Client)(nil)

// Search implements bridge.Searcher over the users list (GET
// /environments/{envID}/users with a SCIM filter and a limit, cursor
// paging by the next link), with the worker token: PingOne users are the
// entries uid={username},<route base>; the route base itself is the
// core's. PingOne's answer is a superset (no translation is exact), so
// every candidate is evaluated here.
func (c *Client) Search(ctx context.Context, req bridge.BackendSearch, emit func(bridge.Entry) bool) (string, bridge.Outcome) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	routeBase, err := bridge.ParseDN(req.Route.Base)
	if err != nil {
		return "", bridge.Fail(bridge.Other, "the route base is not a DN")
	}
	base, err := bridge.ParseDN(req.Base)
	if err != nil {
		return "", bridge.Fail(bridge.InvalidDNSyntax, "invalid DN syntax of the search base")
	}
	f := req.Filter
	switch {
	case base.EqualFold(routeBase):
		if req.Scope == bridge.ScopeBase {
			// The container is the core's to show.
			return "", bridge.Outcome{}
		}
	case len(base.RDNs) == len(routeBase.RDNs)+1 && routeBase.AncestorOfFold(base):
		// A user's own entry: found by its username, then filtered.
		uid, ok := bridge.RDNValue(base, "uid")
		if !ok || len(base.RDNs[0].Attributes) != 1 {
			return "", noSuchEntry(req.Route.Base)
		}
		if req.Scope == bridge.ScopeOne {
			return "", bridge.Outcome{} // users have no children
		}
		probe := &filter.Filter{Kind: filter.Equality, Attr: "uid", Value: uid}
		exists := false
		req.Paged, req.Cursor = false, ""
		_, _, out := c.searchPagesCursor(ctx, req, probe, routeBase, func(e bridge.Entry, fe filter.Entry) bool {
			if !filter.Matches(probe, fe, nil) {
				return true
			}
			exists = true
			if filter.Matches(f, fe, nil) {
				return emit(e)
			}
			return true
		}, nil)
		if out.OK() && !exists {
			return "", noSuchEntry(req.Route.Base)
		}
		return "", out
	default:
		return "", noSuchEntry(req.Route.Base)
	}
	next, _, out := c.searchPagesCursor(ctx, req, f, routeBase, nil, emit)
	return next, out
}

func noSuchEntry(matched string) bridge.Outcome {
	return bridge.Outcome{Code: bridge.NoSuchObject, Diagnostic: "no such entry", MatchedDN: matched}
}

// searchPagesCursor lists the users PingOne finds for the translation of
// f, one page (req.Paged) or all of them, and passes those f matches to
// emit (or every candidate to raw). It returns the next page's cursor.
func (c *Client) searchPagesCursor(ctx context.Context, req bridge.BackendSearch, f *filter.Filter, routeBase *ldap.DN,
	raw func(bridge.Entry, filter.Entry) bool, emit func(bridge.Entry) bool) (string, int, bridge.Outcome) {
	tr := c.srch.tr.Translate(f)
	if tr.None {
		return "", 0, bridge.Outcome{}
	}
	size := searchPageSize
	if req.Paged && req.PageSize > 0 {
		size = min(req.PageSize, searchPageSize)
	}
	if req.Limit > 0 && tr.Exact {
		size = min(size, req.Limit)
	}
	query := url.Values{}
	if req.Cursor != "" {
		q, err := url.ParseQuery(req.Cursor)
		if err != nil || len(req.Cursor) > maxCursor {
			return "", 0, bridge.Fail(bridge.UnwillingToPerform, "invalid paged results cookie")
		}
		query = q
	} else {
		if tr.Filter != "" {
			query.Set("filter", tr.Filter)
		}
		query.Set("limit", strconv.Itoa(size))
	}
	scanned := 0
	for {
		resp, oe := c.call(ctx, readCall, callSearchUsers, http.MethodGet, "/users", query, "", nil)
		if oe != nil {
			return "", scanned, oe.outcome(opChange)
		}
		if resp.status != http.StatusOK {
			if resp.status == http.StatusNotFound {
				return "", scanned, (&opError{f: fProtocol, detail: "the user search answered HTTP 404; check the API URL", requestID: resp.requestID}).outcome(opChange)
			}
			return "", scanned, classify(resp.status, resp.body, resp.requestID).outcome(opChange)
		}
		page, err := decodeUserPage(resp.body)
		if err != nil {
			return "", scanned, (&opError{f: fProtocol, detail: err.Error(), requestID: resp.requestID}).outcome(opChange)
		}
		for _, u := range page.users {
			scanned++
			if tr.Filter == "" && req.MaxScan > 0 && scanned > req.MaxScan {
				return "", scanned, bridge.Fail(bridge.AdminLimitExceeded,
					fmt.Sprintf("the search would read more than %d PingOne users; narrow the filter (uid, mail, givenName, sn, cn)", req.MaxScan))
			}
			e, fe, ok := c.userEntry(u, routeBase)
			if !ok {
				continue
			}
			if raw != nil {
				if !raw(e, fe) {
					return "", scanned, bridge.Outcome{}
				}
				continue
			}
			if !tr.Exact && !filter.Matches(f, fe, nil) {
				continue
			}
			if !emit(e) {
				return "", scanned, bridge.Outcome{}
			}
		}
		if page.next == "" {
			return "", scanned, bridge.Outcome{}
		}
		if req.Paged {
			return page.next, scanned, bridge.Outcome{}
		}
		q, err := url.ParseQuery(page.next)
		if err != nil {
			return "", scanned, (&opError{f: fProtocol, detail: "unreadable next link"}).outcome(opChange)
		}
		query = q
	}
}

// userPage is one page of the users list: the users as JSON objects and
// the query of the next link ("" on the last page).
type userPage struct {
	users []map[string]any
	next  string
}

// decodeUserPage reads {_embedded: {users: [...]}, _links: {next: {href}}}
// (docs/ping-api.md, call 2 and the search rows).
func decodeUserPage(body []byte) (userPage, error) {
	var v struct {
		Embedded *struct {
			Users []map[string]any `json:"users"`
		} `json:"_embedded"`
		Links struct {
			Next *struct {
				Href string `json:"href"`
			} `json:"next"`
		} `json:"_links"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return userPage{}, fmt.Errorf("decode user search: %w", err)
	}
	if v.Embedded == nil {
		return userPage{}, fmt.Errorf("decode user search: no _embedded")
	}
	p := userPage{users: v.Embedded.Users}
	if v.Links.Next != nil && v.Links.Next.Href != "" {
		u, err := url.Parse(v.Links.Next.Href)
		if err != nil || !strings.HasSuffix(u.Path, "/users") || len(u.RawQuery) > maxCursor {
			return userPage{}, fmt.Errorf("decode user search: the next link is not a users page")
		}
		p.next = u.RawQuery
	}
	return p, nil
}

// userEntry builds the LDAP entry of a PingOne user through the
// attribute map; ok is false for a user without a usable username or id.
// The entry's DN is the one a bind resolves to the same user, and the
// user's id goes into the user cache under that bind's key.
func (c *Client) userEntry(u map[string]any, routeBase *ldap.DN) (bridge.Entry, filter.Entry, bool) {
	username, _ := u["username"].(string)
	id, _ := u["id"].(string)
	if username == "" || !validID(id) {
		return bridge.Entry{}, nil, false
	}
	dn := "uid=" + ldap.EscapeDN(username)
	if len(routeBase.RDNs) > 0 {
		dn += "," + routeBase.String()
	}
	e := bridge.Entry{DN: dn}
	fe := filter.Entry{}
	add := func(name string, vals ...string) {
		if len(vals) == 0 {
			return
		}
		e.Attrs = append(e.Attrs, bridge.Attribute{Name: name, Values: vals})
		fe[name] = vals
	}
	add("objectClass", scimfilter.ObjectClasses...)
	hasCN := false
	for _, m := range c.srch.maps {
		vals := jsonValues(u, m.PingOne)
		if strings.EqualFold(m.LDAP, "cn") && len(vals) > 0 {
			hasCN = true
		}
		add(m.LDAP, vals...)
	}
	if !hasCN {
		given := jsonValues(u, "name.given")
		family := jsonValues(u, "name.family")
		if len(given) > 0 || len(family) > 0 {
			add("cn", strings.TrimSpace(strings.Join(append(given, family...), " ")))
		} else {
			add("cn", username)
		}
	}
	if c.srch.fillCache {
		if pdn, err := bridge.ParseDN(dn); err == nil {
			if key, err := c.filter.render(pdn); err == nil {
				// The cached user carries the values the identity rule
				// compares a bind's DN with, as a lookup would.
				pu := pingUser{id: id, names: make(map[string]string, len(c.filter.rdn))}
				for _, a := range c.filter.rdn {
					f := c.filter.names[a]
					if vals := jsonValues(u, f); len(vals) > 0 {
						pu.names[f] = vals[0]
					}
				}
				c.users.put(key, pu)
			}
		}
	}
	return e, fe, true
}

// jsonValues reads a dotted path of a user object as strings.
func jsonValues(u map[string]any, path string) []string {
	var cur any = u
	for _, part := range strings.Split(path, ".") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	switch v := cur.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case float64:
		return []string{strconv.FormatFloat(v, 'f', -1, 64)}
	case bool:
		if v {
			return []string{"TRUE"}
		}
		return []string{"FALSE"}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
