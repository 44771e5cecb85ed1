package bridge

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/search/filter"
)

// Scope is a search's scope (RFC 4511 §4.5.1.2).
type Scope uint8

// The scopes, with their protocol values.
const (
	ScopeBase Scope = 0
	ScopeOne  Scope = 1
	ScopeSub  Scope = 2
)

func (s Scope) String() string {
	switch s {
	case ScopeBase:
		return "base"
	case ScopeOne:
		return "one"
	case ScopeSub:
		return "sub"
	}
	return "unknown"
}

// SearchAccess says who, besides a route's admins and searchers, may
// search it.
type SearchAccess struct {
	// BoundUsers: every bound identity may search the route.
	BoundUsers bool
	// Anonymous: an anonymous session may search the route.
	Anonymous bool
}

// Attribute is one attribute of an entry.
type Attribute struct {
	Name   string
	Values []string
}

// Entry is a search result entry: the DN that then binds, and its
// attributes.
type Entry struct {
	DN    string
	Attrs []Attribute
}

// filterEntry is e as the filter evaluator reads it.
func (e Entry) filterEntry() filter.Entry {
	fe := make(filter.Entry, len(e.Attrs))
	for _, a := range e.Attrs {
		fe[a.Name] = append(fe[a.Name], a.Values...)
	}
	return fe
}

// Searcher is what a backend that can search implements (optional: a
// route whose backend does not is searched as if it held no entries but
// its base).
type Searcher interface {
	// Search searches the route's entries in req's scope and calls emit
	// with each entry the filter matches (the backend translates the
	// filter and, where its translation is not exact, evaluates it on
	// each candidate). emit returns false when no more entries are
	// wanted; Search then returns at once. With req.Paged it asks the
	// backend for one page and returns the cursor of the next ("" at the
	// end). Failures come back as the Outcome: NoSuchObject when the base
	// does not exist, AdminLimitExceeded past req.MaxScan candidates.
	Search(ctx context.Context, req BackendSearch, emit func(Entry) bool) (next string, out Outcome)
}

// BackendSearch is one route's part of a search, as the backend sees it.
type BackendSearch struct {
	Route RouteOptions
	// Base is the DN searched from (at or under Route.Base), normalised.
	Base   string
	Scope  Scope
	Filter *filter.Filter
	// Attributes are the LDAP attributes asked for ("*", "+", names);
	// nil: every user attribute. The core selects again; this only lets
	// the backend ask for less.
	Attributes []string
	// Limit: the backend need not find more than this many entries
	// (0: no limit).
	Limit int
	// Paged: one backend page of at most PageSize entries from Cursor
	// ("" the first).
	Paged    bool
	PageSize int
	Cursor   string
	// MaxScan bounds the candidates a backend that cannot narrow the
	// search may read before it answers AdminLimitExceeded (0: none).
	MaxScan int
	// Actor is the session's identity and password for a backend that
	// acts as the user; zero DN for the bridge's own accounts (the
	// backend uses its service credential).
	Actor Credentials
}

// SearchRequest is an LDAP search as the core needs it.
type SearchRequest struct {
	Base       string
	Scope      Scope
	Filter     *filter.Filter
	Attributes []string
	// SizeLimit is the client's (0: none), TimeLimit likewise.
	SizeLimit int
	TimeLimit time.Duration
	// Paged is the Simple Paged Results control (RFC 2696): PageSize and
	// the cookie of the previous page (empty: the first).
	Paged    bool
	PageSize int
	Cookie   []byte
}

// SearchLimits are the server's search limits, per generation.
type SearchLimits struct {
	// MaxEntries is the most entries one search returns (0: none).
	MaxEntries int
	// MaxScan bounds the candidates of a search a backend cannot narrow
	// (0: default 1000).
	MaxScan int
}

// DefaultMaxScan is SearchLimits.MaxScan's default.
const DefaultMaxScan = 1000

// WithSearchLimits sets the generation's search limits.
func WithSearchLimits(l SearchLimits) StateOption { return func(s *State) { s.search = l } }

// SearchDone is what the front end needs besides the Decision: the
// paged-results cookie to send back and which limit, if any, ended it.
type SearchDone struct {
	Cookie  []byte
	Entries int
	// Limit names the server limit that ended the search, "" if none:
	// "max_search_entries", "search_time_limit", "search_max_scan".
	Limit string
}

// Diagnostics of the search.
const (
	diagSearchRefused = "insufficient access rights to search here"
	diagNoSuchBase    = "no route serves the search base"
	diagBadCookie     = "invalid paged results cookie"
)

// leg is one route's part of a search.
type leg struct {
	rt    *route
	base  *ldap.DN
	scope Scope
	// container: the route's base is in scope; when the backend does not
	// return that entry, the core makes one.
	container bool
}

// Search answers an LDAP search of the routes' entries for the session
// bound as p (nil when anonymous), streaming each entry to emit in the
// order found. emit returns false when the client is gone.
func (b *Bridge) Search(ctx context.Context, p *Principal, req SearchRequest, emit func(Entry) bool) (Decision, SearchDone) {
	d := Decision{Op: OpSearch, Actor: p.Identity(), Target: Identity{DN: req.Base}}
	var done SearchDone
	st := b.enter()
	defer st.leave()
	fail := func(o Outcome) (Decision, SearchDone) {
		d.Outcome = o
		return d, done
	}
	if o, ok := Restriction(p, OpSearch, false, false); !ok {
		return fail(o)
	}
	base, err := ParseDN(req.Base)
	if err != nil {
		return fail(Fail(InvalidDNSyntax, "invalid DN syntax of the search base"))
	}
	if req.Filter == nil {
		req.Filter = &filter.Filter{Kind: filter.Present, Attr: "objectClass"}
	}
	legs, owner := st.plan(base, req.Scope)
	if len(legs) == 0 {
		o := Fail(NoSuchObject, diagNoSuchBase)
		return fail(o)
	}
	if owner != nil {
		d.Target.Route, d.Target.Backend = owner.Base, owner.Backend
	}
	// Who may search: per route; any bound user may read their own entry.
	self := req.Scope == ScopeBase && p != nil && p.Is(base)
	allowed := legs[:0:0]
	for _, l := range legs {
		if self || st.maySearch(p, l.rt) {
			allowed = append(allowed, l)
		}
	}
	if len(allowed) == 0 || (owner != nil && !self && !st.maySearch(p, owner)) {
		return fail(Fail(InsufficientAccessRights, diagSearchRefused))
	}
	legs = allowed

	limit := req.SizeLimit
	serverLimit := st.search.MaxEntries
	if serverLimit > 0 && (limit == 0 || serverLimit < limit) {
		limit = serverLimit
	}
	maxScan := st.search.MaxScan
	if maxScan <= 0 {
		maxScan = DefaultMaxScan
	}
	if req.TimeLimit > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, req.TimeLimit)
		defer cancel()
	}

	var cur cookie
	binding := cookieBinding(p, base, req)
	if req.Paged && len(req.Cookie) > 0 {
		if cur, err = decodeCookie(st.cookieKey, binding, req.Cookie, len(legs)); err != nil {
			return fail(Fail(UnwillingToPerform, diagBadCookie))
		}
	}
	var creds Credentials
	if p != nil && !p.Local() {
		creds = p.credentials()
		defer creds.Password.Wipe()
	}

	sent := 0
	exceeded := false
	gone := false
	out := func(e Entry) bool {
		if limit > 0 && sent >= limit {
			exceeded = true
			return false
		}
		e.Attrs = withoutPasswords(e.Attrs)
		if !emit(e) {
			gone = true
			return false
		}
		sent++
		return true
	}
	pageFull := func() bool { return req.Paged && req.PageSize > 0 && sent >= req.PageSize }

	var result Outcome
	for i := cur.Leg; i < len(legs); i++ {
		l := legs[i]
		be, _ := st.backends[l.rt.Backend].(Searcher)
		bs := BackendSearch{
			Route: l.rt.Options, Base: l.base.String(), Scope: l.scope, Filter: req.Filter,
			Attributes: req.Attributes, MaxScan: maxScan, Actor: creds,
		}
		if limit > 0 {
			bs.Limit = limit - sent + 1
		}
		seenBase := cur.Seen
		cursor := cur.Cursor
		onlyContainer := cur.Container
		cur = cookie{}
		var o Outcome
		next := ""
		if be != nil && !onlyContainer {
			keep := func(e Entry) bool {
				edn, err := ParseDN(e.DN)
				if err != nil {
					return true // skip what cannot be placed
				}
				if own, ok := st.router.Match(edn); !ok || own != l.rt {
					// Another route owns it: that route answers for it.
					return true
				}
				if l.container && edn.EqualFold(l.rt.base) {
					seenBase = true
				}
				return out(e)
			}
			for {
				bs.Paged, bs.Cursor = req.Paged, cursor
				if req.Paged {
					bs.PageSize = max(req.PageSize-sent, 1)
				}
				next, o = be.Search(ctx, bs, keep)
				if !o.OK() || gone || exceeded || next == "" || pageFull() {
					break
				}
				cursor = next
			}
		}
		if ctx.Err() == context.DeadlineExceeded && req.TimeLimit > 0 {
			done.Limit = "search_time_limit"
			result = Fail(TimeLimitExceeded, "time limit exceeded")
			break
		}
		if o.Code == NoSuchObject && l.container {
			o = Outcome{}
		}
		if !o.OK() {
			if o.Code == NoSuchObject && o.MatchedDN == "" && l.base.EqualFold(base) {
				o.MatchedDN = l.rt.Base
			}
			if o.Code == AdminLimitExceeded {
				done.Limit = "search_max_scan"
			}
			result = o
			break
		}
		if gone || exceeded {
			break
		}
		if next != "" {
			// The page is full; the next one goes on with this route.
			done.Cookie = cookie{Leg: i, Cursor: next, Seen: seenBase}.encode(st.cookieKey, binding)
			break
		}
		if l.container && !seenBase {
			if c, ok := container(l.rt.base); ok && filter.Matches(req.Filter, c.filterEntry(), nil) {
				if pageFull() {
					// The page is full: the container opens the next one.
					done.Cookie = cookie{Leg: i, Container: true}.encode(st.cookieKey, binding)
					break
				}
				if !out(c) {
					break
				}
			}
		}
		if pageFull() && i+1 < len(legs) {
			done.Cookie = cookie{Leg: i + 1}.encode(st.cookieKey, binding)
			break
		}
	}
	if exceeded && result.OK() {
		result = Fail(SizeLimitExceeded, "size limit exceeded")
		if serverLimit > 0 && limit == serverLimit && (req.SizeLimit == 0 || req.SizeLimit > serverLimit) {
			done.Limit = "max_search_entries"
		}
	}
	if !result.OK() {
		done.Cookie = nil
	}
	done.Entries = sent
	d.Outcome = result
	return d, done
}

// plan lists the routes a search from base with scope reaches, in the
// routes' order, and the route that owns base (nil when none does).
func (st *State) plan(base *ldap.DN, scope Scope) ([]leg, *route) {
	owner, _ := st.router.Match(base)
	var legs []leg
	if owner != nil {
		// The route's base is in scope unless the search is one level
		// below it.
		legs = append(legs, leg{rt: owner, base: base, scope: scope,
			container: owner.base.EqualFold(base) && scope != ScopeOne})
	}
	if scope == ScopeBase {
		if owner == nil && st.aboveSomeRoute(base) {
			// A DN above the routes (dc=com over dc=example,dc=com) is
			// no one's: nothing to show, but it is not missing either.
			return []leg{{rt: &route{base: base}, base: base, scope: ScopeBase, container: true}}, nil
		}
		return legs, owner
	}
	for i := range st.router.routes {
		rt := &st.router.routes[i]
		if rt == owner || !base.AncestorOfFold(rt.base) {
			continue
		}
		if scope == ScopeOne && len(rt.base.RDNs) != len(base.RDNs)+1 {
			continue
		}
		s := ScopeSub
		if scope == ScopeOne {
			s = ScopeBase
		}
		legs = append(legs, leg{rt: rt, base: rt.base, scope: s, container: true})
	}
	return legs, owner
}

func (st *State) aboveSomeRoute(dn *ldap.DN) bool {
	for i := range st.router.routes {
		if dn.AncestorOfFold(st.router.routes[i].base) {
			return true
		}
	}
	return false
}

// maySearch reports whether p (nil: anonymous) may search rt.
func (st *State) maySearch(p *Principal, rt *route) bool {
	if rt.Route.Backend == "" {
		// The synthetic leg of a DN above the routes: anyone who may
		// search some route may read it.
		for i := range st.router.routes {
			if st.maySearch(p, &st.router.routes[i]) {
				return true
			}
		}
		return false
	}
	if p == nil {
		return rt.Search.Anonymous
	}
	if rt.Search.BoundUsers || rt.isAdmin(p.ParsedDN()) {
		return true
	}
	for _, s := range rt.searchers {
		if s.EqualFold(p.ParsedDN()) {
			return true
		}
	}
	return false
}

// container is the entry the core shows for a route base (or a DN above
// the routes) that no backend holds: objectClass and its RDN's values.
func container(dn *ldap.DN) (Entry, bool) {
	if len(dn.RDNs) == 0 {
		return Entry{}, false
	}
	e := Entry{DN: dn.String()}
	oc := []string{"top"}
	for _, a := range dn.RDNs[0].Attributes {
		switch strings.ToLower(a.Type) {
		case "dc":
			oc = append(oc, "dcObject", "domain")
		case "ou":
			oc = append(oc, "organizationalUnit")
		case "o":
			oc = append(oc, "organization")
		case "c":
			oc = append(oc, "country")
		case "cn":
			oc = append(oc, "container")
		}
	}
	e.Attrs = append(e.Attrs, Attribute{Name: "objectClass", Values: oc})
	for _, a := range dn.RDNs[0].Attributes {
		e.Attrs = append(e.Attrs, Attribute{Name: a.Type, Values: []string{a.Value}})
	}
	return e, true
}

// withoutPasswords drops the password attributes, which no search
// returns whatever the backend sent.
func withoutPasswords(attrs []Attribute) []Attribute {
	out := attrs[:0:0]
	for _, a := range attrs {
		if !filter.PasswordAttribute(a.Name) {
			out = append(out, a)
		}
	}
	return out
}

// cookie is the paged-results cookie: which leg of the search goes on,
// from which backend cursor. It is signed with the generation's key and
// bound to the search (who, base, scope, filter): a client cannot change
// the cursor a backend receives, nor carry a cookie over to another
// search. A reload makes the cookies of the old generation invalid.
type cookie struct {
	Leg    int    `json:"l"`
	Cursor string `json:"c,omitempty"`
	Seen   bool   `json:"s,omitempty"`
	// Container: only the leg's container entry remains to be sent.
	Container bool `json:"k,omitempty"`
}

// maxCookie bounds the cookie a client may send back.
const maxCookie = 8192

func newCookieKey() []byte {
	k := make([]byte, 32)
	_, _ = rand.Read(k) // crypto/rand.Read does not fail (Go 1.24)
	return k
}

// cookieBinding names the search a cookie belongs to.
func cookieBinding(p *Principal, base *ldap.DN, req SearchRequest) []byte {
	who := ""
	if p != nil {
		who = p.Identity().DN
	}
	h := sha256.New()
	for _, s := range []string{who, base.String(), req.Scope.String(), req.Filter.String()} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return h.Sum(nil)
}

func cookieMAC(key, binding, payload []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(binding)
	m.Write(payload)
	return m.Sum(nil)
}

func (c cookie) encode(key, binding []byte) []byte {
	b, _ := json.Marshal(c)
	return []byte(base64.RawURLEncoding.EncodeToString(append(cookieMAC(key, binding, b), b...)))
}

func decodeCookie(key, binding, b []byte, legs int) (cookie, error) {
	var c cookie
	if len(b) > maxCookie {
		return c, errors.New("cookie too long")
	}
	raw, err := base64.RawURLEncoding.DecodeString(string(b))
	if err != nil || len(raw) < sha256.Size {
		return c, errors.New("decode cookie: not a cookie of this server")
	}
	mac, payload := raw[:sha256.Size], raw[sha256.Size:]
	if !hmac.Equal(mac, cookieMAC(key, binding, payload)) {
		return c, errors.New("decode cookie: not a cookie of this search")
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return c, fmt.Errorf("decode cookie: %w", err)
	}
	if c.Leg < 0 || c.Leg >= legs {
		return cookie{}, errors.New("cookie names no part of this search")
	}
	return c, nil
}
