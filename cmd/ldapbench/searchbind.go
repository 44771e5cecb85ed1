package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/users"
)

// A searchbind login is what a search-then-bind application does for
// each person who logs in (Apache httpd's mod_authnz_ldap, SSSD, Jenkins,
// GitLab): on a connection bound as its service account, a subtree
// search under the user base for (uid=<name>) asking for one attribute,
// then a simple bind as the DN the search returned with the person's
// password. By default the bind goes to a second connection, so that the
// searching one stays bound as the service account (SSSD and pooled
// clients keep the two apart); with -rebind the user binds on the
// searching connection, which binds as the service account again before
// its next search (Apache's util_ldap marks the connection "must rebind").
// The service account's binds are the bridge's local verification and
// reach no backend either way.

// loginError is a login that failed without an LDAP error: the search
// found no entry, several, or another DN than the user's.
type loginError struct {
	class string
	msg   string
}

func (e *loginError) Error() string { return e.msg }

// openSearchBind binds w.c as the service account and opens the
// connection users bind on.
func (w *worker) openSearchBind() bool {
	if err := w.c.bind(w.s.serviceDN, w.s.servicePW); err != nil {
		w.fail(w.setup, fmt.Errorf("bind as the service account: %w", err))
		w.drop()
		return false
	}
	w.asUser = false
	if w.s.rebind {
		return true
	}
	u, err := dial(context.Background(), &w.s.t)
	if err != nil {
		w.fail(w.setup, err)
		w.drop()
		return false
	}
	w.u = u
	return true
}

// login looks up the worker's current user and binds as what it found.
func (w *worker) login() error {
	s := w.s
	want := users.DN(s.dn, w.mine[w.cur])
	name := firstRDNValue(want)
	start := time.Now()
	if w.asUser {
		if err := w.c.bind(s.serviceDN, s.servicePW); err != nil {
			return fmt.Errorf("bind as the service account: %w", err)
		}
		w.asUser = false
	}
	dn, n, err := w.c.search(s.searchBase, scopeSub, s.searchAttr, name, s.searchAttrs)
	if err != nil {
		return fmt.Errorf("search: %w", err)
	}
	switch {
	case n == 0:
		return &loginError{"no_entry", fmt.Sprintf("search for (%s=%s) under %s found no entry", s.searchAttr, name, s.searchBase)}
	case n > 1:
		return &loginError{"several_entries", fmt.Sprintf("search for (%s=%s) under %s found %d entries", s.searchAttr, name, s.searchBase, n)}
	case !bytes.EqualFold(dn, []byte(want)):
		return &loginError{"wrong_entry", fmt.Sprintf("search for (%s=%s) found %q, want %q", s.searchAttr, name, dn, want)}
	}
	found := time.Now()
	bc := w.u
	if s.rebind {
		bc = w.c
		w.asUser = true
	}
	// The DN as the server returned it, as an application binds.
	if err := bc.bind(string(dn), w.password(w.cur)); err != nil {
		return err
	}
	w.lastSearch, w.lastBind = found.Sub(start), time.Since(found)
	return nil
}

// firstRDNValue is the value of a DN's first RDN ("pd5" of
// "uid=pd5,ou=staff,..."); the generated DNs hold no escapes.
func firstRDNValue(dn string) string {
	rdn, _, _ := strings.Cut(dn, ",")
	_, v, _ := strings.Cut(rdn, "=")
	return v
}

// parentDN is a DN without its first RDN.
func parentDN(dn string) string {
	_, p, _ := strings.Cut(dn, ",")
	return p
}

// checkSearchBind validates the searchbind settings and fills the
// defaults that depend on -dn.
func checkSearchBind(s *settings) []string {
	if s.mode != modeSearchBind {
		return nil
	}
	var problems []string
	if s.searchBase == "" {
		s.searchBase = parentDN(s.dn)
	}
	rdn, _, _ := strings.Cut(s.dn, ",")
	attr, _, ok := strings.Cut(rdn, "=")
	if !ok || attr == "" || strings.ContainsAny(s.dn, `\+"`) || s.searchBase == "" {
		problems = append(problems, "searchbind needs a -dn whose first RDN is a single attr=value (uid=pd%d,ou=staff,...) and no escapes")
	}
	if s.searchAttr == "" {
		s.searchAttr = attr
	}
	if s.serviceDN == "" || s.servicePW == "" {
		problems = append(problems, "searchbind needs -service-dn and -service-password")
	}
	if !strings.HasSuffix(strings.ToLower(s.dn), strings.ToLower(s.searchBase)) {
		problems = append(problems, fmt.Sprintf("-search-base %q is not above the users (-dn %q)", s.searchBase, s.dn))
	}
	return problems
}

// loginClass names a login failure for the error table, "" if it is not
// one.
func loginClass(err error) string {
	var le *loginError
	if errors.As(err, &le) {
		return le.class
	}
	return ""
}

// mustReconnect reports whether a failed operation leaves the connection
// unusable: a transport failure or malformed answer, or unavailable
// (52); not an LDAP result nor a login that found the wrong entries.
func mustReconnect(err error) bool {
	var le *ldapError
	if errors.As(err, &le) {
		return le.code == 52
	}
	return loginClass(err) == ""
}
