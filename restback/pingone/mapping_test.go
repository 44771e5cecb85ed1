package pingone

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// want is the expected outcome of one mapping row.
type want struct {
	code       bridge.ResultCode
	policy     bridge.PolicyError
	mustChange bool
	diag       string // a substring of the diagnostic
	// quiet: no diagnostic at all (the core words it as a wrong password)
	quiet bool
}

func (w want) check(t *testing.T, got bridge.Outcome) {
	t.Helper()
	if got.Code != w.code || policyErr(got) != w.policy || got.MustChange != w.mustChange {
		t.Errorf("outcome %v %q (policy %v, mustChange %v), want %v (policy %v, mustChange %v)",
			got.Code, got.Diagnostic, policyErr(got), got.MustChange, w.code, w.policy, w.mustChange)
	}
	if w.quiet && got.Diagnostic != "" {
		t.Errorf("diagnostic %q, want none (answered as a wrong password)", got.Diagnostic)
	}
	if !strings.Contains(got.Diagnostic, w.diag) {
		t.Errorf("diagnostic %q does not contain %q", got.Diagnostic, w.diag)
	}
}

// Every bind row of the mapping table, through the client and the
// simulator over HTTP.
func TestBindMapping(t *testing.T) {
	none := bridge.PolicyErrorNone
	tests := []struct {
		name  string
		setup func(e *env)
		uid   string
		pw    string
		ctl   bridge.RequestControls
		want  want
	}{
		{name: "ok", uid: "alice", pw: alicePW, ctl: ppolicy, want: want{code: bridge.Success, policy: none}},
		{name: "wrong password", uid: "alice", pw: "Wrong-Passw0rd!", want: want{code: bridge.InvalidCredentials, policy: none, quiet: true}},
		{name: "unknown user", uid: "nobody", pw: alicePW, want: want{code: bridge.InvalidCredentials, policy: none, quiet: true}},
		{name: "must change after reset", uid: "alice", pw: "Reset-By-Adm1n", ctl: ppolicy,
			setup: func(e *env) {
				if out := e.adminReset("alice", "Reset-By-Adm1n", bridge.RouteOptions{ForceChange: true}, noControls); !out.OK() {
					e.t.Fatalf("reset: %v %s", out.Code, out.Diagnostic)
				}
			},
			want: want{code: bridge.Success, policy: bridge.ChangeAfterReset, mustChange: true}},
		{name: "must change, no ppolicy requested", uid: "alice", pw: "Reset-By-Adm1n",
			setup: func(e *env) {
				e.adminReset("alice", "Reset-By-Adm1n", bridge.RouteOptions{ForceChange: true}, noControls)
			},
			want: want{code: bridge.Success, policy: none, mustChange: true}},
		{name: "expired", uid: "alice", pw: alicePW, ctl: ppolicy,
			setup: func(e *env) { e.clk.Advance(183 * 24 * time.Hour) },
			want:  want{code: bridge.InvalidCredentials, policy: bridge.PasswordExpired, diag: "expired"}},
		{name: "locked", uid: "alice", pw: alicePW, ctl: ppolicy,
			setup: func(e *env) {
				for i := 0; i < 5; i++ {
					e.bind("alice", "Wrong-Passw0rd!", noControls)
				}
			},
			want: want{code: bridge.InvalidCredentials, policy: bridge.AccountLocked, quiet: true}},
		{name: "external password", uid: "alice", pw: alicePW,
			setup: func(e *env) {
				if err := e.c.SetGateway(context.Background(), dn("alice"), bridge.Gateway{ID: "gw", UserTypeID: "ut"}); err != nil {
					e.t.Fatal(err)
				}
			},
			want: want{code: bridge.InvalidCredentials, policy: none, quiet: true}},
		{name: "403", uid: "alice", pw: alicePW,
			setup: func(e *env) { e.sim.SetFault(pingonesim.Fault{Target: pingonesim.TargetPassword, Status: 403}) },
			want:  want{code: bridge.InsufficientAccessRights, policy: none, diag: "ACCESS_FAILED"}},
		{name: "429 without Retry-After", uid: "alice", pw: alicePW,
			setup: func(e *env) { e.sim.SetFault(pingonesim.Fault{Status: 429}) },
			want:  want{code: bridge.Busy, policy: none}},
		{name: "503", uid: "alice", pw: alicePW,
			setup: func(e *env) { e.sim.SetFault(pingonesim.Fault{Status: 503}) },
			want:  want{code: bridge.Unavailable, policy: none}},
		{name: "500", uid: "alice", pw: alicePW,
			setup: func(e *env) { e.sim.SetFault(pingonesim.Fault{Status: 500}) },
			want:  want{code: bridge.Unavailable, policy: none, diag: "UNEXPECTED_ERROR"}},
		{name: "DN without uid", uid: "", pw: alicePW, want: want{code: bridge.InvalidCredentials, policy: none, quiet: true}},
		{name: "not UTF-8", uid: "alice", pw: "\xff\xfe", want: want{code: bridge.InvalidCredentials, policy: none}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			if tc.setup != nil {
				tc.setup(e)
			}
			var out bridge.Outcome
			if tc.uid == "" {
				out = e.c.Bind(context.Background(), bridge.BindRequest{DN: "cn=alice,dc=example,dc=com", Password: e.secret(tc.pw)})
			} else {
				out = e.bind(tc.uid, tc.pw, tc.ctl)
			}
			tc.want.check(t, out)
		})
	}
}

func TestBindExpiryWarning(t *testing.T) {
	e := newEnv(t)
	e.clk.Advance(170 * 24 * time.Hour)
	out := e.bind("alice", alicePW, ppolicy)
	if !out.OK() || out.Policy == nil || out.Policy.Warning != bridge.TimeBeforeExpiration || out.Policy.Error != bridge.PolicyErrorNone {
		t.Fatalf("bind near expiry: %v %+v", out.Code, out.Policy)
	}
	if want := int64(12 * 24 * 3600); out.Policy.WarningValue != want {
		t.Errorf("timeBeforeExpiration %d, want %d", out.Policy.WarningValue, want)
	}
	if out.RequestID == "" {
		t.Error("no request id")
	}
}

// The lockout path: failures remaining count down, the last one locks.
func TestBindLockoutCountdown(t *testing.T) {
	e := newEnv(t)
	for i := 1; i <= 5; i++ {
		out := e.bind("alice", "Wrong-Passw0rd!", ppolicy)
		wantPolicy := bridge.PolicyErrorNone
		if i == 5 {
			wantPolicy = bridge.AccountLocked
		}
		if out.Code != bridge.InvalidCredentials || policyErr(out) != wantPolicy {
			t.Fatalf("failure %d: %v %v", i, out.Code, policyErr(out))
		}
	}
	if st, _ := e.sim.UserState(e.ids["alice"]); st.Status != "PASSWORD_LOCKED_OUT" {
		t.Errorf("status %s", st.Status)
	}
}

// Every change row of the mapping table.
func TestChangeMapping(t *testing.T) {
	none := bridge.PolicyErrorNone
	self := func(old, nw string) func(e *env) bridge.Outcome {
		return func(e *env) bridge.Outcome { return e.selfChange("alice", old, nw, allCtl) }
	}
	admin := func(uid, nw string) func(e *env) bridge.Outcome {
		return func(e *env) bridge.Outcome {
			return e.adminReset(uid, nw, bridge.RouteOptions{ForceChange: true}, allCtl)
		}
	}
	tests := []struct {
		name   string
		minAge time.Duration
		setup  func(e *env)
		op     func(e *env) bridge.Outcome
		want   want
	}{
		{name: "self ok", op: self(alicePW, "Fresh-Passw0rd#1"), want: want{code: bridge.Success, policy: none}},
		{name: "admin ok", op: admin("alice", "Fresh-Passw0rd#1"), want: want{code: bridge.Success, policy: none}},
		{name: "too short", op: admin("alice", "Sh0rt!"), want: want{code: bridge.ConstraintViolation, policy: bridge.PasswordTooShort, diag: "between 8 and 255 characters"}},
		{name: "too short, self", op: self(alicePW, "Sh0rt!"), want: want{code: bridge.ConstraintViolation, policy: bridge.PasswordTooShort, diag: "too short"}},
		{name: "too long", op: admin("alice", "Aa1!"+strings.Repeat("xyz", 90)), want: want{code: bridge.ConstraintViolation, policy: bridge.InsufficientPasswordQuality, diag: "between 8 and 255"}},
		{name: "quality", op: admin("alice", "alllowercase"), want: want{code: bridge.ConstraintViolation, policy: bridge.InsufficientPasswordQuality, diag: "1 uppercase letter"}},
		{name: "history", op: admin("alice", alicePW), want: want{code: bridge.ConstraintViolation, policy: bridge.PasswordInHistory, diag: "last 6 passwords"}},
		{name: "previous password",
			setup: func(e *env) {
				if out := e.adminReset("alice", "Second-Passw0rd#", bridge.RouteOptions{}, noControls); !out.OK() {
					e.t.Fatalf("%v %s", out.Code, out.Diagnostic)
				}
			},
			op: admin("alice", alicePW), want: want{code: bridge.ConstraintViolation, policy: bridge.PasswordInHistory}},
		{name: "too young", minAge: 24 * time.Hour, op: self(alicePW, "Fresh-Passw0rd#1"),
			want: want{code: bridge.ConstraintViolation, policy: bridge.PasswordTooYoung, diag: "changed too recently"}},
		{name: "wrong current password", op: self("Not-Current-1!", "Fresh-Passw0rd#1"), want: want{code: bridge.InvalidCredentials, policy: none}},
		{name: "no current password", op: self("", "Fresh-Passw0rd#1"), want: want{code: bridge.UnwillingToPerform, policy: bridge.MustSupplyOldPassword, diag: "old password"}},
		{name: "unknown user", op: admin("nobody", "Fresh-Passw0rd#1"), want: want{code: bridge.NoSuchObject, policy: none}},
		{name: "403",
			setup: func(e *env) { e.sim.SetFault(pingonesim.Fault{Target: pingonesim.TargetPassword, Status: 403}) },
			op:    admin("alice", "Fresh-Passw0rd#1"), want: want{code: bridge.InsufficientAccessRights, policy: none}},
		{name: "429",
			setup: func(e *env) { e.sim.SetFault(pingonesim.Fault{Target: pingonesim.TargetPassword, Status: 429}) },
			op:    admin("alice", "Fresh-Passw0rd#1"), want: want{code: bridge.Busy, policy: none}},
		{name: "500",
			setup: func(e *env) { e.sim.SetFault(pingonesim.Fault{Target: pingonesim.TargetPassword, Status: 500}) },
			op:    admin("alice", "Fresh-Passw0rd#1"), want: want{code: bridge.Unavailable, policy: none}},
		{name: "external user, self change",
			setup: func(e *env) {
				if err := e.c.SetGateway(context.Background(), dn("alice"), bridge.Gateway{ID: "gw", UserTypeID: "ut"}); err != nil {
					e.t.Fatal(err)
				}
			},
			op: self(alicePW, "Fresh-Passw0rd#1"), want: want{code: bridge.UnwillingToPerform, policy: none, diag: "external directory"}},
		{name: "gateway template needs a missing attribute",
			op: func(e *env) bridge.Outcome {
				return e.adminReset("alice", "Fresh-Passw0rd#1", bridge.RouteOptions{Gateway: &bridge.Gateway{ID: "gw", UserTypeID: "ut", Correlation: map[string]string{"mail": "{mail}"}}}, noControls)
			},
			want: want{code: bridge.UnwillingToPerform, policy: none, diag: "no mail value"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(s *pingonesim.Config, _ *Config) { s.MinAge = tc.minAge })
			if tc.setup != nil {
				tc.setup(e)
			}
			tc.want.check(t, tc.op(e))
		})
	}
}

func TestChangeValidationDetails(t *testing.T) {
	e := newEnv(t)
	out := e.adminReset("alice", "alllowercase", bridge.RouteOptions{}, allCtl)
	v := out.Validation
	if v == nil || v.ResponseType != bridge.ValidationPerformed {
		t.Fatalf("validation details %+v", v)
	}
	got := map[string]bool{}
	for _, r := range v.Results {
		got[r.Requirement.Description] = r.Satisfied
	}
	expect := map[string]bool{
		"The password must contain between 8 and 255 characters.":                       true,
		"The password must contain at least 1 uppercase letter.":                        false,
		"The password must contain at least 1 lowercase letter.":                        true,
		"The password must contain at least 1 digit.":                                   false,
		"The password must contain at least 1 special character.":                       false,
		"The password must not contain the same character more than 2 times in a row.":  false,
		"The password must contain at least 5 different characters.":                    true,
		"The password must not be a commonly used password.":                            true,
		"The password must not match a value of the user's profile.":                    true,
		"The password must not be the current password or one of the last 6 passwords.": true,
	}
	if len(got) != len(expect) {
		t.Errorf("%d requirements, want %d: %v", len(got), len(expect), got)
	}
	for d, sat := range expect {
		if s, ok := got[d]; !ok || s != sat {
			t.Errorf("%q: satisfied=%v present=%v, want %v", d, s, ok, sat)
		}
	}
	if r := v.Results[0]; r.Requirement.ValidationType != "length" || len(r.Requirement.Properties) != 2 || r.Requirement.Properties[0] != (bridge.Property{Name: "minimum-length", Value: "8"}) {
		t.Errorf("length requirement %+v", r.Requirement)
	}
	for _, frag := range []string{"1 uppercase letter", "1 digit", "1 special character", "more than 2 times in a row"} {
		if !strings.Contains(out.Diagnostic, frag) {
			t.Errorf("diagnostic %q lacks %q", out.Diagnostic, frag)
		}
	}
	if strings.Contains(out.Diagnostic, "lowercase") {
		t.Errorf("diagnostic %q names a satisfied requirement", out.Diagnostic)
	}

	// Success with the control: everything satisfied; a forced reset says so.
	out = e.adminReset("alice", "Good-Passw0rd#2", bridge.RouteOptions{ForceChange: true}, allCtl)
	if !out.OK() || out.Validation == nil || !out.Validation.MustChangePassword {
		t.Fatalf("successful reset: %v %+v", out.Code, out.Validation)
	}
	for _, r := range out.Validation.Results {
		if !r.Satisfied {
			t.Errorf("after success, %q unsatisfied", r.Requirement.Description)
		}
	}
	// Pre-encoded and bypassed values are not validated by PingOne.
	out = e.adminReset("alice", "{SSHA512}UkGWfORubNKFpFBWh+Lgy4FrciclzUXneuryV+B+zBDR4Gqd5wvMqAvKRixgQWoZlZUgq8Wh40uMK3s6bWpzWt1/TqQH02hX", bridge.RouteOptions{}, allCtl)
	if !out.OK() || out.Validation == nil || out.Validation.ResponseType != bridge.NoValidationAttempted {
		t.Errorf("pre-encoded: %v %+v", out.Code, out.Validation)
	}
	out = e.adminReset("alice", "weak", bridge.RouteOptions{BypassPolicy: true}, allCtl)
	if !out.OK() || out.Validation == nil || out.Validation.ResponseType != bridge.NoValidationAttempted {
		t.Errorf("bypassPolicy: %v %+v", out.Code, out.Validation)
	}
	// No current password: nothing validated, and it says what is missing.
	out = e.selfChange("alice", "", "Whatever-Passw0rd1", allCtl)
	if out.Validation == nil || out.Validation.ResponseType != bridge.NoValidationAttempted || !out.Validation.MissingCurrentPassword {
		t.Errorf("missing current password: %+v", out.Validation)
	}
}

// A self change proven by the session's bind password (no old password
// in the request).
func TestSelfChangeWithActorPassword(t *testing.T) {
	e := newEnv(t)
	req := bridge.ChangeRequest{
		Target: dn("alice"), Kind: bridge.SelfChange,
		Actor:       bridge.Credentials{DN: "UID=alice, ou=People,dc=example,dc=com", Password: e.secret(alicePW)},
		NewPassword: e.secret("Fresh-Passw0rd#1"),
	}
	if out := e.c.ChangePassword(context.Background(), req); !out.OK() {
		t.Fatalf("%v %s", out.Code, out.Diagnostic)
	}
	if out := e.bind("alice", "Fresh-Passw0rd#1", noControls); !out.OK() {
		t.Errorf("bind with the new password: %v", out.Code)
	}
	// Someone else's bind password is not the target's current password.
	req.Actor.DN = dn("bob")
	req.NewPassword = e.secret("Other-Passw0rd#2")
	if out := e.c.ChangePassword(context.Background(), req); out.Code != bridge.UnwillingToPerform || policyErr(out) != bridge.MustSupplyOldPassword {
		t.Errorf("actor is another user: %v %v", out.Code, policyErr(out))
	}
}

func TestUserDeletedAfterCaching(t *testing.T) {
	e := newEnv(t)
	if out := e.bind("bob", bobPW, noControls); !out.OK() {
		t.Fatal(out.Code)
	}
	if err := e.sim.DeleteUser(e.ids["bob"]); err != nil {
		t.Fatal(err)
	}
	// 404 on the cached id, then a fresh search that finds nobody.
	n := e.requests(func() {
		if out := e.bind("bob", bobPW, noControls); out.Code != bridge.InvalidCredentials {
			t.Errorf("bind: %v", out.Code)
		}
	})
	if n != 2 {
		t.Errorf("%d requests, want 2 (password, search)", n)
	}
	if out := e.adminReset("bob", "Fresh-Passw0rd#1", bridge.RouteOptions{}, noControls); out.Code != bridge.NoSuchObject {
		t.Errorf("change: %v", out.Code)
	}
	// A recreated user is found under its new id.
	id, err := e.sim.AddUser("bob", "bob@example.com", "Bob-Again-Passw0rd1")
	if err != nil {
		t.Fatal(err)
	}
	if out := e.bind("bob", "Bob-Again-Passw0rd1", noControls); !out.OK() {
		t.Errorf("recreated user: %v", out.Code)
	}
	if got, _ := e.c.ResolveUser(context.Background(), dn("bob")); got != id {
		t.Errorf("resolved %s, want %s", got, id)
	}
}

func TestAmbiguousUser(t *testing.T) {
	e := newEnv(t, func(_ *pingonesim.Config, c *Config) { c.UserFilter = `username eq "{uid}" or email eq "{uid}"` })
	if _, err := e.sim.AddUser("dave", "alice", "Dave-Passw0rd!1"); err != nil {
		t.Fatal(err)
	}
	want{code: bridge.InvalidCredentials, policy: bridge.PolicyErrorNone, quiet: true}.check(t, e.bind("alice", alicePW, noControls))
	want{code: bridge.UnwillingToPerform, policy: bridge.PolicyErrorNone, diag: "more than one"}.check(t, e.adminReset("alice", "Fresh-Passw0rd#1", bridge.RouteOptions{}, noControls))
}

// Retry-After within the deadline is honoured for a read: the bind is
// repeated.
func TestRetryAfterWithinDeadline(t *testing.T) {
	for _, status := range []int{429, 503} {
		e := newEnv(t)
		e.bind("alice", alicePW, noControls) // token and user cached
		e.sim.SetFault(pingonesim.Fault{Target: pingonesim.TargetPassword, Status: status, RetryAfter: time.Second, Times: 1})
		var out bridge.Outcome
		n := e.requests(func() { out = e.bind("alice", alicePW, noControls) })
		if !out.OK() || n != 2 {
			t.Errorf("%d with Retry-After 1: %v %q after %d requests, want success after 2", status, out.Code, out.Diagnostic, n)
		}
	}
}

// A password change is never sent twice: no answer proves that PingOne
// did not act on it, so 429, 503 (with or without Retry-After) and a
// refused token each reach PingOne exactly once and come back as an
// outage for the client to retry.
func TestChangeNeverResent(t *testing.T) {
	tests := []struct {
		name  string
		fault *pingonesim.Fault
		want  bridge.ResultCode
	}{
		{"429", &pingonesim.Fault{Target: pingonesim.TargetPassword, Status: 429, Times: 1}, bridge.Busy},
		{"429 with Retry-After", &pingonesim.Fault{Target: pingonesim.TargetPassword, Status: 429, RetryAfter: time.Second, Times: 1}, bridge.Busy},
		{"503", &pingonesim.Fault{Target: pingonesim.TargetPassword, Status: 503, Times: 1}, bridge.Unavailable},
		{"503 with Retry-After", &pingonesim.Fault{Target: pingonesim.TargetPassword, Status: 503, RetryAfter: time.Second, Times: 1}, bridge.Unavailable},
		{"401 (token revoked)", nil, bridge.Unavailable},
	}
	for _, tc := range tests {
		for _, op := range []string{"reset", "self change"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				e := newEnv(t)
				e.bind("alice", alicePW, noControls) // token and user cached
				if tc.fault != nil {
					e.sim.SetFault(*tc.fault)
				} else {
					e.sim.RevokeTokens()
				}
				var out bridge.Outcome
				n := e.requests(func() {
					if op == "reset" {
						out = e.adminReset("alice", "Fresh-Passw0rd#1", bridge.RouteOptions{}, noControls)
					} else {
						out = e.selfChange("alice", alicePW, "Fresh-Passw0rd#1", noControls)
					}
				})
				if out.Code != tc.want || n != 1 {
					t.Errorf("%v %q after %d requests, want %v after exactly 1", out.Code, out.Diagnostic, n, tc.want)
				}
				e.sim.SetFault(pingonesim.Fault{})
				if got := e.bind("alice", "Fresh-Passw0rd#1", noControls); got.OK() {
					t.Error("the change took effect although PingOne refused it")
				}
			})
		}
	}
}

// A Retry-After beyond the operation's deadline is not waited for.
func TestRetryAfterBeyondDeadline(t *testing.T) {
	e := newEnv(t, func(_ *pingonesim.Config, c *Config) { c.Timeout = time.Second })
	e.bind("alice", alicePW, noControls)
	e.sim.SetFault(pingonesim.Fault{Target: pingonesim.TargetPassword, Status: 429, RetryAfter: 5 * time.Second})
	var out bridge.Outcome
	n := e.requests(func() { out = e.bind("alice", alicePW, noControls) })
	want{code: bridge.Busy, policy: bridge.PolicyErrorNone}.check(t, out)
	if n != 1 {
		t.Errorf("%d requests, want 1", n)
	}
}

func TestConnectionRefused(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	e := newEnv(t, func(_ *pingonesim.Config, c *Config) { c.AuthURL, c.APIURL = dead, dead })
	out := e.bind("alice", alicePW, noControls)
	// "PingOne is unavailable" to the client; PingOne's address and the
	// dial error only in the log (issue 10).
	want{code: bridge.Unavailable, policy: bridge.PolicyErrorNone, diag: "PingOne is unavailable"}.check(t, out)
	for _, leak := range []string{ln.Addr().String(), "127.0.0.1", "dial", "refused"} {
		if strings.Contains(out.Diagnostic, leak) {
			t.Errorf("diagnostic %q shows %q", out.Diagnostic, leak)
		}
	}
	if l := e.logs.String(); !strings.Contains(l, ln.Addr().String()) || !strings.Contains(l, "connection refused") {
		t.Errorf("the log lost the dial error:\n%s", l)
	}

	// The API going away after a token was obtained: the same.
	e2 := newEnv(t)
	e2.bind("alice", alicePW, noControls)
	e2.sim.Close()
	// As after a moment: the transport drops the connections the server
	// closed (a request racing onto one would be "sent, no answer").
	e2.c.Close()
	want{code: bridge.Unavailable, policy: bridge.PolicyErrorNone}.check(t, e2.bind("alice", alicePW, noControls))
	want{code: bridge.Unavailable, policy: bridge.PolicyErrorNone}.check(t, e2.adminReset("alice", "Fresh-Passw0rd#1", bridge.RouteOptions{}, noControls))
}

// A change that hangs after it was sent: outcome unknown, never retried.
func TestHangingChange(t *testing.T) {
	e := newEnv(t, func(_ *pingonesim.Config, c *Config) { c.Timeout = 300 * time.Millisecond })
	e.bind("alice", alicePW, noControls)
	e.sim.SetFault(pingonesim.Fault{Target: pingonesim.TargetPassword, Hang: true})
	var out bridge.Outcome
	n := e.requests(func() { out = e.adminReset("alice", "Fresh-Passw0rd#1", bridge.RouteOptions{}, noControls) })
	want{code: bridge.Other, policy: bridge.PolicyErrorNone, diag: "outcome unknown"}.check(t, out)
	if n != 1 {
		t.Errorf("%d requests, want exactly 1", n)
	}
	n = e.requests(func() { out = e.selfChange("alice", alicePW, "Fresh-Passw0rd#1", noControls) })
	want{code: bridge.Other, policy: bridge.PolicyErrorNone, diag: "outcome unknown"}.check(t, out)
	if n != 1 {
		t.Errorf("self change: %d requests, want exactly 1", n)
	}
	// A hanging bind is an outage, not an unknown outcome.
	want{code: bridge.Unavailable, policy: bridge.PolicyErrorNone, diag: "did not answer"}.check(t, e.bind("alice", alicePW, noControls))
}

func TestCanceled(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := e.c.Bind(ctx, bridge.BindRequest{DN: dn("alice"), Password: e.secret(alicePW)})
	want{code: bridge.Canceled, policy: bridge.PolicyErrorNone}.check(t, out)
}

// Every failure has a row, and the rows are consistent with the design's
// table.
// readmeRows says which failures each row of the table in README.md's
// "How results are mapped" section stands for, by the row's first cell.
// The README is the documentation users read: TestRulesComplete checks
// that the rules table says what it says. A row that names several
// outcomes with " / " (in its first cell and in a result cell) lists its
// failures in the same order.
var readmeRows = map[string]struct {
	success      bool      // the row is PingOne's success: no failure
	bind, change []failure // the failures the bind and change columns describe
}{
	"200": {success: true},
	"400 `unsatisfiedRequirements` only `length` / only `history` / `minAgeDays` / other": {
		change: []failure{fTooShort, fInHistory, fTooYoung, fQuality}},
	"400 wrong password or current password": {bind: []failure{fWrongPassword}, change: []failure{fWrongPassword}},
	"PASSWORD_EXPIRED":                       {bind: []failure{fExpired}, change: []failure{fExpired}},
	"PASSWORD_LOCKED_OUT":                    {bind: []failure{fLocked}, change: []failure{fLocked}},
	// The check's refusals answer a bind as a wrong password does (no
	// enumeration); a change of such a user is refused as unwilling.
	"NO_PASSWORD / any other 400 of the check": {bind: []failure{fNoPassword, fCheckRefused}, change: []failure{fNoPassword}},
	"self change with no current password":     {change: []failure{fNoOldPassword}},
	"403":                                      {bind: []failure{fForbidden}, change: []failure{fForbidden}},
	"404, no user (or several) for the DN":     {bind: []failure{fNotFound, fAmbiguous}, change: []failure{fNotFound}},
	"429 (retried within the deadline when Retry-After allows)": {bind: []failure{fBusy}, change: []failure{fBusy}},
	"5xx, connection refused, DNS or TLS failure, worker token refused": {
		bind:   []failure{fServerError, fUnreachable, fCredentials},
		change: []failure{fServerError, fUnreachable, fCredentials}},
	"request sent, no answer": {bind: []failure{fNoAnswer}, change: []failure{fOutcomeUnknown}},
}

// undocumented are the failures the README's table leaves out, each for a
// reason; every other failure must be in some row.
var undocumented = map[failure]string{
	fRejected:    "any other 400: PingOne's message is passed on",
	fBadDN:       "a DN outside the user mapping is covered by the mapping's own documentation",
	fCorrelation: "gateway correlation is documented with SetGateway",
	fCanceled:    "the client gave up: nothing to map",
	fProtocol:    "an answer the client cannot use is a bug on one side",
}

// readmeMappingTable returns the rows of the table in README.md's "How
// results are mapped" section, each as its trimmed cells.
func readmeMappingTable(t *testing.T) [][]string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "\n## How results are mapped\n")
	if !ok {
		t.Fatal(`README.md has no "## How results are mapped" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var rows [][]string
	for _, line := range strings.Split(section, "\n") {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, "|") {
			if len(rows) > 0 {
				break // the end of the table
			}
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		rows = append(rows, cells)
	}
	if len(rows) < 3 || rows[0][0] != "PingOne" || !strings.HasPrefix(rows[1][0], "---") {
		t.Fatalf("README.md's mapping table is not where or what the test expects: %q", rows)
	}
	return rows[2:]
}

var (
	namedNumber = regexp.MustCompile(`([A-Za-z]+) \((\d+)\)`)
	bareNumber  = regexp.MustCompile(`^\d+$`)
)

// cellValues reads the numbers a result cell gives, "name (n)" or bare
// "n", one per " / "-separated part, with their names ("" for bare ones).
func cellValues(t *testing.T, cell string) (nums []int, names []string) {
	t.Helper()
	if cell == "" {
		return nil, nil
	}
	for _, part := range strings.Split(cell, " / ") {
		part = strings.TrimSpace(part)
		if m := namedNumber.FindStringSubmatch(part); m != nil {
			n, _ := strconv.Atoi(m[2])
			nums, names = append(nums, n), append(names, m[1])
		} else if bareNumber.MatchString(part) {
			n, _ := strconv.Atoi(part)
			nums, names = append(nums, n), append(names, "")
		} else {
			t.Errorf("README cell %q: part %q gives no number", cell, part)
		}
	}
	return nums, names
}

// perFailure spreads a cell's values over fs: one value for all, or one
// each in order.
func perFailure(t *testing.T, row, column string, fs []failure, nums []int, names []string) map[failure]struct {
	num  int
	name string
} {
	t.Helper()
	out := map[failure]struct {
		num  int
		name string
	}{}
	switch {
	case len(nums) == 1:
		for _, f := range fs {
			out[f] = struct {
				num  int
				name string
			}{nums[0], names[0]}
		}
	case len(nums) == len(fs):
		for i, f := range fs {
			out[f] = struct {
				num  int
				name string
			}{nums[i], names[i]}
		}
	default:
		t.Errorf("README row %q, %s column: %d values for %d failures", row, column, len(nums), len(fs))
	}
	return out
}

func TestRulesComplete(t *testing.T) {
	for f := failure(0); f < numFailures; f++ {
		r := rules[f]
		if r.bind == 0 || r.change == 0 || r.diag == "" || r.policy == 0 && f != fExpired {
			t.Errorf("failure %d has an incomplete rule %+v", f, r)
		}
	}

	// Every row of the README's table is in the rules with the same LDAP
	// codes and ppolicy errors.
	documented := map[failure]bool{}
	seen := map[string]bool{}
	for _, cells := range readmeMappingTable(t) {
		if len(cells) != 4 {
			t.Errorf("README row %q has %d cells, want 4", cells, len(cells))
			continue
		}
		row := cells[0]
		fs, ok := readmeRows[row]
		if !ok {
			t.Errorf("README row %q is not known to this test: add it to readmeRows", row)
			continue
		}
		seen[row] = true
		if fs.success {
			if !strings.HasPrefix(cells[1], "success") || !strings.HasPrefix(cells[2], "success") || cells[3] != "" {
				t.Errorf("README row %q: want success, success and no ppolicy error, got %q", row, cells[1:])
			}
			continue
		}
		for _, col := range []struct {
			name string
			cell string
			fs   []failure
			code func(rule) bridge.ResultCode
		}{
			{"bind", cells[1], fs.bind, func(r rule) bridge.ResultCode { return r.bind }},
			{"password change", cells[2], fs.change, func(r rule) bridge.ResultCode { return r.change }},
		} {
			nums, names := cellValues(t, col.cell)
			if (len(nums) == 0) != (len(col.fs) == 0) {
				t.Errorf("README row %q, %s column %q: the test expects failures %v there", row, col.name, col.cell, col.fs)
				continue
			}
			for f, v := range perFailure(t, row, col.name, col.fs, nums, names) {
				documented[f] = true
				got := col.code(rules[f])
				if int(got) != v.num || (v.name != "" && got.String() != v.name) {
					t.Errorf("README row %q documents %s %s (%d) for failure %d; rules say %v (%d)",
						row, col.name, v.name, v.num, f, got, int(got))
				}
			}
		}
		// The ppolicy column covers every failure of the row; empty means
		// no ppolicy error.
		all := append([]failure(nil), fs.change...)
		for _, f := range fs.bind {
			if !slices.Contains(all, f) {
				all = append(all, f)
			}
		}
		nums, names := cellValues(t, cells[3])
		var pol map[failure]struct {
			num  int
			name string
		}
		if len(nums) > 0 {
			pol = perFailure(t, row, "ppolicy", fs.change, nums, names)
		}
		for _, f := range all {
			got := rules[f].policy
			v, ok := pol[f]
			switch {
			case !ok && got != bridge.PolicyErrorNone:
				t.Errorf("README row %q documents no ppolicy error for failure %d; rules say %v", row, f, got)
			case ok && (int(got) != v.num || (v.name != "" && got.String() != v.name)):
				t.Errorf("README row %q documents ppolicy error %s (%d) for failure %d; rules say %v (%d)", row, v.name, v.num, f, got, int(got))
			}
		}
	}
	for row := range readmeRows {
		if !seen[row] {
			t.Errorf("README.md's mapping table no longer has the row %q", row)
		}
	}
	for f := failure(0); f < numFailures; f++ {
		_, skip := undocumented[f]
		switch {
		case documented[f] && skip:
			t.Errorf("failure %d is documented in README.md and listed as undocumented", f)
		case !documented[f] && !skip:
			t.Errorf("failure %d (%q) is in no row of README.md's mapping table", f, rules[f].diag)
		}
	}
}

// flakyTransport fails the first failures API round trips with err, then
// passes requests on; it counts API round trips.
type flakyTransport struct {
	mu       sync.Mutex
	failures int
	err      error
	calls    int
}

func (ft *flakyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.Contains(r.URL.Path, "/v1/") {
		ft.mu.Lock()
		ft.calls++
		fail := ft.failures > 0
		if fail {
			ft.failures--
		}
		ft.mu.Unlock()
		if fail {
			return nil, ft.err
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

func TestDialFailuresRetried(t *testing.T) {
	dialErr := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connect: connection refused")}
	ft := &flakyTransport{}
	e := newEnv(t, func(_ *pingonesim.Config, c *Config) { c.Transport = ft })
	if out := e.bind("alice", alicePW, noControls); !out.OK() {
		t.Fatal(out.Code, out.Diagnostic)
	}
	for _, op := range []struct {
		name string
		do   func() bridge.Outcome
	}{
		{"bind", func() bridge.Outcome { return e.bind("alice", alicePW, noControls) }},
		{"change", func() bridge.Outcome {
			return e.adminReset("alice", "Fresh-Passw0rd#1", bridge.RouteOptions{}, noControls)
		}},
	} {
		ft.mu.Lock()
		ft.failures, ft.err, ft.calls = 2, dialErr, 0
		ft.mu.Unlock()
		if out := op.do(); !out.OK() {
			t.Errorf("%s after 2 dial failures: %v %s", op.name, out.Code, out.Diagnostic)
		}
		if ft.calls != 3 {
			t.Errorf("%s: %d round trips, want 3", op.name, ft.calls)
		}
	}
	// Any other transport failure of a change may have reached PingOne.
	ft.mu.Lock()
	ft.failures, ft.err, ft.calls = 1, errors.New("connection reset by peer"), 0
	ft.mu.Unlock()
	out := e.adminReset("alice", "Other-Passw0rd#2", bridge.RouteOptions{}, noControls)
	want{code: bridge.Other, policy: bridge.PolicyErrorNone, diag: "outcome unknown"}.check(t, out)
	if ft.calls != 1 {
		t.Errorf("%d round trips, want exactly 1", ft.calls)
	}
}
