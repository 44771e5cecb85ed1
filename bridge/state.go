package bridge

import (
	"fmt"
	"reflect"
	"strings"
	"sync"

	"github.com/go-ldap/ldap/v3"
)

// LocalAccount is a service account defined in the bridge's own
// configuration (for administrative resets on routes whose backend the
// bridge reaches with its own credentials). Verify checks a password
// against a stored hash.
type LocalAccount struct {
	DN     string
	Verify func(password []byte) bool
}

// State is one generation of the configuration the core serves: routes,
// backends, local accounts, the verified-bind cache and the naming
// contexts the root DSE shows. It is immutable; a reload builds a new one
// and Bridge.Swap installs it, then closes what the old one owned once
// the operations that started on it are done.
type State struct {
	router   *Router
	backends map[string]Backend
	locals   []localAccount
	contexts []string
	// cache is the verified-bind cache, nil when off. Each generation has
	// its own: a reload forgets every cached bind.
	cache *BindCache
	// search are the search limits (bridge/search.go); cookieKey signs
	// its paged results cookies.
	search    SearchLimits
	cookieKey []byte

	// users counts the operations running on this generation; once it is
	// retired and users is 0, drained closes.
	mu      sync.Mutex
	users   int
	retired bool
	drained chan struct{}
}

type localAccount struct {
	dn     *ldap.DN
	name   string // dn.String(), the account's identity
	verify func([]byte) bool
}

// StateOption adds an optional part to a State.
type StateOption func(*State)

// WithBindCache gives the generation a verified-bind cache (nil: off).
// Make a new cache for each generation.
func WithBindCache(c *BindCache) StateOption { return func(s *State) { s.cache = c } }

// NewState checks that every route names a known backend. The routes'
// bases, in order, are the root DSE's namingContexts.
func NewState(routes []Route, backends map[string]Backend, locals []LocalAccount, opts ...StateOption) (*State, error) {
	r, problems := newRouter(routes)
	for _, rt := range r.routes {
		if _, ok := backends[rt.Backend]; !ok {
			problems = append(problems, fmt.Sprintf("route %q: unknown backend %q", rt.Base, rt.Backend))
		}
	}
	s := &State{router: r, backends: backends, drained: make(chan struct{}), cookieKey: newCookieKey()}
	for _, rt := range routes {
		s.contexts = append(s.contexts, rt.Base)
	}
	for _, la := range locals {
		dn, err := ParseDN(la.DN)
		if err != nil || len(dn.RDNs) == 0 || la.Verify == nil {
			problems = append(problems, fmt.Sprintf("local account %q: not a usable DN and hash", la.DN))
			continue
		}
		s.locals = append(s.locals, localAccount{dn: dn, name: dn.String(), verify: la.Verify})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("build core state: %s", strings.Join(problems, "; "))
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// NamingContexts are the route bases, for the root DSE.
func (s *State) NamingContexts() []string { return append([]string(nil), s.contexts...) }

// BindCache is the generation's verified-bind cache, nil when off.
func (s *State) BindCache() *BindCache { return s.cache }

// enter counts an operation starting on s; false once s is retired.
func (s *State) enter() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired {
		return false
	}
	s.users++
	return true
}

// leave counts an operation done with s.
func (s *State) leave() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.users--
	if s.retired && s.users == 0 {
		close(s.drained)
	}
}

// retire lets no new operation start on s; drained closes when the last
// running one leaves.
func (s *State) retire() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.retired {
		return
	}
	s.retired = true
	if s.users == 0 {
		close(s.drained)
	}
}

// closer is what a backend that holds resources (idle connections, token
// refreshers) implements; either form is accepted.
type closer interface{ Close() error }
type closerNoErr interface{ Close() }

// closeBackends closes the backends of s that next does not also use.
func (s *State) closeBackends(next *State, log func(name string, err error)) {
	for name, be := range s.backends {
		if next != nil && next.holds(be) {
			continue
		}
		switch c := be.(type) {
		case closer:
			if err := c.Close(); err != nil {
				log(name, err)
			}
		case closerNoErr:
			c.Close()
		}
	}
}

// holds reports whether be is one of s's backends (the same value).
func (s *State) holds(be Backend) bool {
	if be == nil {
		return false
	}
	for _, o := range s.backends {
		// Interfaces holding values of a type without == would panic.
		if o != nil && reflect.TypeOf(o) == reflect.TypeOf(be) && reflect.TypeOf(be).Comparable() && o == be {
			return true
		}
	}
	return false
}
