package bridge

import "github.com/go-ldap/ldap/v3"

// Identity names a user as the core resolved it: the route that serves
// the user, the backend behind that route, and the user's canonical DN.
// The zero Identity is nobody (an anonymous session).
type Identity struct {
	// Route is the base DN of the route that serves the user, as
	// configured; "" for the bridge's own accounts and for a DN no route
	// serves (or one the core refused before choosing a route).
	Route string
	// Backend names the backend behind Route; "local" for the bridge's
	// own accounts; "" when no route was chosen.
	Backend string
	// DN is the canonical DN: the backend's own name for the user once
	// the backend has named it (Outcome.Subject), the canonical form of
	// the spelling before (or the DN in its normal form, or the text as
	// sent when it does not parse). State.resolve is the one place that
	// decides it; see identity.go for the rule.
	DN string
}

// BackendLocal is Identity.Backend for the bridge's own service accounts.
const BackendLocal = "local"

// Operation names what a Decision is about, and what the must-change
// restriction is asked about.
type Operation uint8

// The operations.
const (
	// OpNone: nothing for the restriction to check here (the operation's
	// own entry point into the core checks it).
	OpNone Operation = iota
	OpBind
	// OpPasswordModify is the RFC 3062 extended operation.
	OpPasswordModify
	// OpModifyPassword is a Modify that touches userPassword: a password
	// change attempt, whatever becomes of it.
	OpModifyPassword
	// OpModify is any other Modify (refused).
	OpModify
	// OpWhoAmI is RFC 4532's extended operation.
	OpWhoAmI
	// OpReadRoot is a base search of the root DSE or the subschema entry.
	OpReadRoot
	// OpOther is every other operation (searches the bridge does not
	// answer, Add, Delete, ModifyDN, Compare).
	OpOther
	// OpSearch is a search of the routes' entries (bridge/search.go).
	OpSearch
)

func (o Operation) String() string {
	switch o {
	case OpBind:
		return "bind"
	case OpPasswordModify:
		return "passwordModify"
	case OpModifyPassword, OpModify:
		return "modify"
	case OpWhoAmI:
		return "whoAmI"
	case OpReadRoot:
		return "readRoot"
	case OpOther:
		return "other"
	case OpSearch:
		return "search"
	}
	return "none"
}

// Decision is everything the core decided about one operation, and all
// the edges need: the front end encodes the Outcome, the observer audits
// and counts the rest. The core returns one for every Bind, password
// change and Modify, whether it acted or refused.
type Decision struct {
	Op      Operation
	Outcome Outcome
	// Actor is who asked: the session's identity (zero when anonymous).
	// For a Bind it is zero: the bind replaces the session's identity.
	Actor Identity
	// Target is whom the operation is about: the DN a bind names, the
	// user whose password changes.
	Target Identity
	// Kind is the kind of password change, 0 when the core refused the
	// change before deciding it.
	Kind ChangeKind
	// Restricted: the session, after the operation, must change its
	// password before it may do anything else.
	Restricted bool
	// Principal is the session's new identity after a successful Bind
	// (nil for an anonymous one and for every other operation). The
	// session holds it and wipes it.
	Principal *Principal
}

// ChangesPassword reports whether the decision is about a password change
// attempt (Password Modify, or a Modify of userPassword).
func (d Decision) ChangesPassword() bool {
	return d.Op == OpPasswordModify || d.Op == OpModifyPassword
}

// Diagnostics of the must-change restriction.
const (
	diagMustChangeSelf = "you must change your password before doing anything else"
	// slapd's words, which some applications match on.
	diagRestricted = "Operations are restricted to bind/unbind/abandon/StartTLS/modify password"
)

// Restriction is the one "must change the password first" rule. A
// session bound with a password an administrator reset may bind again,
// unbind, abandon, start TLS, ask who it is, read the root DSE and change
// its own password, and nothing else. self: the operation acts on the
// session's own entry; passwordOnly: a Modify that changes nothing but
// userPassword. It returns the refusal and whether op may go on.
func Restriction(p *Principal, op Operation, self, passwordOnly bool) (Outcome, bool) {
	if op == OpNone || p == nil || !p.MustChange() {
		return Outcome{}, true
	}
	switch op {
	case OpBind, OpWhoAmI, OpReadRoot:
		return Outcome{}, true
	case OpPasswordModify:
		if self {
			return Outcome{}, true
		}
		return Fail(InsufficientAccessRights, diagMustChangeSelf), false
	case OpModifyPassword, OpModify:
		if self && passwordOnly {
			return Outcome{}, true
		}
	}
	return Outcome{Code: InsufficientAccessRights, Diagnostic: diagRestricted,
		Policy: PolicyErr(ChangeAfterReset)}, false
}

// resolve is the one place the core turns a parsed DN into the identity it
// acts on, audits and counts: one of the bridge's own accounts (la set),
// or the user of the route that serves the DN (rt set); neither when no
// route serves it. The identity rule is in identity.go: a local account is
// matched by SameDN; on a route whose backend is a Namer, the identity is
// the canonical DN the spelling would be (the backend confirms it with the
// user it finds, Outcome.Subject, which the core then uses); elsewhere it
// is the DN in its normal form until the backend names the user.
func (st *State) resolve(ndn *ldap.DN) (id Identity, rt *route, la *localAccount) {
	// The normal form (DN.String, ten allocations or so) is computed
	// only where it is the identity's name.
	for i := range st.locals {
		if SameDN(st.locals[i].dn, ndn) {
			id.Backend = BackendLocal
			id.DN = st.locals[i].name
			return id, nil, &st.locals[i]
		}
	}
	if r, ok := st.router.Match(ndn); ok {
		id.Route, id.Backend = r.Base, r.Backend
		if c, ok := st.canonical(r, ndn); ok && c != "" {
			id.DN = c
		} else {
			id.DN = ndn.String()
		}
		return id, r, nil
	}
	id.DN = ndn.String()
	return id, nil, nil
}

// canonical asks the route's backend, when it is a Namer, for the
// canonical form of the spelling ndn. named is false when the spelling
// can name no user of the route; true with "" when the backend cannot
// tell before it is asked.
func (st *State) canonical(rt *route, ndn *ldap.DN) (dn string, named bool) {
	n, ok := st.backends[rt.Backend].(Namer)
	if !ok {
		return "", true
	}
	return n.CanonicalDN(ndn, rt.Options)
}

// subjectOf is the identity of a user the backend named: the route's
// Identity with the backend's canonical DN. ok is false when the name
// does not parse or another route (or a local account) would serve it:
// the core would act on someone else than the backend authenticated.
//
// It is asked for a bind whose DN, as bound, was text: parsed as
// ndn and resolved to target (ndn nil: none). A backend that names the
// user by the very text bound (the usual case) names the DN the core
// already parsed and resolved (parsing and resolving are deterministic on
// one State), so neither is done again.
func (st *State) subjectOf(rt *route, name, text string, ndn *ldap.DN, target Identity) (Identity, *ldap.DN, bool) {
	if ndn != nil && name == text && target.Route == rt.Base && target.Backend == rt.Backend {
		target.DN = name
		return target, ndn, true
	}
	sdn, err := ParseDN(name)
	if err != nil || len(sdn.RDNs) == 0 {
		return Identity{}, nil, false
	}
	id, r2, la := st.resolve(sdn)
	if la != nil || r2 != rt {
		return Identity{}, nil, false
	}
	id.DN = name
	return id, sdn, true
}

// named is the identity of a DN the core refused before routing it: the
// DN only, in its normal form when it parses.
func named(text string, ndn *ldap.DN) Identity {
	if ndn != nil && len(ndn.RDNs) > 0 {
		return Identity{DN: ndn.String()}
	}
	return Identity{DN: text}
}
