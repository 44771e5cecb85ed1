package pingdirectory

import (
	"bytes"
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
	"github.com/ldapbridge/ldapbridge/restback/pingdirectory/dirfilter"
	"github.com/ldapbridge/ldapbridge/restback/transport"
	"github.com/ldapbridge/ldapbridge/search/filter"
)

// callSearch names the subtree search in the backend metrics.
const callSearch = "search" // POST /directory/v1/{dn}/subtree/search

// Page sizes asked of the directory.
const (
	defaultSearchPage = 100
	maxSearchPage     = 1000
	maxSearchCursor   = 4096
)

var _ bridge.Searcher = (*Client)(nil)

// searchScopes are the Directory REST API's names of the LDAP scopes
// (List All Entries: baseObject, singleLevel, wholeSubtree).
var searchScopes = map[bridge.Scope]string{
	bridge.ScopeBase: "baseObject",
	bridge.ScopeOne:  "singleLevel",
	bridge.ScopeSub:  "wholeSubtree",
}

// Search implements bridge.Searcher with the Directory REST API's
// subtree search (POST /directory/v1/{baseDN}/subtree/search with filter,
// searchScope, limit and includeAttributes; the next page's request body
// is the next link's data), as the bound user with Basic authentication
// so that PingDirectory applies its own access control, or, for the
// bridge's own accounts, with the backend's administrative credentials.
func (c *Client) Search(ctx context.Context, req bridge.BackendSearch, emit func(bridge.Entry) bool) (string, bridge.Outcome) {
	actor := req.Actor
	// bearer: the service account is an OAuth 2 client; its token acts.
	bearer := ""
	if actor.DN == "" {
		switch {
		case c.token != nil:
			tctx, cancel := context.WithTimeout(ctx, c.timeout)
			tok, err := c.token.get(tctx)
			cancel()
			if err != nil {
				return "", c.tokenOutcome(ctx, err)
			}
			bearer = tok
		case c.admin.DN != "":
			actor = c.admin
		default:
			return "", bridge.Fail(bridge.InsufficientAccessRights, fmt.Sprintf(
				"PingDirectory backend %q has no service credentials for searches by the bridge's own accounts", c.name))
		}
	}
	if bearer == "" && strings.Contains(actor.DN, ":") {
		return "", bridge.Fail(bridge.UnwillingToPerform, "this DN contains ':', which HTTP Basic authentication to PingDirectory cannot carry")
	}
	base, err := bridge.ParseDN(req.Base)
	if err != nil {
		return "", bridge.Fail(bridge.InvalidDNSyntax, "invalid DN syntax of the search base")
	}
	tr := dirfilter.Translate(req.Filter)
	if tr.None {
		return "", bridge.Outcome{}
	}
	scope, ok := searchScopes[req.Scope]
	if !ok {
		return "", bridge.Fail(bridge.ProtocolError, "unknown search scope")
	}
	size := defaultSearchPage
	if req.Paged && req.PageSize > 0 {
		size = min(req.PageSize, maxSearchPage)
	} else if req.Limit > 0 && tr.Exact {
		size = min(req.Limit, maxSearchPage)
	}
	var body []byte
	if req.Cursor != "" {
		if len(req.Cursor) > maxSearchCursor || !json.Valid([]byte(req.Cursor)) {
			return "", bridge.Fail(bridge.UnwillingToPerform, "invalid paged results cookie")
		}
		body = []byte(req.Cursor)
	} else {
		q := map[string]any{"searchScope": scope, "limit": size, "includeAttributes": includeAttributes(req.Attributes)}
		if tr.Filter != "" {
			q["filter"] = tr.Filter
		}
		body, _ = json.Marshal(q)
	}
	scanned := 0
	for {
		ex := c.send(ctx, transport.Read, callSearch, func(ctx context.Context) (*http.Request, error) {
			u := c.endpoint(req.Base, "subtree/search")
			r, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), bytes.NewReader(body))
			if err != nil {
				return nil, fmt.Errorf("build search request: %w", err)
			}
			r.URL = u
			if bearer != "" {
				r.Header.Set("Authorization", "Bearer "+bearer)
			} else {
				r.SetBasicAuth(actor.DN, actor.Password.Reveal())
			}
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("Accept", acceptJSON)
			r.Header.Set("User-Agent", userAgent)
			return r, nil
		})
		if out, failed := c.searchFailure(ex); failed {
			return "", out
		}
		page, err := decodeSearchPage(ex.Body)
		if err != nil {
			return "", bridge.Fail(bridge.Other, fmt.Sprintf("PingDirectory backend %q: %v", c.name, err))
		}
		for _, e := range page.entries {
			scanned++
			if tr.Filter == "" && req.MaxScan > 0 && scanned > req.MaxScan {
				return "", bridge.Fail(bridge.AdminLimitExceeded, fmt.Sprintf(
					"the search would read more than %d entries; narrow the filter", req.MaxScan))
			}
			dn, err := bridge.ParseDN(e.DN)
			if err != nil || !inScope(base, dn, req.Scope) {
				// Not where the search asked: not the directory's answer
				// to this search.
				continue
			}
			if !tr.Exact && !filter.Matches(req.Filter, filterEntry(e), nil) {
				continue
			}
			if !emit(e) {
				return "", bridge.Outcome{}
			}
		}
		if page.next == nil {
			return "", bridge.Outcome{}
		}
		if req.Paged {
			return string(page.next), bridge.Outcome{}
		}
		body = page.next
	}
}

// inScope reports whether dn is in the scope s of base.
func inScope(base, dn *ldap.DN, s bridge.Scope) bool {
	switch s {
	case bridge.ScopeBase:
		return dn.EqualFold(base)
	case bridge.ScopeOne:
		return base.AncestorOfFold(dn) && len(dn.RDNs) == len(base.RDNs)+1
	}
	return dn.EqualFold(base) || base.AncestorOfFold(dn)
}

// filterEntry is e as the filter evaluator reads it.
func filterEntry(e bridge.Entry) filter.Entry {
	fe := make(filter.Entry, len(e.Attrs))
	for _, a := range e.Attrs {
		fe[a.Name] = append(fe[a.Name], a.Values...)
	}
	return fe
}

// searchFailure maps an answer that is not a page of entries.
func (c *Client) searchFailure(ex *exchange) (bridge.Outcome, bool) {
	if ex.Err != nil {
		return c.transportOutcome(opBind, ex), true
	}
	if ex.Status >= 200 && ex.Status < 300 {
		if ex.BodyErr != nil || !transport.IsJSON(ex.Header.Get("Content-Type")) {
			return bridge.Fail(bridge.Unavailable, fmt.Sprintf(
				"PingDirectory backend %q answered HTTP %d to a search without a readable JSON body", c.name, ex.Status)), true
		}
		return bridge.Outcome{}, false
	}
	res, hasRes := readResult(ex)
	switch {
	case ex.Status == http.StatusUnauthorized:
		return bridge.Fail(bridge.InsufficientAccessRights, "PingDirectory did not accept the credentials the search runs with"), true
	case hasRes && res.hasCode && ex.Status < 500 && ex.Status != http.StatusTooManyRequests:
		out := bridge.Fail(res.code, res.diagnostic)
		out.MatchedDN = res.matchedDN
		return out, true
	}
	return c.statusOutcome(opBind, ex, res, hasRes), true
}

// includeAttributes asks for every user attribute, and the operational
// ones when the client named anything else: the core selects what goes
// back, and the filter may need attributes the client did not ask for.
func includeAttributes(sel []string) string {
	for _, a := range sel {
		if a != "*" && a != "1.1" {
			return "*,_operationalAttributes"
		}
	}
	return "*"
}

// searchPage is one page of a subtree search.
type searchPage struct {
	entries []bridge.Entry
	// next is the next page's request body (the next link's data), nil
	// on the last page.
	next json.RawMessage
}

// decodeSearchPage reads a page: the entries under _embedded.entries
// (or a top-level entries array), each with _dn and its attributes, and
// _links.next, whose data is the request body of the next page
// ("Search Using POST": "The self and next links in the response have
// data attributes that contain the request body associated with the
// link"). See docs/ping-api.md, assumption A19.
func decodeSearchPage(body []byte) (searchPage, error) {
	var v struct {
		Embedded *struct {
			Entries []map[string]json.RawMessage `json:"entries"`
		} `json:"_embedded"`
		Entries []map[string]json.RawMessage `json:"entries"`
		Links   struct {
			Next *struct {
				Href string          `json:"href"`
				Data json.RawMessage `json:"data"`
			} `json:"next"`
		} `json:"_links"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return searchPage{}, fmt.Errorf("decode search answer: %w", err)
	}
	raw := v.Entries
	if v.Embedded != nil {
		raw = v.Embedded.Entries
	}
	var p searchPage
	for _, r := range raw {
		e, err := decodeEntry(r)
		if err != nil {
			return searchPage{}, err
		}
		p.entries = append(p.entries, e)
	}
	if n := v.Links.Next; n != nil {
		switch {
		case len(n.Data) > 0 && !bytes.Equal(n.Data, []byte("null")):
			var obj map[string]any
			if json.Unmarshal(n.Data, &obj) != nil || len(n.Data) > maxSearchCursor {
				return searchPage{}, fmt.Errorf("decode search answer: the next link's data is not a request body")
			}
			p.next, _ = json.Marshal(obj)
		case n.Href != "":
			// Only an href: its query parameters are the next request's.
			u, err := url.Parse(n.Href)
			if err != nil || len(u.RawQuery) > maxSearchCursor {
				return searchPage{}, fmt.Errorf("decode search answer: unreadable next link")
			}
			obj := map[string]any{}
			for k, vs := range u.Query() {
				if n, err := strconv.Atoi(vs[0]); err == nil && k == "limit" {
					obj[k] = n
				} else {
					obj[k] = vs[0]
				}
			}
			p.next, _ = json.Marshal(obj)
		}
	}
	return p, nil
}

// decodeEntry reads one entry: _dn, and every attribute that does not
// start with "_" (values a single JSON value or an array of them;
// strings as they are, other JSON as its text).
func decodeEntry(r map[string]json.RawMessage) (bridge.Entry, error) {
	var e bridge.Entry
	if err := json.Unmarshal(r["_dn"], &e.DN); err != nil || e.DN == "" {
		return e, fmt.Errorf("decode search answer: an entry without _dn")
	}
	names := make([]string, 0, len(r))
	for k := range r {
		if !strings.HasPrefix(k, "_") {
			names = append(names, k)
		}
	}
	sort.Strings(names)
	for _, k := range names {
		var vals []string
		var arr []json.RawMessage
		if json.Unmarshal(r[k], &arr) != nil {
			arr = []json.RawMessage{r[k]}
		}
		for _, x := range arr {
			var s string
			if json.Unmarshal(x, &s) == nil {
				vals = append(vals, s)
			} else {
				vals = append(vals, string(x))
			}
		}
		if len(vals) > 0 {
			e.Attrs = append(e.Attrs, bridge.Attribute{Name: k, Values: vals})
		}
	}
	return e, nil
}
