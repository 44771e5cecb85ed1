package pingonesim

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Paging of the users list (Read All Users; "Paging, ordering, and
// filtering collections": cursor paging with limit, a page of at most 200
// users, the next page in _links.next.href).
const (
	defaultPageSize = 100
	maxPageSize     = 200
)

// SetProfile sets attributes of a user by their PingOne path
// (name.given, name.family, name.formatted, title, primaryPhone,
// mobilePhone, ...), as an administrator editing the user would.
func (s *Server) SetProfile(id string, attrs map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return fmt.Errorf("pingonesim: set profile: no user %q", id)
	}
	if u.profile == nil {
		u.profile = map[string]string{}
	}
	for k, v := range attrs {
		if k == "" || k == "id" || k == "username" || k == "email" || strings.HasPrefix(k, "_") {
			return fmt.Errorf("pingonesim: set profile: %q is not a profile attribute", k)
		}
		u.profile[k] = v
	}
	return nil
}

// addProfile writes the profile attributes into a user's JSON, nesting
// dotted paths (name.given → {"name": {"given": ...}}).
func addProfile(m map[string]any, profile map[string]string) {
	for path, v := range profile {
		cur := m
		parts := strings.Split(path, ".")
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		cur[parts[len(parts)-1]] = v
	}
}

// filterAttrs are the user's attributes a filter sees, by lower-case path.
func filterAttrs(u *user) map[string]string {
	m := map[string]string{"username": u.username, "email": u.email, "id": u.id}
	for k, v := range u.profile {
		m[strings.ToLower(k)] = v
	}
	return m
}

// listUsers is GET /environments/{envID}/users: the users the filter
// matches, in creation order, limit at a time; cursor is the position to
// go on from (the simulator's choice: an index), carried in the next link
// with the filter and the limit.
func (s *Server) listUsers(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	var f *Filter
	if q.Has("filter") {
		var err error
		if f, err = ParseFilter(q.Get("filter")); err != nil {
			writeError(w, http.StatusBadRequest, apiError{
				Code:    "INVALID_REQUEST",
				Message: "The request could not be completed. The filter is not valid.",
				Details: []errorDetail{{Code: "INVALID_FILTER", Target: "filter", Message: err.Error()}},
			})
			return
		}
	}
	limit := defaultPageSize
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			writeError(w, http.StatusBadRequest, apiError{Code: "INVALID_DATA", Message: "The request could not be completed. One or more validation errors were in the request.",
				Details: []errorDetail{{Code: "INVALID_VALUE", Target: "limit", Message: "limit must be a positive integer"}}})
			return
		}
		limit = min(n, maxPageSize)
	}
	start := 0
	if v := q.Get("cursor"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			writeError(w, http.StatusBadRequest, apiError{Code: "INVALID_DATA", Message: "The request could not be completed. One or more validation errors were in the request.",
				Details: []errorDetail{{Code: "INVALID_VALUE", Target: "cursor", Message: "invalid cursor"}}})
			return
		}
		start = n
	}
	s.mu.Lock()
	found := []any{}
	next := -1
	for i := start; i < len(s.order); i++ {
		u := s.users[s.order[i]]
		if u == nil || (f != nil && !f.Match(filterAttrs(u))) {
			continue
		}
		if len(found) == limit {
			next = i
			break
		}
		found = append(found, s.userJSON(u))
	}
	s.mu.Unlock()
	links := map[string]any{"self": map[string]string{"href": s.href("/users?" + q.Encode())}}
	if next >= 0 {
		nq := url.Values{"cursor": {strconv.Itoa(next)}, "limit": {strconv.Itoa(limit)}}
		if q.Has("filter") {
			nq.Set("filter", q.Get("filter"))
		}
		links["next"] = map[string]string{"href": s.href("/users?" + nq.Encode())}
	}
	writeJSON(w, http.StatusOK, halJSON, map[string]any{
		"_links":    links,
		"_embedded": map[string]any{"users": found},
		"count":     len(found),
		"size":      len(found),
	})
}
