package bridge

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

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

// State is one immutable configuration of the core: routes, backends and
// local accounts. Reload builds a new State and swaps it in.
type State struct {
	router   *Router
	backends map[string]Backend
	locals   []localAccount
}

type localAccount struct {
	dn     *ldap.DN
	verify func([]byte) bool
}

// NewState checks that every route names a known backend.
func NewState(routes []Route, backends map[string]Backend, locals []LocalAccount) (*State, error) {
	r, problems := newRouter(routes)
	for _, rt := range r.routes {
		if _, ok := backends[rt.Backend]; !ok {
			problems = append(problems, fmt.Sprintf("route %q: unknown backend %q", rt.Base, rt.Backend))
		}
	}
	s := &State{router: r, backends: backends}
	for _, la := range locals {
		dn, err := ParseDN(la.DN)
		if err != nil || len(dn.RDNs) == 0 || la.Verify == nil {
			problems = append(problems, fmt.Sprintf("local account %q: not a usable DN and hash", la.DN))
			continue
		}
		s.locals = append(s.locals, localAccount{dn: dn, verify: la.Verify})
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("build core state: %s", strings.Join(problems, "; "))
	}
	return s, nil
}

// Bridge is the protocol-neutral core: it authenticates, routes and
// authorises, and asks a Backend to act.
type Bridge struct {
	state atomic.Pointer[State]
	log   *slog.Logger
	// bindCache is the optional verified-bind cache (nil: off).
	bindCache atomic.Pointer[BindCache]
}

// New makes a core serving st.
func New(st *State, log *slog.Logger) *Bridge {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Bridge{log: log}
	b.state.Store(st)
	return b
}

// Swap installs a new state for operations that start from now on.
func (b *Bridge) Swap(st *State) { b.state.Store(st) }

// Current returns the state in force.
func (b *Bridge) Current() *State { return b.state.Load() }

// Diagnostics the core uses, worded as slapd words them where it has one.
const (
	diagEmptyPassword  = "unauthenticated bind (DN with no password) disallowed"
	diagAnonymousPwd   = "anonymous bind with a password disallowed"
	diagAnonChange     = "only authenticated users may change passwords"
	diagInvalidCreds   = "invalid credentials"
	diagMustChangeSelf = "you must change your password before doing anything else"
)

// Bind authenticates a simple bind. An empty DN with an empty password is
// an anonymous bind: success and a nil Principal.
func (b *Bridge) Bind(ctx context.Context, dn string, password Secret, ctl RequestControls) (Outcome, *Principal) {
	if strings.TrimSpace(dn) == "" {
		if password.IsZero() {
			return Outcome{Code: Success}, nil
		}
		return Fail(UnwillingToPerform, diagAnonymousPwd), nil
	}
	if password.IsZero() {
		// RFC 4513 §5.1.2: an unauthenticated bind; refuse it rather
		// than let an application mistake it for a login.
		return Fail(UnwillingToPerform, diagEmptyPassword), nil
	}
	ndn, err := ParseDN(dn)
	if err != nil || len(ndn.RDNs) == 0 {
		return Fail(InvalidDNSyntax, "invalid DN"), nil
	}
	st := b.state.Load()
	for _, la := range st.locals {
		if la.dn.EqualFold(ndn) {
			if la.verify(password.Bytes()) {
				return Outcome{Code: Success}, &Principal{dn: dn, ndn: ndn, local: true}
			}
			return Fail(InvalidCredentials, diagInvalidCreds), nil
		}
	}
	rt, ok := st.router.Match(ndn)
	if !ok {
		// Not distinguishable from a wrong password, as a directory would answer.
		return Fail(InvalidCredentials, diagInvalidCreds), nil
	}
	be := st.backends[rt.Backend]
	cache := b.bindCache.Load()
	hit, probe := cache.lookup(st, ndn, password, ctl)
	out := Outcome{Code: Success}
	if !hit {
		out = be.Bind(ctx, BindRequest{DN: dn, Password: password, Controls: ctl, Route: rt.Options})
		cache.store(probe, st, ctl, out)
	}
	if !out.OK() {
		if out.Code == InvalidCredentials && out.Diagnostic == "" {
			out.Diagnostic = diagInvalidCreds
		}
		return out, nil
	}
	p := &Principal{dn: dn, ndn: ndn, route: rt.Base, password: NewSecret(password.Bytes()), mustChange: out.MustChange}
	if out.MustChange && ctl.PasswordPolicy && out.Policy == nil {
		out.Policy = PolicyErr(ChangeAfterReset)
	}
	return out, p
}

// PasswordModify is a request to change a password, in the terms of the
// RFC 3062 extended operation.
type PasswordModify struct {
	// UserIdentity is "", a DN, or an authzId "dn:..."; "" means the
	// bound identity.
	UserIdentity string
	OldPassword  Secret // zero: absent
	NewPassword  Secret // zero: generate one
	Controls     RequestControls
}

// ChangeInfo tells the caller what the core decided, for audit and metrics.
type ChangeInfo struct {
	// Actor is the bound identity that asked ("" when anonymous).
	Actor   string
	Target  string
	Kind    ChangeKind
	Backend string
}

// ChangePassword authorises and performs a password change for the session
// bound as p (nil when anonymous).
func (b *Bridge) ChangePassword(ctx context.Context, p *Principal, req PasswordModify) (Outcome, ChangeInfo) {
	var info ChangeInfo
	if p != nil {
		info.Actor = p.DN()
	}
	if p == nil {
		return Fail(StrongerAuthRequired, diagAnonChange), info
	}
	target := req.UserIdentity
	switch {
	case target == "":
		target = p.DN()
	case strings.HasPrefix(target, "dn:"):
		target = target[3:]
	case strings.HasPrefix(target, "u:"):
		return Fail(UnwillingToPerform, "userIdentity in the u: form is not supported; give a DN"), info
	}
	tdn, err := ParseDN(target)
	if err != nil || len(tdn.RDNs) == 0 {
		return Fail(InvalidDNSyntax, "userIdentity is not a valid DN"), info
	}
	info.Target = target
	st := b.state.Load()
	rt, ok := st.router.Match(tdn)
	if !ok {
		return Fail(NoSuchObject, "no backend serves this DN"), info
	}
	info.Backend = rt.Backend
	self := p.Is(tdn)
	if !self && p.MustChange() {
		return Fail(InsufficientAccessRights, diagMustChangeSelf), info
	}
	creq := ChangeRequest{
		Target:      target,
		OldPassword: req.OldPassword,
		NewPassword: req.NewPassword,
		Controls:    req.Controls,
		Route:       rt.Options,
	}
	switch {
	case self && p.Local():
		return Fail(UnwillingToPerform, "the password of a local service account is set in the bridge's configuration"), info
	case self:
		creq.Kind = SelfChange
		creq.Actor = p.credentials()
	case !req.OldPassword.IsZero() && rt.AllowOldPasswordProof:
		creq.Kind = SelfChange
		creq.Actor = Credentials{DN: target, Password: NewSecret(req.OldPassword.Bytes())}
	default:
		creq.Kind = AdminReset
		switch {
		case rt.isAdmin(p.ParsedDN()):
		case rt.BackendAuthorizes && len(rt.admins) == 0 && !p.Local():
			// The backend acts as the bound user and applies its own
			// access control.
		default:
			return Fail(InsufficientAccessRights, fmt.Sprintf("%s may not reset passwords under %q", p.DN(), rt.Base)), info
		}
		if !p.Local() {
			creq.Actor = p.credentials()
		}
		// An administrative reset does not prove the old password; a
		// backend that saw one would treat the request as a self change.
		creq.OldPassword = Secret{}
	}
	info.Kind = creq.Kind
	// The verified-bind cache forgets the target before the change (and
	// refuses verifications that overlap it) and again after it.
	cache := b.bindCache.Load()
	cache.forget(tdn)
	out := st.backends[rt.Backend].ChangePassword(ctx, creq)
	cache.forget(tdn)
	creq.Actor.Password.Wipe()
	if out.OK() && self {
		nw := req.NewPassword
		if nw.IsZero() {
			nw = out.GeneratedPassword
		}
		p.passwordChanged(nw)
	}
	return out, info
}
