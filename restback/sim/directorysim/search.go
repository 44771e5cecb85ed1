package directorysim

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/ldapbridge/ldapbridge/search/filter"
	"github.com/ldapbridge/ldapbridge/search/pushdown"
)

// The subtree search of the Directory REST API ("Search Using POST",
// https://developer.pingidentity.com/pingdirectory/directory/subtree-apis/search-using-post.html;
// "List All Entries" for the scopes, paging and the next link):
// POST /directory/v1/{dn}/subtree/search with a JSON body holding filter,
// searchScope, limit, includeAttributes, excludeAttributes, or the cursor
// of a next link. The answer's shape (_embedded.entries, size, _links
// with self and next, each with the request body as data) is the
// simulator's reading of those pages (docs/ping-api.md, A19).
const (
	defaultSearchLimit = 100
	maxSearchLimit     = 1000
)

// SetAttributes gives an entry attributes besides its RDN, objectClass
// and password (mail, cn, givenName, sn, ...).
func (s *Server) SetAttributes(dn string, attrs map[string][]string) error {
	ndn, err := parseDN(dn)
	if err != nil {
		return fmt.Errorf("set attributes of %q: %w", dn, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[dnKey(ndn)]
	if u == nil {
		return fmt.Errorf("set attributes of %q: no such entry", dn)
	}
	if u.attrs == nil {
		u.attrs = map[string][]string{}
	}
	for k, v := range attrs {
		if strings.EqualFold(k, "userPassword") || strings.EqualFold(k, "objectClass") {
			return fmt.Errorf("set attributes of %q: %s is not settable here", dn, k)
		}
		u.attrs[k] = append([]string(nil), v...)
	}
	return nil
}

// searchBody is the request body of a search, or what a cursor holds.
type searchBody struct {
	Filter            string `json:"filter,omitempty"`
	SearchScope       string `json:"searchScope,omitempty"`
	Limit             int    `json:"limit,omitempty"`
	IncludeAttributes string `json:"includeAttributes,omitempty"`
	ExcludeAttributes string `json:"excludeAttributes,omitempty"`
	Cursor            string `json:"cursor,omitempty"`
	// Offset is the simulator's position, inside a cursor only.
	Offset int `json:"offset,omitempty"`
}

// handleSearch is POST /directory/v1/{dn}/subtree/search. Administrators
// see every entry; anyone else sees only their own (the simulator's
// access control). The filter is parsed with the SCIM grammar of the
// Conventions page (search/pushdown.Parse) and evaluated term by term as
// the LDAP item each term stands for.
func (s *Server) handleSearch(w http.ResponseWriter, r *http.Request, seg string) response {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return errorResponse(http.StatusBadRequest, resultProtocolError, "The request body could not be read")
	}
	var req searchBody
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil || req.Offset != 0 {
		return errorResponse(http.StatusBadRequest, resultProtocolError, "The request body is not a valid search request")
	}
	if req.Cursor != "" {
		b, err := base64.RawURLEncoding.DecodeString(req.Cursor)
		var cur searchBody
		if err != nil || json.Unmarshal(b, &cur) != nil || cur.Offset < 0 {
			return errorResponse(http.StatusBadRequest, resultProtocolError, "Invalid cursor")
		}
		req = cur
	}
	limit := req.Limit
	if limit <= 0 {
		limit = defaultSearchLimit
	}
	limit = min(limit, maxSearchLimit)
	var f *filter.Filter
	if req.Filter != "" {
		e, err := pushdown.Parse(req.Filter)
		if err != nil {
			return errorResponse(http.StatusBadRequest, resultProtocolError, "Invalid filter: "+err.Error())
		}
		f = e.AsLDAP()
	}
	dnStr, err := url.PathUnescape(seg)
	if err != nil {
		return errorResponse(http.StatusBadRequest, resultInvalidDNSyntax, "The DN in the request path is not validly percent-encoded")
	}
	base, err := parseDN(dnStr)
	if err != nil {
		return ldapFailure(newResult(resultInvalidDNSyntax, fmt.Sprintf("Unable to parse %q as a DN: %v", dnStr, err)))
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	actor, ok, bearer := s.authenticate(r)
	if !ok {
		return authFailure(bearer)
	}
	if actor.mustChange {
		return ldapFailure(newResult(resultInsufficientAccess, diagMustChange))
	}
	admin := s.isAdmin(actor.ndn)
	var inScope []*user
	exists := false
	for _, u := range s.users {
		under := u.ndn.EqualFold(base) || base.AncestorOfFold(u.ndn)
		if under && (admin || u == actor) {
			exists = true
		}
		var in bool
		switch req.SearchScope {
		case "baseObject":
			in = u.ndn.EqualFold(base)
		case "singleLevel":
			in = base.AncestorOfFold(u.ndn) && len(u.ndn.RDNs) == len(base.RDNs)+1
		case "wholeSubtree", "":
			in = under
		case "subordinateSubtree":
			in = base.AncestorOfFold(u.ndn)
		default:
			return errorResponse(http.StatusBadRequest, resultProtocolError, "Invalid searchScope "+req.SearchScope)
		}
		if in && (admin || u == actor) {
			inScope = append(inScope, u)
		}
	}
	if !exists {
		res := newResult(resultNoSuchObject, "The entry "+dnStr+" does not exist")
		return ldapFailure(res)
	}
	sort.Slice(inScope, func(i, j int) bool { return dnKey(inScope[i].ndn) < dnKey(inScope[j].ndn) })
	entries := []any{}
	next := -1
	for i := req.Offset; i < len(inScope); i++ {
		u := inScope[i]
		attrs := s.searchAttrs(u, admin)
		if f != nil && !filter.Matches(f, attrs, nil) {
			continue
		}
		if len(entries) == limit {
			next = i
			break
		}
		entries = append(entries, s.searchEntryJSON(u, attrs, req.IncludeAttributes))
	}
	self := req
	self.Offset = 0
	links := map[string]any{"self": map[string]any{"href": entryHref(r, dnStr) + "/subtree/search", "data": self}}
	if next >= 0 {
		cur := req
		cur.Cursor, cur.Offset, cur.Limit = "", next, limit
		b, _ := json.Marshal(cur)
		links["next"] = map[string]any{"href": entryHref(r, dnStr) + "/subtree/search",
			"data": map[string]any{"cursor": base64.RawURLEncoding.EncodeToString(b)}}
	}
	return response{status: http.StatusOK, contentType: halJSON, body: map[string]any{
		"_embedded": map[string]any{"entries": entries},
		"size":      len(entries),
		"_links":    links,
	}}
}

// searchAttrs are the attributes of an entry a search sees: objectClass,
// the RDN, the attributes set with SetAttributes and, for an
// administrator, userPassword (its hash), as a directory shows it to one.
func (s *Server) searchAttrs(u *user, admin bool) filter.Entry {
	e := filter.Entry{"objectClass": {"top", "person", "organizationalPerson", "inetOrgPerson"}}
	for _, a := range u.ndn.RDNs[0].Attributes {
		e[a.Type] = append(e[a.Type], a.Value)
	}
	for k, v := range u.attrs {
		e[k] = append(e[k], v...)
	}
	if admin {
		e["userPassword"] = []string{string(u.hash)}
	}
	return e
}

// searchEntryJSON renders an entry of a search answer, honouring
// includeAttributes ("*", "_operationalAttributes", names).
func (s *Server) searchEntryJSON(u *user, attrs filter.Entry, include string) map[string]any {
	out := map[string]any{"_dn": u.dn}
	wantAll := strings.TrimSpace(include) == ""
	names := map[string]bool{}
	wantOp := false
	for _, n := range strings.Split(include, ",") {
		switch n = strings.TrimSpace(n); n {
		case "*":
			wantAll = true
		case "_operationalAttributes":
			wantOp = true
		case "":
		default:
			names[strings.ToLower(n)] = true
		}
	}
	for k, v := range attrs {
		if wantAll || names[strings.ToLower(k)] {
			out[k] = v
		}
	}
	for k, v := range s.operationalAttrs(u) {
		if wantOp || names[strings.ToLower(k)] {
			out[k] = v
		}
	}
	return out
}
