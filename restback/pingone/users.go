package pingone

import (
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
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
}

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

	flight flightGroup[string, string]
}

type userEntry struct {
	key, id string
	expires time.Time
}

func newUserCache(size int, ttl time.Duration, now func() time.Time) *userCache {
	return &userCache{size: size, ttl: ttl, now: now, ll: list.New(), m: map[string]*list.Element{}}
}

func (uc *userCache) get(key string) (string, bool) {
	uc.mu.Lock()
	defer uc.mu.Unlock()
	el, ok := uc.m[key]
	if !ok {
		return "", false
	}
	e := el.Value.(*userEntry)
	if !uc.now().Before(e.expires) {
		uc.ll.Remove(el)
		delete(uc.m, key)
		return "", false
	}
	uc.ll.MoveToFront(el)
	return e.id, true
}

func (uc *userCache) put(key, id string) {
	if uc.size <= 0 {
		return // the cache is off
	}
	uc.mu.Lock()
	defer uc.mu.Unlock()
	exp := uc.now().Add(uc.ttl)
	if el, ok := uc.m[key]; ok {
		e := el.Value.(*userEntry)
		e.id, e.expires = id, exp
		uc.ll.MoveToFront(el)
		return
	}
	uc.m[key] = uc.ll.PushFront(&userEntry{key: key, id: id, expires: exp})
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
}

// resolve finds the PingOne user a DN names.
func (c *Client) resolve(ctx context.Context, dn string) (resolved, *opError) {
	pdn, err := bridge.ParseDN(dn)
	if err != nil || len(pdn.RDNs) == 0 {
		return resolved{}, &opError{f: fBadDN, detail: "not a valid DN"}
	}
	key, err := c.filter.render(pdn)
	if err != nil {
		return resolved{}, &opError{f: fBadDN, detail: err.Error()}
	}
	if id, ok := c.users.get(key); ok {
		c.cacheLookup("user", true)
		return resolved{id: id, key: key, cached: true}, nil
	}
	c.cacheLookup("user", false)
	id, err := c.users.flight.do(ctx, key, c.timeout, func(ctx context.Context) (string, error) {
		id, oe := c.searchUser(ctx, key)
		if oe != nil {
			return "", oe
		}
		c.users.put(key, id)
		return id, nil
	})
	if err != nil {
		var oe *opError
		if errors.As(err, &oe) {
			return resolved{}, oe
		}
		// The caller's own context ended while the shared lookup ran.
		return resolved{}, c.lostAnswer(ctx, readCall, err, false)
	}
	return resolved{id: id, key: key}, nil
}

func (c *Client) searchUser(ctx context.Context, filter string) (string, *opError) {
	resp, oe := c.call(ctx, readCall, callFindUser, http.MethodGet, "/users", url.Values{"filter": {filter}}, "", nil)
	if oe != nil {
		return "", oe
	}
	if resp.status == http.StatusNotFound {
		// A search finds no one with a 200; a 404 means the API URL does
		// not lead to the users (a path pasted in, a proxy).
		return "", &opError{f: fProtocol, detail: "the user search answered HTTP 404; check the API URL", requestID: resp.requestID}
	}
	if resp.status != http.StatusOK {
		return "", classify(resp.status, resp.body, resp.requestID)
	}
	ids, err := decodeUserIDs(resp.body)
	if err != nil {
		return "", &opError{f: fProtocol, detail: err.Error(), requestID: resp.requestID}
	}
	switch len(ids) {
	case 0:
		return "", &opError{f: fNotFound, requestID: resp.requestID}
	case 1:
		return ids[0], nil
	}
	return "", &opError{f: fAmbiguous, detail: fmt.Sprintf("%d users match", len(ids)), requestID: resp.requestID}
}

// decodeUserIDs reads the ids of a user search answer
// ({_embedded: {users: [{id, ...}]}}).
func decodeUserIDs(body []byte) ([]string, error) {
	var v struct {
		Embedded *struct {
			Users []struct {
				ID string `json:"id"`
			} `json:"users"`
		} `json:"_embedded"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("decode user search: %w", err)
	}
	if v.Embedded == nil {
		return nil, errors.New("decode user search: no _embedded")
	}
	ids := make([]string, 0, len(v.Embedded.Users))
	for _, u := range v.Embedded.Users {
		if !validID(u.ID) {
			return nil, errors.New("decode user search: a user without a usable id")
		}
		ids = append(ids, u.ID)
	}
	return ids, nil
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
	for attempt := 0; ; attempt++ {
		u, oe := c.resolve(ctx, dn)
		if oe != nil {
			return nil, oe
		}
		resp, oe := c.call(ctx, kind, passwordCalls[mediaType], method, "/users/"+url.PathEscape(u.id)+"/password", nil, mediaType, body)
		if oe != nil {
			return nil, oe
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
		return resp, nil
	}
}
