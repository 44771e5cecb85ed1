package bridge

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The must-change rule, in one table: what a session whose password an
// administrator reset may do, and what it is told when it may not.
func TestRestriction(t *testing.T) {
	b, pd, _ := newCore(t)
	normal := bind(t, b, "uid=bob,ou=staff,dc=example,dc=com", "pw")
	pd.bindOut = Outcome{Code: Success, MustChange: true}
	reset := bind(t, b, "uid=carol,ou=staff,dc=example,dc=com", "pw")
	if !reset.MustChange() || normal.MustChange() {
		t.Fatal("bind did not carry must-change")
	}
	const (
		ok         = ""
		slapdWords = diagRestricted
		selfOnly   = diagMustChangeSelf
	)
	for _, tc := range []struct {
		name               string
		p                  *Principal
		op                 Operation
		self, passwordOnly bool
		want               string // diagnostic of the refusal; "" = allowed
	}{
		{"anonymous, anything", nil, OpOther, false, false, ok},
		{"unrestricted, anything", normal, OpOther, false, false, ok},
		{"unrestricted, another's password", normal, OpPasswordModify, false, true, ok},
		{"nothing to check", reset, OpNone, false, false, ok},
		{"bind", reset, OpBind, false, false, ok},
		{"who am I", reset, OpWhoAmI, false, false, ok},
		{"root DSE", reset, OpReadRoot, false, false, ok},
		{"own password (Password Modify)", reset, OpPasswordModify, true, true, ok},
		{"another's password (Password Modify)", reset, OpPasswordModify, false, true, selfOnly},
		{"own userPassword (Modify)", reset, OpModifyPassword, true, true, ok},
		{"own userPassword and more (Modify)", reset, OpModifyPassword, true, false, slapdWords},
		{"another's userPassword (Modify)", reset, OpModifyPassword, false, true, slapdWords},
		{"own entry, not the password (Modify)", reset, OpModify, true, false, slapdWords},
		{"search", reset, OpOther, false, false, slapdWords},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, allowed := Restriction(tc.p, tc.op, tc.self, tc.passwordOnly)
			if allowed != (tc.want == ok) || out.Diagnostic != tc.want {
				t.Fatalf("allowed %v %+v, want diagnostic %q", allowed, out, tc.want)
			}
			if !allowed && out.Code != InsufficientAccessRights {
				t.Errorf("code %v", out.Code)
			}
			// slapd's refusal carries ppolicy's changeAfterReset.
			if tc.want == slapdWords && (out.Policy == nil || out.Policy.Error != ChangeAfterReset) {
				t.Errorf("policy %+v", out.Policy)
			}
		})
	}
}

// The core's own operations apply the rule: a restricted session's
// Modify and Password Modify are refused or allowed by it, and the
// Decision says whether the session is still restricted.
func TestRestrictionInTheCore(t *testing.T) {
	ctx := context.Background()
	const carol, bob = "uid=carol,ou=staff,dc=example,dc=com", "uid=bob,ou=staff,dc=example,dc=com"
	for _, tc := range []struct {
		name       string
		do         func(b *Bridge, p *Principal) Decision
		code       ResultCode
		restricted bool // after the operation
	}{
		{"Password Modify of another", func(b *Bridge, p *Principal) Decision {
			return b.ChangePassword(ctx, p, PasswordModify{Secure: true, UserIdentity: bob, NewPassword: SecretString("n")})
		}, InsufficientAccessRights, true},
		{"Modify of another's userPassword", func(b *Bridge, p *Principal) Decision {
			return b.Modify(ctx, p, ModifyRequest{Object: bob, TouchesPassword: true, PasswordOnly: true,
				Change: PasswordModify{Secure: true, NewPassword: SecretString("n")}})
		}, InsufficientAccessRights, true},
		{"Modify of own entry beyond userPassword", func(b *Bridge, p *Principal) Decision {
			return b.Modify(ctx, p, ModifyRequest{Object: carol, TouchesPassword: true,
				Change: PasswordModify{Secure: true, NewPassword: SecretString("n")}})
		}, InsufficientAccessRights, true},
		{"Modify of own userPassword", func(b *Bridge, p *Principal) Decision {
			return b.Modify(ctx, p, ModifyRequest{Object: carol, TouchesPassword: true, PasswordOnly: true,
				Change: PasswordModify{Secure: true, NewPassword: SecretString("n")}})
		}, Success, false},
		{"Password Modify of own", func(b *Bridge, p *Principal) Decision {
			return b.ChangePassword(ctx, p, PasswordModify{Secure: true, NewPassword: SecretString("n")})
		}, Success, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, pd, _ := newCore(t)
			pd.bindOut = Outcome{Code: Success, MustChange: true}
			p := bind(t, b, carol, "pw")
			d := tc.do(b, p)
			if d.Outcome.Code != tc.code || d.Restricted != tc.restricted || p.MustChange() != tc.restricted {
				t.Fatalf("%+v (restricted %v), want %v restricted %v", d.Outcome, d.Restricted, tc.code, tc.restricted)
			}
			if tc.code != Success && len(pd.changes) != 0 {
				t.Error("a refused change reached the backend")
			}
		})
	}
}

// Every Decision names its actor and target as the core resolved them,
// once: route, backend and the DN in its normal form.
func TestDecisionIdentities(t *testing.T) {
	ctx := context.Background()
	b, _, p1 := newCore(t)
	staff := Identity{Route: "dc=example,dc=com", Backend: "pd", DN: "uid=bob,ou=staff,dc=example,dc=com"}
	people := Identity{Route: "ou=people,dc=example,dc=com", Backend: "p1", DN: "uid=alice,ou=people,dc=example,dc=com"}
	admin := Identity{Route: "dc=example,dc=com", Backend: "pd", DN: "cn=admin,dc=example,dc=com"}

	d := b.Bind(ctx, "UID=bob, ou=staff, dc=example, dc=com", SecretString("pw"), RequestControls{})
	if !d.Outcome.OK() || d.Op != OpBind || d.Target != staff || d.Principal.Identity() != staff || d.Restricted {
		t.Fatalf("bind: %+v", d)
	}
	if d.Principal.DN() != staff.DN {
		t.Errorf("the session is the canonical identity, not the client's spelling: %q", d.Principal.DN())
	}
	if d := b.Bind(ctx, "cn=svc,dc=example,dc=com", SecretString("nope"), RequestControls{}); d.Outcome.Code != InvalidCredentials ||
		d.Target != (Identity{Backend: BackendLocal, DN: "cn=svc,dc=example,dc=com"}) || d.Principal != nil {
		t.Errorf("local account: %+v", d)
	}
	if d := b.Bind(ctx, "uid=x,dc=other,dc=org", SecretString("pw"), RequestControls{}); d.Target != (Identity{DN: "uid=x,dc=other,dc=org"}) {
		t.Errorf("unrouted: %+v", d.Target)
	}
	if d := b.Bind(ctx, "not a DN", SecretString("pw"), RequestControls{}); d.Target != (Identity{DN: "not a DN"}) {
		t.Errorf("invalid DN: %+v", d.Target)
	}
	if d := b.RefuseBind("uid=alice,ou=people,dc=example,dc=com", Fail(ConfidentialityRequired, "tls")); d.Op != OpBind ||
		d.Target != people || d.Outcome.Code != ConfidentialityRequired || d.Principal != nil || len(p1.binds) != 0 {
		t.Errorf("refused bind: %+v", d)
	}

	a := bind(t, b, "cn=admin,dc=example,dc=com", "pw")
	d = b.ChangePassword(ctx, a, PasswordModify{Secure: true, UserIdentity: "dn:uid=alice,ou=people,dc=example,dc=com", NewPassword: SecretString("n")})
	if !d.Outcome.OK() || d.Op != OpPasswordModify || d.Actor != admin || d.Target != people || d.Kind != AdminReset || !d.ChangesPassword() {
		t.Errorf("reset: %+v", d)
	}
	// Refused before a route was chosen: the target has no backend.
	d = b.ChangePassword(ctx, a, PasswordModify{UserIdentity: "uid=alice,ou=people,dc=example,dc=com", NewPassword: SecretString("n")})
	if d.Outcome.Code != ConfidentialityRequired || d.Target.Backend != "" || d.Target.DN != people.DN || d.Kind != 0 {
		t.Errorf("no TLS: %+v", d)
	}
	d = b.ChangePassword(ctx, nil, PasswordModify{Secure: true, UserIdentity: "uid=alice,ou=people,dc=example,dc=com"})
	if d.Outcome.Code != StrongerAuthRequired || d.Actor != (Identity{}) || d.Target.Backend != "" {
		t.Errorf("anonymous: %+v", d)
	}
	invalid := Fail(ProtocolError, "bad request value")
	d = b.ChangePassword(ctx, a, PasswordModify{Secure: true, Invalid: &invalid})
	if d.Outcome.Code != ProtocolError || d.Target.DN != a.DN() {
		t.Errorf("invalid request: %+v", d)
	}
	// A Modify of anything else is not a password change.
	d = b.Modify(ctx, a, ModifyRequest{Object: people.DN})
	if d.Op != OpModify || d.ChangesPassword() || d.Outcome.Code != UnwillingToPerform {
		t.Errorf("modify of another attribute: %+v", d)
	}
}

// The order of a Modify's refusals is the one clients saw before the core
// decided them.
func TestModifyRefusals(t *testing.T) {
	ctx := context.Background()
	b, pd, _ := newCore(t)
	a := bind(t, b, "cn=admin,dc=example,dc=com", "pw")
	const bob = "uid=bob,ou=staff,dc=example,dc=com"
	shape := Fail(UnwillingToPerform, "shape")
	newPw := PasswordModify{Secure: true, NewPassword: SecretString("n")}
	for _, tc := range []struct {
		name string
		p    *Principal
		req  ModifyRequest
		code ResultCode
	}{
		{"not the password", a, ModifyRequest{Object: bob, Change: newPw}, UnwillingToPerform},
		{"no TLS", a, ModifyRequest{Object: bob, TouchesPassword: true, PasswordOnly: true, Change: PasswordModify{NewPassword: SecretString("n")}}, ConfidentialityRequired},
		{"no TLS before invalid DN", a, ModifyRequest{Object: "bad", TouchesPassword: true, PasswordOnly: true}, ConfidentialityRequired},
		{"invalid DN", a, ModifyRequest{Object: "bad", TouchesPassword: true, PasswordOnly: true, Change: newPw}, InvalidDNSyntax},
		{"shape", a, ModifyRequest{Object: bob, TouchesPassword: true, Change: PasswordModify{Secure: true, Invalid: &shape}}, UnwillingToPerform},
		{"anonymous", nil, ModifyRequest{Object: bob, TouchesPassword: true, PasswordOnly: true, Change: newPw}, StrongerAuthRequired},
		{"reset", a, ModifyRequest{Object: bob, TouchesPassword: true, PasswordOnly: true, Change: newPw}, Success},
	} {
		pd.changes = nil
		d := b.Modify(ctx, tc.p, tc.req)
		if d.Outcome.Code != tc.code || (len(pd.changes) == 1) != (tc.code == Success) {
			t.Errorf("%s: %+v, %d backend calls; want %v", tc.name, d.Outcome, len(pd.changes), tc.code)
		}
	}
}

// closingBackend is a Backend with a Close method whose Bind can be held
// in flight.
type closingBackend struct {
	recorder
	hold    chan struct{} // when set, Bind waits for it to close
	started chan struct{}
	mu      sync.Mutex
	closed  bool
	calls   atomic.Int32
}

func (c *closingBackend) Bind(ctx context.Context, req BindRequest) Outcome {
	c.calls.Add(1)
	if c.hold != nil {
		close(c.started)
		<-c.hold
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return Fail(Other, "used after Close")
	}
	return Outcome{Code: Success}
}

func (c *closingBackend) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

func (c *closingBackend) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func closingState(t *testing.T, be ...Backend) *State {
	t.Helper()
	m := map[string]Backend{}
	var routes []Route
	for i, b := range be {
		name := string(rune('a' + i))
		m[name] = b
		routes = append(routes, Route{Base: "ou=" + name + ",dc=example,dc=com", Backend: name})
	}
	st, err := NewState(routes, m, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// Swap installs a new generation at once, and closes the old one's
// backends only after the operations that started on it are done; a
// backend the new generation shares stays open.
func TestSwapClosesTheOldGeneration(t *testing.T) {
	old := &closingBackend{hold: make(chan struct{}), started: make(chan struct{})}
	shared := &closingBackend{}
	b := New(closingState(t, old, shared), nil)

	inFlight := make(chan Decision)
	go func() {
		inFlight <- b.Bind(context.Background(), "uid=x,ou=a,dc=example,dc=com", SecretString("pw"), RequestControls{})
	}()
	<-old.started

	next := &closingBackend{}
	// The new generation routes ou=a to next, and keeps shared.
	closed := b.Swap(closingState(t, next, shared))
	if d := b.Bind(context.Background(), "uid=y,ou=a,dc=example,dc=com", SecretString("pw"), RequestControls{}); !d.Outcome.OK() ||
		next.calls.Load() != 1 {
		t.Fatalf("an operation after the swap did not use the new generation: %+v", d)
	}
	select {
	case <-closed:
		t.Fatal("the old generation closed while an operation was running on it")
	case <-time.After(50 * time.Millisecond):
	}
	if old.isClosed() {
		t.Fatal("old backend closed under an operation")
	}
	close(old.hold)
	if d := <-inFlight; !d.Outcome.OK() {
		t.Fatalf("the operation in flight failed: %+v", d.Outcome)
	}
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the old generation was not closed")
	}
	if !old.isClosed() || shared.isClosed() || next.isClosed() {
		t.Errorf("closed: old %v shared %v next %v; want only old", old.isClosed(), shared.isClosed(), next.isClosed())
	}
	// Close retires the generation in force.
	<-b.Close()
	if !next.isClosed() || !shared.isClosed() {
		t.Error("Close left backends open")
	}
}

// Many operations across many swaps: each runs on one generation, and no
// backend is used after it was closed.
func TestSwapUnderLoad(t *testing.T) {
	b := New(closingState(t, &closingBackend{}), nil)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var failed atomic.Int32
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if d := b.Bind(context.Background(), "uid=x,ou=a,dc=example,dc=com", SecretString("pw"), RequestControls{}); !d.Outcome.OK() {
					failed.Add(1)
				}
			}
		}()
	}
	var closes []<-chan struct{}
	for range 50 {
		closes = append(closes, b.Swap(closingState(t, &closingBackend{})))
	}
	close(stop)
	wg.Wait()
	for _, c := range closes {
		<-c
	}
	if n := failed.Load(); n != 0 {
		t.Fatalf("%d operations used a closed backend", n)
	}
}
