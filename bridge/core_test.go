package bridge

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

// recorder is a Backend that records what the core asked of it and answers
// from a script; the core's own logic is what is under test here.
type recorder struct {
	name    string
	binds   []BindRequest
	changes []ChangeRequest
	actorPw []string // the actor's password as the backend saw it
	bindOut Outcome
	chgOut  Outcome
}

func (r *recorder) Bind(_ context.Context, req BindRequest) Outcome {
	r.binds = append(r.binds, req)
	return r.bindOut
}

func (r *recorder) ChangePassword(_ context.Context, req ChangeRequest) Outcome {
	r.changes = append(r.changes, req)
	r.actorPw = append(r.actorPw, req.Actor.Password.Reveal())
	return r.chgOut
}

func newCore(t *testing.T) (*Bridge, *recorder, *recorder) {
	t.Helper()
	pd := &recorder{name: "pd", bindOut: Outcome{Code: Success}, chgOut: Outcome{Code: Success}}
	p1 := &recorder{name: "p1", bindOut: Outcome{Code: Success}, chgOut: Outcome{Code: Success}}
	st, err := NewState([]Route{
		{Base: "dc=example,dc=com", Backend: "pd", BackendAuthorizes: true},
		{Base: "ou=people,dc=example,dc=com", Backend: "p1", Admins: []string{"cn=admin,dc=example,dc=com"}, ServiceCredential: true, Options: RouteOptions{ForceChange: true}},
	}, map[string]Backend{"pd": pd, "p1": p1}, []LocalAccount{{
		DN:     "cn=svc,dc=example,dc=com",
		Verify: func(p []byte) bool { return string(p) == "svc-secret" },
	}})
	if err != nil {
		t.Fatal(err)
	}
	return New(st, nil), pd, p1
}

// split is a bind's Decision as the session uses it.
func split(d Decision) (Outcome, *Principal) { return d.Outcome, d.Principal }

// chg is a change's Decision as its outcome and the rest.
func chg(d Decision) (Outcome, Decision) { return d.Outcome, d }

func bind(t *testing.T, b *Bridge, dn, pw string) *Principal {
	t.Helper()
	out, p := split(b.Bind(context.Background(), dn, SecretString(pw), RequestControls{}))
	if !out.OK() || p == nil {
		t.Fatalf("bind %s: %+v", dn, out)
	}
	return p
}

func TestRouteLongestMatch(t *testing.T) {
	b, pd, p1 := newCore(t)
	for _, tc := range []struct {
		dn   string
		want *recorder
	}{
		{"uid=bob,ou=staff,dc=example,dc=com", pd},
		{"uid=alice,ou=people,dc=example,dc=com", p1},
		{"UID=Alice, OU=People, DC=Example, DC=Com", p1},
		{"cn=admin,dc=example,dc=com", pd},
		{"ou=people,dc=example,dc=com", p1},
	} {
		pd.binds, p1.binds = nil, nil
		bind(t, b, tc.dn, "pw")
		if len(tc.want.binds) != 1 || len(pd.binds)+len(p1.binds) != 1 {
			t.Errorf("%s: routed to the wrong backend (pd %d, p1 %d)", tc.dn, len(pd.binds), len(p1.binds))
		}
	}
	out, p := split(b.Bind(context.Background(), "uid=x,dc=other,dc=org", SecretString("pw"), RequestControls{}))
	if out.Code != InvalidCredentials || p != nil {
		t.Errorf("unrouted DN: %+v", out)
	}
}

func TestBindRules(t *testing.T) {
	b, pd, _ := newCore(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name, dn, pw string
		code         ResultCode
		principal    bool
	}{
		{"anonymous", "", "", Success, false},
		{"dn with empty password", "uid=bob,ou=staff,dc=example,dc=com", "", UnwillingToPerform, false},
		{"no dn with password", "", "x", UnwillingToPerform, false},
		{"bad dn", "uid=bob,,", "x", InvalidDNSyntax, false},
		{"ok", "uid=bob,ou=staff,dc=example,dc=com", "x", Success, true},
		{"local account", "cn=svc,dc=example,dc=com", "svc-secret", Success, true},
		{"local account wrong password", "cn=svc,dc=example,dc=com", "nope", InvalidCredentials, false},
	} {
		pd.binds = nil
		out, p := split(b.Bind(ctx, tc.dn, SecretString(tc.pw), RequestControls{}))
		if out.Code != tc.code || (p != nil) != tc.principal {
			t.Errorf("%s: got %v principal=%v, want %v principal=%v", tc.name, out.Code, p != nil, tc.code, tc.principal)
		}
		if tc.name == "dn with empty password" && out.Diagnostic != diagEmptyPassword {
			t.Errorf("%s: diagnostic %q", tc.name, out.Diagnostic)
		}
		if strings.HasPrefix(tc.name, "local") && len(pd.binds) != 0 {
			t.Errorf("%s: local account reached the backend", tc.name)
		}
	}
	// A backend's failure passes through, and gives no principal.
	pd.bindOut = Outcome{Code: Unavailable, Diagnostic: "backend pd: connection refused"}
	out, p := split(b.Bind(ctx, "uid=bob,ou=staff,dc=example,dc=com", SecretString("x"), RequestControls{}))
	if out.Code != Unavailable || p != nil {
		t.Errorf("outage: %+v", out)
	}
}

func TestMustChangeBind(t *testing.T) {
	b, pd, _ := newCore(t)
	pd.bindOut = Outcome{Code: Success, MustChange: true}
	out, p := split(b.Bind(context.Background(), "uid=bob,ou=staff,dc=example,dc=com", SecretString("x"), RequestControls{PasswordPolicy: true}))
	if !out.OK() || !p.MustChange() || out.Policy == nil || out.Policy.Error != ChangeAfterReset {
		t.Fatalf("must-change bind: %+v", out)
	}
	// Restricted: may not touch anyone else's password...
	out, _ = chg(b.ChangePassword(context.Background(), p, PasswordModify{Secure: true, UserIdentity: "uid=carol,ou=staff,dc=example,dc=com", NewPassword: SecretString("n")}))
	if out.Code != InsufficientAccessRights {
		t.Errorf("restricted session changed another password: %+v", out)
	}
	// ...but may change its own, which lifts the restriction.
	out, _ = chg(b.ChangePassword(context.Background(), p, PasswordModify{Secure: true, NewPassword: SecretString("New-Passw0rd")}))
	if !out.OK() || p.MustChange() {
		t.Errorf("own change: %+v mustChange=%v", out, p.MustChange())
	}
}

func TestChangeAuthorisation(t *testing.T) {
	ctx := context.Background()
	const bob, alice, admin, carol = "uid=bob,ou=staff,dc=example,dc=com", "uid=alice,ou=people,dc=example,dc=com", "cn=admin,dc=example,dc=com", "uid=carol,ou=staff,dc=example,dc=com"
	type want struct {
		code    ResultCode
		backend string // "" = no backend call
		kind    ChangeKind
		actor   string
		oldKept bool
	}
	for _, tc := range []struct {
		name   string
		binder string // "" = anonymous
		req    PasswordModify
		want   want
	}{
		{"anonymous", "", PasswordModify{Secure: true, UserIdentity: bob, OldPassword: SecretString("o"), NewPassword: SecretString("n")}, want{code: StrongerAuthRequired}},
		{"self implicit", bob, PasswordModify{Secure: true, NewPassword: SecretString("n")}, want{Success, "pd", SelfChange, bob, false}},
		{"self explicit dn: form", bob, PasswordModify{Secure: true, UserIdentity: "dn:" + strings.ToUpper(bob), OldPassword: SecretString("o")}, want{Success, "pd", SelfChange, bob, true}},
		{"pd reset delegated to backend", bob, PasswordModify{Secure: true, UserIdentity: carol, NewPassword: SecretString("n")}, want{Success, "pd", AdminReset, bob, false}},
		// RFC 3062: a supplied old password is checked whoever asks: the
		// change is the target's own, made as the target.
		// pd leaves the decision to PingDirectory: it gets the request
		// as sent, old password included, and checks it.
		{"pd reset with old password is checked by the backend", admin, PasswordModify{Secure: true, UserIdentity: carol, OldPassword: SecretString("o"), NewPassword: SecretString("n")}, want{Success, "pd", SelfChange, admin, true}},
		{"p1 admin with old password is checked", admin, PasswordModify{Secure: true, UserIdentity: alice, OldPassword: SecretString("o"), NewPassword: SecretString("n")}, want{Success, "p1", SelfChange, alice, true}},
		// admin is a PingDirectory user: PingOne acts with its worker
		// credential, and admin's password stays where it was verified.
		{"p1 reset by listed admin of another route", admin, PasswordModify{Secure: true, UserIdentity: alice, NewPassword: SecretString("n")}, want{Success, "p1", AdminReset, "", false}},
		{"p1 reset by someone else", bob, PasswordModify{Secure: true, UserIdentity: alice, NewPassword: SecretString("n")}, want{code: InsufficientAccessRights}},
		{"p1 old password proof not enabled", bob, PasswordModify{Secure: true, UserIdentity: alice, OldPassword: SecretString("o"), NewPassword: SecretString("n")}, want{code: InsufficientAccessRights}},
		{"u: form", bob, PasswordModify{Secure: true, UserIdentity: "u:bob"}, want{code: UnwillingToPerform}},
		{"bad dn", bob, PasswordModify{Secure: true, UserIdentity: "not a dn"}, want{code: InvalidDNSyntax}},
		{"unrouted", bob, PasswordModify{Secure: true, UserIdentity: "uid=x,dc=other"}, want{code: NoSuchObject}},
		{"local admin on p1", "cn=svc,dc=example,dc=com", PasswordModify{Secure: true, UserIdentity: alice}, want{code: InsufficientAccessRights}},
		{"local account self", "cn=svc,dc=example,dc=com", PasswordModify{Secure: true, NewPassword: SecretString("n")}, want{code: UnwillingToPerform}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, pd, p1 := newCore(t)
			var p *Principal
			if tc.binder != "" {
				pw := "pw"
				if strings.HasPrefix(tc.binder, "cn=svc") {
					pw = "svc-secret"
				}
				p = bind(t, b, tc.binder, pw)
			}
			out, info := chg(b.ChangePassword(ctx, p, tc.req))
			if out.Code != tc.want.code {
				t.Fatalf("code %v (%s), want %v", out.Code, out.Diagnostic, tc.want.code)
			}
			calls := map[string][]ChangeRequest{"pd": pd.changes, "p1": p1.changes}
			if tc.want.backend == "" {
				if len(pd.changes)+len(p1.changes) != 0 {
					t.Fatalf("backend called for a refused change")
				}
				if out.Diagnostic == "" {
					t.Errorf("refusal without a diagnostic")
				}
				return
			}
			got := calls[tc.want.backend]
			if len(got) != 1 || len(pd.changes)+len(p1.changes) != 1 {
				t.Fatalf("want one call to %s, got pd=%d p1=%d", tc.want.backend, len(pd.changes), len(p1.changes))
			}
			c := got[0]
			if c.Kind != tc.want.kind || info.Kind != tc.want.kind || info.Target.Backend != tc.want.backend {
				t.Errorf("kind %v/%v backend %q", c.Kind, info.Kind, info.Target.Backend)
			}
			if !strings.EqualFold(c.Actor.DN, tc.want.actor) {
				t.Errorf("actor %q, want %q", c.Actor.DN, tc.want.actor)
			}
			if tc.want.actor == "" && !c.Actor.Password.IsZero() {
				t.Errorf("the session's password went to a backend that did not verify it")
			}
			if !c.OldPassword.IsZero() != tc.want.oldKept {
				t.Errorf("old password kept=%v, want %v", !c.OldPassword.IsZero(), tc.want.oldKept)
			}
			if tc.want.backend == "p1" && !c.Route.ForceChange {
				t.Errorf("route options not passed")
			}
		})
	}
}

// TestResetAcrossRoutes: a password goes only to the backend that verified
// it. A local account, or a user of another route, resets a password only
// as one of the route's admins and with the route's service credential;
// otherwise insufficientAccessRights, and the backend is not asked.
func TestResetAcrossRoutes(t *testing.T) {
	const (
		bob   = "uid=bob,ou=staff,dc=example,dc=com"
		carol = "uid=carol,ou=staff,dc=example,dc=com"
		alice = "uid=alice,ou=people,dc=example,dc=com"
		svc   = "cn=svc,dc=example,dc=com"
	)
	for _, tc := range []struct {
		name      string
		pdRoute   Route
		binder    string
		code      ResultCode
		wantActor string // "" with success: the backend's service credential
		diag      string
	}{
		{"p1 user, pd leaves resets to the backend", Route{BackendAuthorizes: true}, alice, InsufficientAccessRights, "", "may not reset"},
		{"p1 user, pd lists her, no service credential", Route{BackendAuthorizes: true, Admins: []string{alice}}, alice, InsufficientAccessRights, "", "no service credential"},
		{"p1 user, pd lists her, service credential", Route{BackendAuthorizes: true, Admins: []string{alice}, ServiceCredential: true}, alice, Success, "", ""},
		{"p1 user not listed, service credential", Route{BackendAuthorizes: true, Admins: []string{svc}, ServiceCredential: true}, alice, InsufficientAccessRights, "", "may not reset"},
		{"local account, pd leaves resets to the backend", Route{BackendAuthorizes: true}, svc, InsufficientAccessRights, "", "may not reset"},
		{"local admin, no service credential", Route{BackendAuthorizes: true, Admins: []string{svc}}, svc, InsufficientAccessRights, "", "no service credential"},
		{"local admin, service credential", Route{BackendAuthorizes: true, Admins: []string{svc}, ServiceCredential: true}, svc, Success, "", ""},
		{"pd user, backend decides", Route{BackendAuthorizes: true}, carol, Success, carol, ""},
		{"pd admin acts as itself", Route{BackendAuthorizes: true, Admins: []string{carol}, ServiceCredential: true}, carol, Success, carol, ""},
		{"pd user not listed", Route{BackendAuthorizes: true, Admins: []string{svc}, ServiceCredential: true}, carol, InsufficientAccessRights, "", "may not reset"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pd := &recorder{bindOut: Outcome{Code: Success}, chgOut: Outcome{Code: Success}}
			p1 := &recorder{bindOut: Outcome{Code: Success}, chgOut: Outcome{Code: Success}}
			rt := tc.pdRoute
			rt.Base, rt.Backend = "dc=example,dc=com", "pd"
			st, err := NewState([]Route{rt, {Base: "ou=people,dc=example,dc=com", Backend: "p1", ServiceCredential: true}},
				map[string]Backend{"pd": pd, "p1": p1},
				[]LocalAccount{{DN: svc, Verify: func(p []byte) bool { return string(p) == "svc-secret" }}})
			if err != nil {
				t.Fatal(err)
			}
			b := New(st, nil)
			pw := "binder-secret"
			if tc.binder == svc {
				pw = "svc-secret"
			}
			p := bind(t, b, tc.binder, pw)
			for _, op := range []string{"passwordModify", "modify"} {
				pd.changes, pd.actorPw = nil, nil
				var d Decision
				if op == "modify" {
					d = b.Modify(context.Background(), p, ModifyRequest{Object: bob, TouchesPassword: true, PasswordOnly: true,
						Change: PasswordModify{Secure: true, NewPassword: SecretString("New-Passw0rd")}})
				} else {
					d = b.ChangePassword(context.Background(), p, PasswordModify{Secure: true, UserIdentity: bob, NewPassword: SecretString("New-Passw0rd")})
				}
				if d.Outcome.Code != tc.code {
					t.Fatalf("%s: %v (%s), want %v", op, d.Outcome.Code, d.Outcome.Diagnostic, tc.code)
				}
				if tc.code != Success {
					if len(pd.changes)+len(p1.changes) != 0 {
						t.Fatalf("%s: a refused reset reached a backend", op)
					}
					if !strings.Contains(d.Outcome.Diagnostic, tc.diag) {
						t.Errorf("%s: diagnostic %q, want it to say %q", op, d.Outcome.Diagnostic, tc.diag)
					}
					continue
				}
				if len(pd.changes) != 1 || len(p1.changes) != 0 {
					t.Fatalf("%s: pd %d p1 %d calls", op, len(pd.changes), len(p1.changes))
				}
				c := pd.changes[0]
				if c.Kind != AdminReset || !strings.EqualFold(c.Actor.DN, tc.wantActor) {
					t.Errorf("%s: kind %v actor %q, want a reset as %q", op, c.Kind, c.Actor.DN, tc.wantActor)
				}
				if tc.wantActor == "" && pd.actorPw[0] != "" {
					t.Errorf("%s: the session's password reached PingDirectory", op)
				}
			}
		})
	}
}

func TestOldPasswordProof(t *testing.T) {
	pd := &recorder{bindOut: Outcome{Code: Success}, chgOut: Outcome{Code: Success}}
	st, err := NewState([]Route{{Base: "dc=example,dc=com", Backend: "pd", AllowOldPasswordProof: true}}, map[string]Backend{"pd": pd}, nil)
	if err != nil {
		t.Fatal(err)
	}
	b := New(st, nil)
	p := bind(t, b, "uid=bob,dc=example,dc=com", "pw")
	out, _ := chg(b.ChangePassword(context.Background(), p, PasswordModify{Secure: true, UserIdentity: "uid=carol,dc=example,dc=com", OldPassword: SecretString("carol-old"), NewPassword: SecretString("n")}))
	if !out.OK() || len(pd.changes) != 1 {
		t.Fatalf("%+v", out)
	}
	c := pd.changes[0]
	if c.Kind != SelfChange || c.Actor.DN != "uid=carol,dc=example,dc=com" || pd.actorPw[0] != "carol-old" {
		t.Errorf("proof change: kind %v actor %q", c.Kind, c.Actor.DN)
	}
	// The core wipes its copy of the actor's password once the call is over.
	if strings.Trim(c.Actor.Password.Reveal(), "\x00") != "" {
		t.Errorf("actor password not wiped after the call")
	}
}

func TestSessionPasswordFollowsSelfChange(t *testing.T) {
	b, pd, _ := newCore(t)
	p := bind(t, b, "uid=bob,ou=staff,dc=example,dc=com", "first")
	if out, _ := chg(b.ChangePassword(context.Background(), p, PasswordModify{Secure: true, NewPassword: SecretString("second")})); !out.OK() {
		t.Fatal(out)
	}
	pd.chgOut = Outcome{Code: Success, GeneratedPassword: SecretString("generated")}
	if out, _ := chg(b.ChangePassword(context.Background(), p, PasswordModify{Secure: true})); !out.OK() {
		t.Fatal(out)
	}
	if got := p.credentials().Password.Reveal(); got != "generated" {
		t.Errorf("session password after generated change = %q", got)
	}
	p.Wipe()
	if !p.credentials().Password.IsZero() {
		t.Errorf("Wipe left the password")
	}
}

func TestStateValidation(t *testing.T) {
	_, err := NewState([]Route{
		{Base: "dc=a", Backend: "missing"},
		{Base: "DC=A", Backend: "x"},
		{Base: "not a dn", Backend: "x"},
	}, map[string]Backend{"x": &recorder{}}, []LocalAccount{{DN: "", Verify: nil}})
	if err == nil {
		t.Fatal("want error")
	}
	for _, want := range []string{"routed twice", "unknown backend", "not a dn", "local account"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := SecretString("Hunter2-Passw0rd!")
	o := Outcome{Code: Success, GeneratedPassword: s}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "secret", s, "outcome", o, "creds", Credentials{DN: "a", Password: s})
	slog.New(slog.NewTextHandler(&buf, nil)).Info("y", "secret", s, "outcome", o)
	for _, text := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x", s, s, s, s, s, s),
		fmt.Sprintf("%v %+v", o, o), fmt.Sprintf("%+v %#v", Credentials{Password: s}, Credentials{Password: s}),
		buf.String(),
	} {
		if strings.Contains(text, "Hunter2") {
			t.Errorf("password printed: %s", text)
		}
	}
}

// TestOldPasswordWhoActs: a change with an old password, by someone else
// than the target, is the target's self change: made as the target with
// that password when the bridge authorised it, or passed on as sent
// (old password included) when the backend decides.
func TestOldPasswordWhoActs(t *testing.T) {
	const (
		bob   = "uid=bob,ou=staff,dc=example,dc=com"
		carol = "uid=carol,ou=staff,dc=example,dc=com"
		svc   = "cn=svc,dc=example,dc=com"
	)
	for _, tc := range []struct {
		name      string
		pdRoute   Route
		binder    string
		wantActor string
		wantPw    string
	}{
		{"listed admin", Route{BackendAuthorizes: true, Admins: []string{carol}}, carol, bob, "bob-old"},
		{"local admin with service credential", Route{BackendAuthorizes: true, Admins: []string{svc}, ServiceCredential: true}, svc, bob, "bob-old"},
		{"backend decides", Route{BackendAuthorizes: true}, carol, carol, "binder-secret"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pd := &recorder{bindOut: Outcome{Code: Success}, chgOut: Outcome{Code: Success}}
			rt := tc.pdRoute
			rt.Base, rt.Backend = "dc=example,dc=com", "pd"
			st, err := NewState([]Route{rt}, map[string]Backend{"pd": pd},
				[]LocalAccount{{DN: svc, Verify: func(p []byte) bool { return string(p) == "binder-secret" }}})
			if err != nil {
				t.Fatal(err)
			}
			b := New(st, nil)
			p := bind(t, b, tc.binder, "binder-secret")
			d := b.ChangePassword(context.Background(), p, PasswordModify{Secure: true, UserIdentity: bob, OldPassword: SecretString("bob-old"), NewPassword: SecretString("n")})
			if !d.Outcome.OK() || len(pd.changes) != 1 {
				t.Fatalf("%+v", d.Outcome)
			}
			c := pd.changes[0]
			if c.Kind != SelfChange || d.Kind != SelfChange || c.OldPassword.Reveal() != "bob-old" || !strings.EqualFold(c.Actor.DN, tc.wantActor) || pd.actorPw[0] != tc.wantPw {
				t.Errorf("kind %v, old %q, actor %q with %q; want a self change as %q with %q", c.Kind, c.OldPassword.Reveal(), c.Actor.DN, pd.actorPw[0], tc.wantActor, tc.wantPw)
			}
		})
	}
}
