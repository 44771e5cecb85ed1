package bridge

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"

	"github.com/go-ldap/ldap/v3"
)

// Bridge is the protocol-neutral core: it authenticates, routes and
// authorises, asks a Backend to act, and returns one Decision per
// operation.
type Bridge struct {
	state atomic.Pointer[State]
	log   *slog.Logger
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

// Swap installs st for the operations that start from now on. The old
// generation is retired: once the operations that started on it are done,
// its backends that st does not share are closed (those that have a Close
// method). The channel closes when that is done.
func (b *Bridge) Swap(st *State) <-chan struct{} {
	old := b.state.Swap(st)
	return b.retire(old, st)
}

// Close retires the generation in force, as Swap does, when the process
// stops serving; no operation may start after it.
func (b *Bridge) Close() <-chan struct{} { return b.retire(b.state.Load(), nil) }

func (b *Bridge) retire(old, next *State) <-chan struct{} {
	done := make(chan struct{})
	if old == nil || old == next {
		close(done)
		return done
	}
	old.retire()
	go func() {
		defer close(done)
		<-old.drained
		old.closeBackends(next, func(name string, err error) {
			b.log.Warn("closing a backend of the previous configuration", "backend", name, "err", err)
		})
	}()
	return done
}

// Current returns the state in force.
func (b *Bridge) Current() *State { return b.state.Load() }

// NamingContexts are the route bases of the generation in force.
func (b *Bridge) NamingContexts() []string { return b.state.Load().NamingContexts() }

// enter returns the generation in force, counted as in use until leave.
func (b *Bridge) enter() *State {
	for {
		st := b.state.Load()
		if st.enter() {
			return st
		}
		// Retired between the load and enter: a newer one is in force.
	}
}

// Diagnostics the core uses, worded as slapd words them where it has one.
const (
	diagEmptyPassword = "unauthenticated bind (DN with no password) disallowed"
	diagAnonymousPwd  = "anonymous bind with a password disallowed"
	diagAnonChange    = "only authenticated users may change passwords"
	diagInvalidCreds  = "invalid credentials"
	diagNeedTLS       = "password changes need TLS on this connection"
	diagLocalPassword = "the password of a local service account is set in the bridge's configuration"
	// DiagModifyOnlyPassword answers a Modify of anything but userPassword.
	DiagModifyOnlyPassword = "this server supports modify of the userPassword attribute only"
	// DiagShutdownUnknown is the outcome of a password change whose
	// backend call the process's shutdown cut short.
	DiagShutdownUnknown = "outcome unknown (shutdown)"
)

// ErrShutdown is the cause with which a front end cancels the context of
// the operations still in flight when the process stops (the drain
// deadline passed). The core tells it from an abandon or a client gone:
// a password change cut short by it is "outcome unknown (shutdown)".
var ErrShutdown = errors.New("the server is shutting down")

// shutdownOutcome is what a password change answered out when the
// backend call ran under ctx. When the shutdown cancelled ctx and the
// backend gave no decided answer (success, or a refusal it made), the
// request may or may not have been applied: whatever the backend client
// concluded from a cut connection (canceled, unavailable) is not known to
// be true, and a change must never be reported as a failure that did not
// happen. The audit record then says so.
func shutdownOutcome(ctx context.Context, out Outcome) Outcome {
	if out.OK() || !errors.Is(context.Cause(ctx), ErrShutdown) {
		return out
	}
	switch out.Code {
	case Canceled, Other, Unavailable, Busy, TimeLimitExceeded, OperationsError, AdminLimitExceeded:
		o := Fail(Other, DiagShutdownUnknown)
		o.RequestID = out.RequestID
		out.GeneratedPassword.Wipe()
		return o
	}
	return out
}

// Bind authenticates a simple bind. An empty DN with an empty password is
// an anonymous bind: success and no Principal. On success the Decision
// carries the session's new Principal.
func (b *Bridge) Bind(ctx context.Context, dn string, password Secret, ctl RequestControls) Decision {
	d := Decision{Op: OpBind}
	if strings.TrimSpace(dn) == "" {
		if password.IsZero() {
			d.Outcome = Outcome{Code: Success}
			return d
		}
		d.Outcome = Fail(UnwillingToPerform, diagAnonymousPwd)
		return d
	}
	st := b.enter()
	defer st.leave()
	ndn, rt, la := st.bindTarget(&d, dn)
	switch {
	case password.IsZero():
		// RFC 4513 §5.1.2: an unauthenticated bind; refuse it rather
		// than let an application mistake it for a login.
		d.Outcome = Fail(UnwillingToPerform, diagEmptyPassword)
		return d
	case ndn == nil:
		d.Outcome = Fail(InvalidDNSyntax, "invalid DN")
		return d
	case la != nil:
		if la.verify(password.Bytes()) {
			d.Outcome = Outcome{Code: Success}
			d.Principal = &Principal{dn: d.Target.DN, ndn: la.dn, id: d.Target, local: true}
			return d
		}
		d.Outcome = Outcome{Code: InvalidCredentials, Diagnostic: diagInvalidCreds, Reason: "wrong password of a local account"}
		return d
	case rt == nil:
		// Not distinguishable from a wrong password, as a directory would answer.
		d.Outcome = Outcome{Code: InvalidCredentials, Diagnostic: diagInvalidCreds, Reason: "no route serves the DN"}
		return d
	}
	if _, named := st.canonical(rt, ndn); !named {
		// The route's identity rule: this spelling names no user,
		// whatever the password (identity.go). Answered as a wrong
		// password, without a backend call; the refusal tells nothing
		// about any account, only about the spelling, which the rule
		// makes public.
		d.Outcome = Outcome{Code: InvalidCredentials, Diagnostic: diagInvalidCreds,
			Reason: "the DN is not the canonical name of a user of the route"}
		return d
	}
	return b.bindRoute(ctx, st, &d, dn, ndn, rt, password, ctl)
}

// bindRoute verifies a bind with the route's backend (or the verified-bind
// cache) and makes the session's identity the one the backend named.
func (b *Bridge) bindRoute(ctx context.Context, st *State, d *Decision, dn string, ndn *ldap.DN, rt *route, password Secret, ctl RequestControls) Decision {
	be := st.backends[rt.Backend]
	cache := st.cache
	hit, cached, probe := cache.lookup(st, ndn, password, ctl)
	out := Outcome{Code: Success, Subject: cached}
	if !hit {
		out = be.Bind(ctx, BindRequest{DN: dn, Password: password, Controls: ctl, Route: rt.Options, Parsed: ndn})
	}
	// The identity from here on is the backend's name for the user when
	// it gave one (a failed bind of a user it found too, so that audit
	// and the throttle count it against the user).
	sdn := ndn
	if out.Subject != "" {
		id, parsed, ok := st.subjectOf(rt, out.Subject, dn, ndn, d.Target)
		if !ok {
			b.log.Warn("a backend named a user outside the route it serves; refusing the bind",
				"backend", rt.Backend, "route", rt.Base, "code", int(out.Code))
			out = Outcome{Code: InvalidCredentials, RequestID: out.RequestID,
				Reason: "the backend named the user by a DN outside the route"}
		} else {
			d.Target, sdn = id, parsed
		}
	}
	if !hit {
		cache.store(probe, st, ctl, out, sdn)
	}
	if !out.OK() {
		if out.Code == InvalidCredentials && out.Diagnostic == "" {
			out.Diagnostic = diagInvalidCreds
		}
		d.Outcome = out
		return *d
	}
	d.Principal = &Principal{dn: d.Target.DN, ndn: sdn, id: d.Target, route: rt.Base,
		password: NewSecret(password.Bytes()), mustChange: out.MustChange}
	if out.MustChange && ctl.PasswordPolicy && out.Policy == nil {
		out.Policy = PolicyErr(ChangeAfterReset)
	}
	d.Outcome = out
	d.Restricted = out.MustChange
	return *d
}

// RefuseBind is the Decision on a bind the front end refused before
// asking the core (no TLS, SASL, a limit): the same identity the core
// would have resolved, with the front end's outcome.
func (b *Bridge) RefuseBind(dn string, out Outcome) Decision {
	d := Decision{Op: OpBind, Outcome: out}
	if strings.TrimSpace(dn) == "" {
		return d
	}
	st := b.enter()
	defer st.leave()
	st.bindTarget(&d, dn)
	return d
}

// bindTarget parses the DN of a bind, once, and resolves whom it names
// into d.Target; ndn is nil when the DN is not a valid non-empty DN.
func (st *State) bindTarget(d *Decision, dn string) (ndn *ldap.DN, rt *route, la *localAccount) {
	ndn, err := ParseDN(dn)
	if err != nil || len(ndn.RDNs) == 0 {
		d.Target = Identity{DN: dn}
		return nil, nil, nil
	}
	d.Target, rt, la = st.resolve(ndn)
	return ndn, rt, la
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
	// Secure: the connection may carry passwords (TLS, or cleartext the
	// listener allows); a change over one that may not is refused.
	Secure bool
	// Invalid, when set, is the front end's answer to a request it could
	// not read; the core refuses the change with it, and audits it.
	Invalid *Outcome
}

// ModifyRequest is an LDAP Modify as the core needs it: the entry, what
// the front end read of its changes, and the password change they spell.
type ModifyRequest struct {
	// Object is the entry's DN as sent.
	Object string
	// TouchesPassword: some change is to userPassword (the request is a
	// password change attempt, audited whatever becomes of it);
	// PasswordOnly: every change is.
	TouchesPassword, PasswordOnly bool
	// Change is the password change the modifications spell; its
	// UserIdentity is ignored (the target is Object). Change.Invalid is
	// why they spell none the bridge takes.
	Change PasswordModify
}

// ChangePassword authorises and performs a password change for the session
// bound as p (nil when anonymous).
func (b *Bridge) ChangePassword(ctx context.Context, p *Principal, req PasswordModify) Decision {
	d := Decision{Op: OpPasswordModify, Actor: p.Identity()}
	target := req.UserIdentity
	uform := false
	switch {
	case target == "" && p != nil:
		target = p.DN()
	case strings.HasPrefix(target, "dn:"):
		target = target[3:]
	case strings.HasPrefix(target, "u:"):
		uform = true
	}
	st := b.enter()
	defer st.leave()
	refuse := func(o Outcome) Decision {
		d.Outcome = o
		d.Restricted = p.MustChange()
		return d
	}
	d.Target = Identity{DN: target}
	switch {
	case !req.Secure:
		return refuse(Fail(ConfidentialityRequired, diagNeedTLS))
	case req.Invalid != nil:
		return refuse(*req.Invalid)
	case p == nil:
		return refuse(Fail(StrongerAuthRequired, diagAnonChange))
	case uform:
		return refuse(Fail(UnwillingToPerform, "userIdentity in the u: form is not supported; give a DN"))
	}
	tdn, err := ParseDN(target)
	if err != nil || len(tdn.RDNs) == 0 {
		return refuse(Fail(InvalidDNSyntax, "userIdentity is not a valid DN"))
	}
	return b.change(ctx, st, p, &d, target, tdn, req)
}

// Modify answers an LDAP Modify: a change of userPassword is a password
// change, with the result codes of Password Modify; any other is refused.
func (b *Bridge) Modify(ctx context.Context, p *Principal, req ModifyRequest) Decision {
	d := Decision{Op: OpModify, Actor: p.Identity()}
	if req.TouchesPassword {
		d.Op = OpModifyPassword
	}
	tdn, err := ParseDN(req.Object)
	if err != nil || len(tdn.RDNs) == 0 {
		tdn = nil
	}
	d.Target = named(req.Object, tdn)
	refuse := func(o Outcome) Decision {
		d.Outcome = o
		d.Restricted = p.MustChange()
		return d
	}
	// A session that must change its password may change its own and do
	// nothing else, as under slapd's ppolicy; that comes first.
	if o, ok := Restriction(p, d.Op, tdn != nil && p.Is(tdn), req.PasswordOnly); !ok {
		return refuse(o)
	}
	switch {
	case !req.TouchesPassword:
		return refuse(Fail(UnwillingToPerform, DiagModifyOnlyPassword))
	case !req.Change.Secure:
		return refuse(Fail(ConfidentialityRequired, diagNeedTLS))
	case tdn == nil:
		return refuse(Fail(InvalidDNSyntax, "invalid DN: a password is modified on a user's entry"))
	case req.Change.Invalid != nil:
		return refuse(*req.Change.Invalid)
	case p == nil:
		return refuse(Fail(StrongerAuthRequired, diagAnonChange))
	}
	st := b.enter()
	defer st.leave()
	d2 := b.change(ctx, st, p, &d, req.Object, tdn, req.Change)
	// A ModifyResponse has nowhere to put a generated password, and every
	// shape the front end accepts names the new one.
	d2.Outcome.GeneratedPassword.Wipe()
	return d2
}

// change routes, authorises and performs a password change of the user
// tdn (target as sent) for the session p, filling d.
func (b *Bridge) change(ctx context.Context, st *State, p *Principal, d *Decision, target string, tdn *ldap.DN, req PasswordModify) Decision {
	refuse := func(o Outcome) Decision {
		d.Outcome = o
		d.Restricted = p.MustChange()
		return *d
	}
	var rt *route
	var la *localAccount
	d.Target, rt, la = st.resolve(tdn)
	if rt == nil && la == nil {
		return refuse(Fail(NoSuchObject, "no backend serves this DN"))
	}
	self := p.Is(tdn)
	if o, ok := Restriction(p, OpPasswordModify, self, true); !ok {
		return refuse(o)
	}
	if la != nil {
		return refuse(Fail(UnwillingToPerform, diagLocalPassword))
	}
	if _, named := st.canonical(rt, tdn); !named {
		// The route's identity rule (identity.go): only the canonical
		// DN names a user, for a change as for a bind.
		return refuse(Outcome{Code: NoSuchObject, Diagnostic: "the DN does not name a user of this route",
			Reason: "the DN is not the canonical name of a user of the route"})
	}
	creq := ChangeRequest{
		Target:      target,
		OldPassword: req.OldPassword,
		NewPassword: req.NewPassword,
		Controls:    req.Controls,
		Route:       rt.Options,
	}
	switch {
	case self:
		creq.Kind = SelfChange
		creq.Actor = p.credentials()
	case !req.OldPassword.IsZero() && rt.AllowOldPasswordProof:
		creq.Kind = SelfChange
		creq.Actor = Credentials{DN: target, Password: NewSecret(req.OldPassword.Bytes())}
	default:
		own, delegated, o, ok := authorizeReset(p, d.Target, rt)
		if !ok {
			return refuse(o)
		}
		if !req.OldPassword.IsZero() {
			// RFC 3062: an old password that is supplied is checked,
			// whoever asks. The change is the target's own, proven by
			// that password (PingDirectory: "If oldPassword is
			// provided, the request is a self password change,
			// regardless of its authorization state"; PingOne:
			// password.reset with currentPassword). A wrong one changes
			// nothing.
			creq.Kind = SelfChange
			if delegated {
				// The backend decides who may do what: it gets the
				// request as the session sent it, old password
				// included, and checks it.
				creq.Actor = p.credentials()
				break
			}
			// Made as the target, with the password that proves it.
			creq.Actor = Credentials{DN: target, Password: NewSecret(req.OldPassword.Bytes())}
			break
		}
		creq.Kind = AdminReset
		if own {
			// The backend that verified the session's password acts as
			// the session (PingDirectory applies its own access control).
			creq.Actor = p.credentials()
		}
		// Otherwise Actor stays empty: the backend acts with its own
		// service credential, and no other backend's password leaves.
	}
	d.Kind = creq.Kind
	// The verified-bind cache forgets the target before the change (and
	// refuses verifications that overlap it) and again after it.
	cache := st.cache
	cache.forget(tdn)
	out := shutdownOutcome(ctx, st.backends[rt.Backend].ChangePassword(ctx, creq))
	cache.forget(tdn)
	creq.Actor.Password.Wipe()
	if out.OK() && self {
		nw := req.NewPassword
		if nw.IsZero() {
			nw = out.GeneratedPassword
		}
		p.passwordChanged(nw)
	}
	if out.Code == InvalidCredentials && out.Diagnostic == "" {
		// A wrong old password reads the same on every route.
		out.Diagnostic = diagInvalidCreds
	}
	d.Outcome = out
	d.Restricted = p.MustChange()
	return *d
}

// authorizeReset decides whether the session p may reset the password of
// target on route rt, and whether p is one of that backend's own users
// (own: the backend verified p's password, so it may act as p). A
// password goes only to the backend that verified it: anyone else (a
// local account, a user of a route to another backend) needs the route's
// service credential and a place in its admins. The refusal asks the
// backend nothing.
//
// delegated: the bridge left the decision to the backend (a route to a
// backend with its own access control and no admins), which acts as p.
func authorizeReset(p *Principal, target Identity, rt *route) (own, delegated bool, out Outcome, ok bool) {
	id := p.Identity()
	// Two routes to one backend share its users' passwords: the backend
	// that verified the session's password is the one that acts.
	own = !p.Local() && id.Backend != "" && id.Backend == target.Backend
	admin := rt.isAdmin(p.ParsedDN())
	switch {
	case own && admin:
	case own && rt.BackendAuthorizes && len(rt.admins) == 0:
		// The backend acts as the bound user and applies its own
		// access control.
		delegated = true
	case !own && admin && rt.ServiceCredential:
	case !own && admin:
		return own, false, Fail(InsufficientAccessRights, fmt.Sprintf(
			"%s may not reset passwords under %q: it is not a user of backend %q, and the bridge has no service credential for that backend",
			p.DN(), rt.Base, rt.Backend)), false
	default:
		return own, false, Fail(InsufficientAccessRights, fmt.Sprintf("%s may not reset passwords under %q", p.DN(), rt.Base)), false
	}
	return own, delegated, Outcome{}, true
}
