package bridge

import (
	"fmt"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// Route sends the DNs under Base to one backend.
type Route struct {
	// Base is the route's base DN; "" matches every DN.
	Base string
	// Backend names an entry of the backends map given to New.
	Backend string
	// Admins are the identities (DNs) allowed to reset passwords under
	// Base. When BackendAuthorizes is true and Admins is empty, the bridge
	// leaves that decision to the backend, which acts as the bound user
	// (PingDirectory's own access control).
	Admins            []string
	BackendAuthorizes bool
	// AllowOldPasswordProof lets a session bound as someone else change a
	// password by proving the old one (a self change on the target's
	// behalf). Off by default.
	AllowOldPasswordProof bool
	// ServiceCredential: the route's backend can act on its users with a
	// credential of its own (PingOne's worker application, a
	// PingDirectory service account). Only then may an admin who is not
	// one of the backend's own users (a local account, a user of another
	// route) reset a password under Base: the bridge never sends one
	// backend's password to another.
	ServiceCredential bool
	Options           RouteOptions
	// Searchers are the identities (DNs) besides Admins that may search
	// the route; Search says who else may (bridge/search.go).
	Searchers []string
	Search    SearchAccess
}

type route struct {
	Route
	base      *ldap.DN
	admins    []*ldap.DN
	searchers []*ldap.DN
}

// Router picks the route for a DN by the longest matching base.
type Router struct {
	routes []route
}

// NewRouter checks and indexes routes. Duplicate bases are an error.
func NewRouter(routes []Route) (*Router, error) {
	r, problems := newRouter(routes)
	if len(problems) > 0 {
		return nil, fmt.Errorf("build routes: %s", strings.Join(problems, "; "))
	}
	return r, nil
}

// newRouter indexes the routes it can and lists the problems of the rest.
func newRouter(routes []Route) (*Router, []string) {
	r := &Router{}
	var problems []string
	for i, rt := range routes {
		base, err := ParseDN(rt.Base)
		if err != nil {
			problems = append(problems, fmt.Sprintf("route %d: base %q: %v", i, rt.Base, err))
			continue
		}
		ir := route{Route: rt, base: base}
		ir.Options.Base = rt.Base
		for _, a := range rt.Admins {
			ad, err := ParseDN(a)
			if err != nil {
				problems = append(problems, fmt.Sprintf("route %d: admin %q: %v", i, a, err))
				continue
			}
			ir.admins = append(ir.admins, ad)
		}
		for _, a := range rt.Searchers {
			sd, err := ParseDN(a)
			if err != nil {
				problems = append(problems, fmt.Sprintf("route %d: searcher %q: %v", i, a, err))
				continue
			}
			ir.searchers = append(ir.searchers, sd)
		}
		for _, prev := range r.routes {
			if prev.base.EqualFold(base) {
				problems = append(problems, fmt.Sprintf("route %d: base %q is routed twice", i, rt.Base))
			}
		}
		r.routes = append(r.routes, ir)
	}
	return r, problems
}

// Match returns the route whose base is the longest suffix of dn.
func (r *Router) Match(dn *ldap.DN) (*route, bool) {
	var best *route
	for i := range r.routes {
		rt := &r.routes[i]
		if !(rt.base.EqualFold(dn) || rt.base.AncestorOfFold(dn) || len(rt.base.RDNs) == 0) {
			continue
		}
		if best == nil || len(rt.base.RDNs) > len(best.base.RDNs) {
			best = rt
		}
	}
	return best, best != nil
}

// isAdmin reports whether the canonical identity dn is one of the route's
// admins, by SameDN: no Unicode folding the backend may not share.
func (rt *route) isAdmin(dn *ldap.DN) bool {
	for _, a := range rt.admins {
		if SameDN(a, dn) {
			return true
		}
	}
	return false
}

// ParseDN parses an LDAP DN; "" is the empty (root) DN.
func ParseDN(s string) (*ldap.DN, error) {
	if strings.TrimSpace(s) == "" {
		return &ldap.DN{}, nil
	}
	return ldap.ParseDN(s)
}

// RDNValue returns the value of the first attribute named attr in the
// leftmost RDN of dn, and whether there was one.
func RDNValue(dn *ldap.DN, attr string) (string, bool) {
	if dn == nil || len(dn.RDNs) == 0 {
		return "", false
	}
	for _, a := range dn.RDNs[0].Attributes {
		if strings.EqualFold(a.Type, attr) {
			return a.Value, true
		}
	}
	return "", false
}
