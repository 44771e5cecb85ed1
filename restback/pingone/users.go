package pingone

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// filterTemplate is a SCIM filter with {attr} placeholders, each inside a
// quoted string, filled from the DN's first RDN.
type filterTemplate struct {
	parts []string // literal text; placeholders between consecutive parts
	attrs []string
	// rdn lists the placeholders' attributes once each (lower-cased), in
	// order: the attributes of the first RDN of a user's canonical DN.
	rdn []string
	// names maps each of them to the PingOne user attribute it is first
	// compared with as a whole value (username eq "{uid}"): the user's
	// value of that attribute is the RDN value that names the user.
	names map[string]string
}

// nameClause is a SCIM comparison whose value is a whole placeholder:
// `username eq "` before it.
var nameClause = regexp.MustCompile(`(?i)([A-Za-z_][A-Za-z0-9_.]*)\s+eq\s+"$`)

func parseFilterTemplate(t string) (*filterTemplate, error) {
	ft := &filterTemplate{}
	var lit strings.Builder
	inQuote := false
	for i := 0; i < len(t); i++ {
		ch := t[i]
		switch {
		case ch == '\\' && inQuote:
			if i+1 >= len(t) {
				return nil, fmt.Errorf("user filter %q: unfinished escape", t)
			}
			lit.WriteByte(ch)
			lit.WriteByte(t[i+1])
			i++
		case ch == '"':
			inQuote = !inQuote
			lit.WriteByte(ch)
		case ch == '{':
			end := strings.IndexByte(t[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("user filter %q: unclosed {", t)
			}
			name := t[i+1 : i+end]
			if !validAttrName(name) {
				return nil, fmt.Errorf("user filter %q: {%s} is not an attribute name", t, name)
			}
			if !inQuote {
				// Outside quotes a value could change the filter's structure.
				return nil, fmt.Errorf("user filter %q: {%s} must be inside a quoted string", t, name)
			}
			ft.name(name, lit.String(), i+end+1 < len(t) && t[i+end+1] == '"')
			ft.parts = append(ft.parts, lit.String())
			lit.Reset()
			ft.attrs = append(ft.attrs, name)
			i += end
		default:
			lit.WriteByte(ch)
		}
	}
	if inQuote {
		return nil, fmt.Errorf("user filter %q: unclosed quote", t)
	}
	if len(ft.attrs) == 0 {
		return nil, fmt.Errorf("user filter %q: no {attribute} placeholder", t)
	}
	ft.parts = append(ft.parts, lit.String())
	return ft, nil
}

// name records a placeholder for attr after the literal text before it;
// whole says the placeholder fills its quoted value to the end.
func (ft *filterTemplate) name(attr, before string, whole bool) {
	a := strings.ToLower(attr)
	if ft.names == nil {
		ft.names = map[string]string{}
	}
	if _, seen := ft.names[a]; !seen {
		ft.rdn = append(ft.rdn, a)
		ft.names[a] = ""
	}
	if m := nameClause.FindStringSubmatch(before); m != nil && whole && ft.names[a] == "" {
		ft.names[a] = m[1]
	}
}

// canNameUsers reports a template under which a user's canonical DN cannot
// be built: a placeholder never compared as a whole value.
func (ft *filterTemplate) canNameUsers() error {
	for _, a := range ft.rdn {
		if ft.names[a] == "" {
			return fmt.Errorf("user filter: {%s} is never a whole value compared with eq (such as username eq \"{%s}\"), so the bridge cannot tell a user's DN from the user", a, a)
		}
	}
	return nil
}

func validAttrName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// render fills the template from dn, escaping every value.
func (ft *filterTemplate) render(dn *ldap.DN) (string, error) {
	var b strings.Builder
	for i, attr := range ft.attrs {
		b.WriteString(ft.parts[i])
		v, ok := bridge.RDNValue(dn, attr)
		if !ok || v == "" {
			return "", fmt.Errorf("the DN's first RDN has no %s value", attr)
		}
		if !utf8.ValidString(v) {
			return "", fmt.Errorf("the DN's %s value is not UTF-8", attr)
		}
		b.WriteString(escapeFilterValue(v))
	}
	b.WriteString(ft.parts[len(ft.parts)-1])
	return b.String(), nil
}

// escapeFilterValue escapes v for use between the quotes of a SCIM filter
// value, which is a JSON string (RFC 7644 §3.4.2.2): so that no value can
// end the string and add to the filter.
func escapeFilterValue(v string) string {
	var b strings.Builder
	for _, r := range v {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// userCache maps rendered filters to user ids: bounded (least recently
// used goes first) and with a TTL, since users can be deleted and
// recreated in PingOne.
type userCache struct {
	mu   sync.Mutex
	size int
	ttl  time.Duration
	now  func() time.Time
	ll   *list.List
	m    map[string]*list.Element

	flight flightGroup[string, pingUser]
}

// pingUser is a user a filter found: its id, and its values of the
// attributes that name it (filterTemplate.names), by attribute.
type pingUser struct {
	id    string
	names map[string]string
}

type userEntry struct {
	key     string
	user    pingUser
	expires time.Time
}

func newUserCache(size int, ttl time.Duration, now func() time.Time) *userCache {
	return &userCache{size: size, ttl: ttl, now: now, ll: list.New(), m: map[string]*list.Element{}}
}

func (uc *userCache) get(key string) (pingUser, bool) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	el, ok := uc.m[key]
	if !ok {
		return pingUser{}, false
	}
	e := el.Value.(*userEntry)
	if !uc.now().Before(e.expires) {
		uc.ll.Remove(el)
		delete(uc.m, key)
		return pingUser{}, false
	}
	uc.ll.MoveToFront(el)
	return e.user, true
}

func (uc *userCache) put(key string, u pingUser) {
	if uc.size <= 0 {
		return // the cache is off
	}
	uc.mu.Lock()
	defer uc.mu.Unlock()
	exp := uc.now().Add(uc.ttl)
	if el, ok := uc.m[key]; ok {
		e := el.Value.(*userEntry)
		e.user, e.expires = u, exp
		uc.ll.MoveToFront(el)
		return
	}
	uc.m[key] = uc.ll.PushFront(&userEntry{key: key, user: u, expires: exp})
	for uc.ll.Len() > uc.size {
		last := uc.ll.Back()
		uc.ll.Remove(last)
		delete(uc.m, last.Value.(*userEntry).key)
	}
}

func (uc *userCache) evict(key string) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	if el, ok := uc.m[key]; ok {
		uc.ll.Remove(el)
		delete(uc.m, key)
	}
}

func (uc *userCache) len() int {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	return uc.ll.Len()
}

// resolved is a DN's PingOne user.
type resolved struct {
	id     string
	key    string // the rendered filter, the cache key
	cached bool
	// rdn is the first RDN of the user's canonical DN, built from the
	// user's own values (filterTemplate.names).
	rdn string
}

// resolve finds the PingOne user a DN names. The identity rule
// (bridge/identity.go): the DN names the user only if each value of its
// first RDN is the user's own value of the attribute the filter compares
// it with, exactly but for ASCII case (PingOne's username match ignores
// case; no other folding is assumed, so 'ſ' does not name "s"); any other
// spelling that the filter happened to find is refused as not naming a
// user, which a bind answers as a wrong password.
func (c *Client) resolve(ctx context.Context, dn string) (resolved, *opError) {
	return c.resolveDN(ctx, dn, nil)
}

// resolveDN is resolve with dn already parsed as pdn (nil: parse it).
func (c *Client) resolveDN(ctx context.Context, dn string, pdn *ldap.DN) (resolved, *opError) {
	if pdn == nil {
		var err error
		if pdn, err = bridge.ParseDN(dn); err != nil {
			pdn = nil
		}
	}
	if pdn == nil || len(pdn.RDNs) == 0 {
		return resolved{}, &opError{f: fBadDN, detail: "not a valid DN"}
	}
	if !c.filter.firstRDN(pdn) {
		return resolved{}, &opError{f: fBadDN, detail: "the DN's first RDN is not " + strings.Join(c.filter.rdn, "+")}
	}
	key, err := c.filter.render(pdn)
	if err != nil {
		return resolved{}, &opError{f: fBadDN, detail: err.Error()}
	}
	u, cached := c.users.get(key)
	c.cacheLookup("user", cached)
	if !cached {
		u, err = c.users.flight.do(ctx, key, c.timeout, func(ctx context.Context) (pingUser, error) {
			u, oe := c.searchUser(ctx, key)
			if oe != nil {
				return pingUser{}, oe
			}
			c.users.put(key, u)
			return u, nil
		})
		if err != nil {
			var oe *opError
			if errors.As(err, &oe) {
				return resolved{}, oe
			}
			// The caller's own context ended while the shared lookup ran.
			return resolved{}, c.lostAnswer(ctx, readCall, err, false)
		}
	}
	rdn, oe := c.filter.canonicalRDN(pdn, u)
	if oe != nil {
		return resolved{}, oe
	}
	return resolved{id: u.id, key: key, cached: cached, rdn: rdn}, nil
}

// firstRDN reports whether dn's first RDN has exactly the template's
// placeholder attributes, each once (types compared without case).
func (ft *filterTemplate) firstRDN(dn *ldap.DN) bool {
	avas := dn.RDNs[0].Attributes
	if len(avas) != len(ft.rdn) {
		return false
	}
	seen := make(map[string]bool, len(avas))
	for _, a := range avas {
		t := strings.ToLower(a.Type)
		if _, ok := ft.names[t]; !ok || seen[t] || a.Value == "" {
			return false
		}
		seen[t] = true
	}
	return true
}

// canonicalRDN checks that dn's first RDN is the user's own name and
// returns it as the user's values spell it, in the template's order.
func (ft *filterTemplate) canonicalRDN(dn *ldap.DN, u pingUser) (string, *opError) {
	var b strings.Builder
	for i, a := range ft.rdn {
		v, _ := bridge.RDNValue(dn, a)
		field := ft.names[a]
		own, ok := u.names[field]
		if !ok || !bridge.SameValue(v, own) {
			return "", &opError{f: fBadDN, detail: fmt.Sprintf("the DN's %s is not the user's %s: not the user's canonical DN", a, field)}
		}
		if i > 0 {
			b.WriteByte('+')
		}
		b.WriteString(a)
		b.WriteByte('=')
		b.WriteString(bridge.EscapeDNValue(own))
	}
	return b.String(), nil
}

// CanonicalDN implements bridge.Namer: under the route's base, a user is
// named by one RDN made of the filter's placeholder attributes and
// nothing else (uid=alice,<base>); every other spelling names nobody.
// The values are the client's until resolve checks them against the user.
func (c *Client) CanonicalDN(dn *ldap.DN, route bridge.RouteOptions) (string, bool) {
	base, err := c.routeBase(route.Base)
	if err != nil || len(dn.RDNs) != len(base.RDNs)+1 || !c.filter.firstRDN(dn) {
		return "", false
	}
	if len(base.RDNs) > 0 && !bridge.SameDN(&ldap.DN{RDNs: dn.RDNs[1:]}, base) {
		return "", false
	}
	var b strings.Builder
	for i, a := range c.filter.rdn {
		v, _ := bridge.RDNValue(dn, a)
		if !utf8.ValidString(v) {
			return "", false
		}
		if i > 0 {
			b.WriteByte('+')
		}
		b.WriteString(a)
		b.WriteByte('=')
		b.WriteString(bridge.EscapeDNValue(v))
	}
	if route.Base != "" {
		b.WriteByte(',')
		b.WriteString(route.Base)
	}
	return b.String(), true
}

// routeBase is the parsed route base, parsed once per base (the core
// asks CanonicalDN on every bind). A base that does not parse is not
// kept.
func (c *Client) routeBase(base string) (*ldap.DN, error) {
	if v, ok := c.bases.Load(base); ok {
		return v.(*ldap.DN), nil
	}
	dn, err := bridge.ParseDN(base)
	if err != nil {
		return nil, err
	}
	if n := c.basesN.Add(1); n <= maxRouteBases {
		c.bases.Store(base, dn)
	}
	return dn, nil
}

// subjectDN is the canonical DN of a resolved user: its RDN under the
// route's base (under the rest of dn when no base is given, as in a
// backend used without the core).
func subjectDN(u resolved, dn string, route bridge.RouteOptions) string {
	if route.Base != "" {
		return joinDN(u.rdn, route.Base)
	}
	pdn, err := bridge.ParseDN(dn)
	if err != nil || len(pdn.RDNs) < 2 {
		return u.rdn
	}
	return joinDN(u.rdn, (&ldap.DN{RDNs: pdn.RDNs[1:]}).String())
}

func joinDN(rdn, base string) string {
	if base == "" {
		return rdn
	}
	return rdn + "," + base
}

var _ bridge.Namer = (*Client)(nil)

func (c *Client) searchUser(ctx context.Context, filter string) (pingUser, *opError) {
	resp, oe := c.call(ctx, readCall, callFindUser, http.MethodGet, "/users", url.Values{"filter": {filter}}, "", nil)
	if oe != nil {
		return pingUser{}, oe
	}
	if resp.status == http.StatusNotFound {
		// A search finds no one with a 200; a 404 means the API URL does
		// not lead to the users (a path pasted in, a proxy).
		return pingUser{}, &opError{f: fProtocol, detail: "the user search answered HTTP 404; check the API URL", requestID: resp.requestID}
	}
	if resp.status != http.StatusOK {
		return pingUser{}, classify(resp.status, resp.body, resp.requestID)
	}
	fields := make([]string, 0, len(c.filter.names))
	for _, a := range c.filter.rdn {
		fields = append(fields, c.filter.names[a])
	}
	users, err := decodeUsers(resp.body, fields)
	if err != nil {
		return pingUser{}, &opError{f: fProtocol, detail: err.Error(), requestID: resp.requestID}
	}
	switch len(users) {
	case 0:
		return pingUser{}, &opError{f: fNotFound, requestID: resp.requestID}
	case 1:
		return users[0], nil
	}
	return pingUser{}, &opError{f: fAmbiguous, detail: fmt.Sprintf("%d users match", len(users)), requestID: resp.requestID}
}

// decodeUserIDs reads the ids of a user search answer
// ({_embedded: {users: [{id, ...}]}}).
func decodeUserIDs(body []byte) ([]string, error) {
	users, err := decodeUsers(body, nil)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(users))
	for i, u := range users {
		ids[i] = u.id
	}
	return ids, nil
}

// decodeUsers reads a user search answer: each user's id and its string
// values of fields (dotted paths such as name.given; a field the user
// lacks is left out).
func decodeUsers(body []byte, fields []string) ([]pingUser, error) {
	var v struct {
		Embedded *struct {
			Users []map[string]json.RawMessage `json:"users"`
		} `json:"_embedded"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("decode user search: %w", err)
	}
	if v.Embedded == nil {
		return nil, errors.New("decode user search: no _embedded")
	}
	users := make([]pingUser, 0, len(v.Embedded.Users))
	for _, raw := range v.Embedded.Users {
		var id string
		if json.Unmarshal(raw["id"], &id) != nil || !validID(id) {
			return nil, errors.New("decode user search: a user without a usable id")
		}
		u := pingUser{id: id, names: make(map[string]string, len(fields))}
		for _, f := range fields {
			if s, ok := stringField(raw, f); ok {
				u.names[f] = s
			}
		}
		users = append(users, u)
	}
	return users, nil
}

// stringField finds a string at a dotted path of a JSON object; the
// first step compares names without case, as SCIM attribute names do.
func stringField(obj map[string]json.RawMessage, path string) (string, bool) {
	name, rest, nested := strings.Cut(path, ".")
	var raw json.RawMessage
	for k, v := range obj {
		if strings.EqualFold(k, name) {
			raw = v
			break
		}
	}
	if raw == nil {
		return "", false
	}
	if nested {
		var sub map[string]json.RawMessage
		if json.Unmarshal(raw, &sub) != nil {
			return "", false
		}
		return stringField(sub, rest)
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// validID accepts PingOne's resource ids (UUIDs) and similar plain tokens,
// so that nothing odd reaches a URL path.
func validID(id string) bool {
	if id == "" || len(id) > 128 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// isAPIError reports whether an answer is PingOne's JSON error body, not
// a proxy's page.
func isAPIError(resp *response) bool {
	if !transport.IsJSON(resp.header.Get("Content-Type")) {
		return false
	}
	_, err := decodeAPIError(resp.body)
	return err == nil
}

// userCall resolves dn and sends a password request for that user. A 404
// for a cached id means the user went away: the entry is dropped and the
// lookup and request are made once more (PingOne acted on nothing).
func (c *Client) userCall(ctx context.Context, dn string, kind callKind, method, mediaType string, body []byte) (*response, *opError) {
	resp, _, oe := c.userCallAs(ctx, dn, kind, method, mediaType, body)
	return resp, oe
}

// userCallAs is userCall that also returns the user it acted on (zero
// when none was found).
func (c *Client) userCallAs(ctx context.Context, dn string, kind callKind, method, mediaType string, body []byte) (*response, resolved, *opError) {
	return c.userCallAsDN(ctx, dn, nil, kind, method, mediaType, body)
}

// userCallAsDN is userCallAs with dn already parsed as pdn (nil: parse it).
func (c *Client) userCallAsDN(ctx context.Context, dn string, pdn *ldap.DN, kind callKind, method, mediaType string, body []byte) (*response, resolved, *opError) {
	for attempt := 0; ; attempt++ {
		u, oe := c.resolveDN(ctx, dn, pdn)
		if oe != nil {
			return nil, resolved{}, oe
		}
		resp, oe := c.call(ctx, kind, passwordCalls[mediaType], method, "/users/"+url.PathEscape(u.id)+"/password", nil, mediaType, body)
		if oe != nil {
			return nil, u, oe
		}
		if resp.status == http.StatusNotFound && isAPIError(resp) {
			// PingOne's own 404: no user has this id, so nothing was
			// done to one, which is the proof a change needs to be sent
			// again (transport.MayResend alone would refuse it).
			c.users.evict(u.key)
			if u.cached && attempt == 0 {
				continue
			}
		}
		return resp, u, nil
	}
}
