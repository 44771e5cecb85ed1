package directorysim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

const (
	base     = "ou=People,dc=example,dc=com"
	adminDN  = "cn=admin,dc=example,dc=com"
	adminPW  = "Admin-Secret-1"
	aliceDN  = "uid=alice," + base
	alicePW  = "Alice-Secret-1"
	bobDN    = "uid=bob," + base
	bobPW    = "Bob-Secret-1"
	vdReqOID = "1.3.6.1.4.1.30221.2.5.40"
	vdOID    = "1.3.6.1.4.1.30221.2.5.41"
)

// newClock is a settable time source for the policy's durations.
func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)) }

var testPolicy = Policy{
	MinLength: 8, MinDigits: 1, MinUpper: 1, MinLower: 1,
	History: 3, LockoutFailures: 3, LockoutDuration: time.Hour,
}

// start runs a simulator with admin, alice and bob on 127.0.0.1.
func start(t *testing.T, p Policy, clk *testkit.Clock) (*Server, string) {
	t.Helper()
	cfg := Config{Policy: p, Admins: []string{adminDN}}
	if clk != nil {
		cfg.Now = clk.Now
	}
	s := New(cfg)
	for dn, pw := range map[string]string{adminDN: adminPW, aliceDN: alicePW, bobDN: bobPW} {
		if err := s.AddUser(dn, pw); err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, u
}

type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

func (a answer) code(t *testing.T) int {
	t.Helper()
	rc, ok := a.body["resultCode"].(map[string]any)
	if !ok {
		t.Fatalf("no resultCode in %s", a.raw)
	}
	return int(rc["value"].(float64))
}

func (a answer) validation(t *testing.T) *bridge.ValidationDetails {
	t.Helper()
	ctls, _ := a.body["_controls"].([]any)
	for _, c := range ctls {
		b, _ := json.Marshal(c)
		var ctl pwcontrol.Control
		if err := json.Unmarshal(b, &ctl); err != nil {
			t.Fatal(err)
		}
		if ctl.OID == vdOID {
			v, err := ctl.Validation()
			if err != nil {
				t.Fatalf("decode validation control %s: %v", b, err)
			}
			return v
		}
	}
	return nil
}

func do(t *testing.T, method, rawURL, user, pw, contentType string, body []byte) answer {
	t.Helper()
	req, err := http.NewRequest(method, rawURL, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, pw)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 && strings.Contains(resp.Header.Get("Content-Type"), "json") {
		if err := json.Unmarshal(raw, &a.body); err != nil {
			t.Fatalf("answer %d is not JSON: %q", resp.StatusCode, raw)
		}
	}
	return a
}

func me(t *testing.T, base, dn, pw string) answer {
	t.Helper()
	return do(t, http.MethodGet, base+"/directory/v1/me?includeAttributes=*,_operationalAttributes", dn, pw, "", nil)
}

func changeURL(base, dn string) string {
	return base + "/directory/v1/" + url.PathEscape(dn) + "/changePassword"
}

func change(t *testing.T, base, actor, actorPW, target string, body map[string]any) answer {
	t.Helper()
	if body == nil {
		body = map[string]any{}
	}
	if _, ok := body["_controls"]; !ok {
		body["_controls"] = []any{map[string]any{"oid": vdReqOID, "criticality": false}}
	}
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, http.MethodPost, changeURL(base, target), actor, actorPW, "application/json", b)
}

func state(t *testing.T, a answer) map[string]any {
	t.Helper()
	st, ok := a.body["ds-pwp-state-json"].(map[string]any)
	if !ok {
		t.Fatalf("no ds-pwp-state-json in %s", a.raw)
	}
	return st
}

func TestAddUser(t *testing.T) {
	s := New(Config{})
	if err := s.AddUser(aliceDN, alicePW); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, dn, pw string }{
		{"duplicate, other case", "UID=Alice," + base, "x"},
		{"empty DN", "", "x"},
		{"bad DN", "uid", "x"},
		{"empty password", bobDN, ""},
	} {
		if err := s.AddUser(tc.dn, tc.pw); err == nil {
			t.Errorf("%s: AddUser(%q) succeeded", tc.name, tc.dn)
		}
	}
	u := s.users[dnKey(mustDN(t, aliceDN))]
	if bytes.Contains(u.hash, []byte(alicePW)) || !bytes.HasPrefix(u.hash, []byte("{SSHA512}")) {
		t.Fatalf("stored %q is not a salted hash", u.hash)
	}
	if !s.CheckPassword(aliceDN, alicePW) || s.CheckPassword(aliceDN, "wrong") {
		t.Fatal("CheckPassword does not match the stored hash")
	}
}

func TestBadAdminDN(t *testing.T) {
	s := New(Config{Admins: []string{"not a dn"}})
	if _, err := s.Start("127.0.0.1:0"); err == nil {
		t.Fatal("Start accepted a bad admin DN")
	}
}

func TestDNKeyMatchesEqualFold(t *testing.T) {
	pairs := []struct {
		a, b string
		same bool
	}{
		{"uid=Alice,dc=X", "UID=alice,DC=x", true},
		{"cn=a+uid=b,dc=x", "uid=b+cn=a,dc=x", true},
		{`cn=a\,b,dc=x`, "cn=a,cn=b,dc=x", false},
		{`cn=a\+b,dc=x`, "cn=a+b=,dc=x", false},
		{"cn=100%,dc=x", "cn=100%25,dc=x", false},
	}
	for _, p := range pairs {
		a, err := parseDN(p.a)
		if err != nil {
			t.Fatalf("%q: %v", p.a, err)
		}
		b, err := parseDN(p.b)
		if err != nil {
			continue // unparsable is certainly different
		}
		if got := dnKey(a) == dnKey(b); got != p.same || a.EqualFold(b) != p.same {
			t.Errorf("%q vs %q: key equal %v, EqualFold %v, want %v", p.a, p.b, got, a.EqualFold(b), p.same)
		}
	}
}

func TestMe(t *testing.T) {
	_, u := start(t, testPolicy, nil)
	tests := []struct {
		name, dn, pw string
		status       int
	}{
		{"right password", aliceDN, alicePW, 200},
		{"DN in other case and spacing", "UID=Alice, ou=people,dc=EXAMPLE,dc=com", alicePW, 200},
		{"wrong password", bobDN, "nope", 401},
		{"unknown DN", "uid=nobody," + base, "x", 401},
		{"no credentials", "", "", 401},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := me(t, u, tc.dn, tc.pw)
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.raw)
			}
			if a.status == 200 {
				if a.body["_dn"] != aliceDN || a.header.Get("Content-Type") != halJSON {
					t.Fatalf("entry %s (%s)", a.raw, a.header.Get("Content-Type"))
				}
				if st := state(t, a); st["must-change-password"] != false {
					t.Fatalf("state %v", st)
				}
			} else {
				if a.code(t) != resultInvalidCredentials || a.header.Get("WWW-Authenticate") == "" {
					t.Fatalf("failure %s", a.raw)
				}
			}
			if a.header.Get("Correlation-Id") == "" {
				t.Fatal("no Correlation-Id")
			}
		})
	}
}

func TestMeIncludeAttributes(t *testing.T) {
	_, u := start(t, testPolicy, nil)
	a := do(t, http.MethodGet, u+"/directory/v1/me", aliceDN, alicePW, "", nil)
	if _, ok := a.body["ds-pwp-state-json"]; ok || a.body["uid"] == nil {
		t.Fatalf("default attributes: %s", a.raw)
	}
	a = do(t, http.MethodGet, u+"/directory/v1/me?includeAttributes=ds-pwp-state-json,pwdReset", aliceDN, alicePW, "", nil)
	if _, ok := a.body["ds-pwp-state-json"]; !ok || a.body["uid"] != nil {
		t.Fatalf("state only: %s", a.raw)
	}
}

func TestLockout(t *testing.T) {
	clk := newClock()
	_, u := start(t, testPolicy, clk)
	for i := 0; i < testPolicy.LockoutFailures; i++ {
		if a := me(t, u, aliceDN, "wrong"); a.status != 401 {
			t.Fatalf("failure %d: %d", i, a.status)
		}
	}
	if a := me(t, u, aliceDN, alicePW); a.status != 401 {
		t.Fatalf("locked account authenticated: %d", a.status)
	}
	clk.Advance(testPolicy.LockoutDuration)
	if a := me(t, u, aliceDN, alicePW); a.status != 200 {
		t.Fatalf("lock did not expire: %d", a.status)
	}

	// Locked again, then an administrative reset unlocks.
	for i := 0; i < testPolicy.LockoutFailures; i++ {
		me(t, u, aliceDN, "wrong")
	}
	if a := change(t, u, adminDN, adminPW, aliceDN, map[string]any{"newPassword": "Reset-Pass-9"}); a.status != 200 {
		t.Fatalf("reset: %d %s", a.status, a.raw)
	}
	if a := me(t, u, aliceDN, "Reset-Pass-9"); a.status != 200 {
		t.Fatalf("reset did not unlock: %d", a.status)
	}
}

func TestSuccessResetsFailureCount(t *testing.T) {
	_, u := start(t, testPolicy, nil)
	for round := 0; round < 3; round++ {
		for i := 0; i < testPolicy.LockoutFailures-1; i++ {
			me(t, u, aliceDN, "wrong")
		}
		if a := me(t, u, aliceDN, alicePW); a.status != 200 {
			t.Fatalf("round %d: %d", round, a.status)
		}
	}
}

func TestExpiry(t *testing.T) {
	clk := newClock()
	p := testPolicy
	p.MaxAge, p.ExpiryWarning = 10*24*time.Hour, 2*24*time.Hour
	_, u := start(t, p, clk)
	st := state(t, me(t, u, aliceDN, alicePW))
	if st["account-usability-warnings"] != nil || st["seconds-until-password-expiration"] != float64(10*24*3600) {
		t.Fatalf("fresh password: %v", st)
	}
	clk.Advance(9 * 24 * time.Hour)
	st = state(t, me(t, u, aliceDN, alicePW))
	w, _ := st["account-usability-warnings"].([]any)
	if len(w) != 1 || w[0].(map[string]any)["type-name"] != "password-expiring" || st["seconds-until-password-expiration"] != float64(24*3600) {
		t.Fatalf("expiring password: %v", st)
	}
	clk.Advance(24 * time.Hour)
	if a := me(t, u, aliceDN, alicePW); a.status != 401 {
		t.Fatalf("expired password authenticated: %d", a.status)
	}
}

func TestChangePassword(t *testing.T) {
	p := testPolicy
	tests := []struct {
		name          string
		actor, actorP string
		target        string
		body          map[string]any
		status, code  int
		check         func(t *testing.T, s *Server, a answer)
	}{
		{
			name: "self change", actor: aliceDN, actorP: alicePW, target: aliceDN,
			body: map[string]any{"newPassword": "New-Alice-2"}, status: 200, code: 0,
			check: func(t *testing.T, s *Server, a answer) {
				if !s.CheckPassword(aliceDN, "New-Alice-2") || s.MustChange(aliceDN) {
					t.Fatal("password not changed, or must-change set")
				}
				v := a.validation(t)
				if v == nil || v.ResponseType != bridge.ValidationPerformed || v.MustChangePassword || len(v.Results) == 0 {
					t.Fatalf("validation %+v", v)
				}
				for _, r := range v.Results {
					if !r.Satisfied {
						t.Fatalf("unsatisfied %+v", r)
					}
				}
				if a.body["_links"] == nil {
					t.Fatal("no _links")
				}
			},
		},
		{
			name: "self change proving the old password", actor: aliceDN, actorP: alicePW, target: aliceDN,
			body: map[string]any{"oldPassword": alicePW, "newPassword": "New-Alice-2"}, status: 200, code: 0,
		},
		{
			name: "change by someone who knows the old password", actor: bobDN, actorP: bobPW, target: aliceDN,
			body: map[string]any{"oldPassword": alicePW, "newPassword": "New-Alice-2"}, status: 200, code: 0,
			check: func(t *testing.T, s *Server, a answer) {
				if s.MustChange(aliceDN) || !s.CheckPassword(aliceDN, "New-Alice-2") || !s.CheckPassword(bobDN, bobPW) {
					t.Fatal("wrong effect")
				}
			},
		},
		{
			name: "wrong old password", actor: aliceDN, actorP: alicePW, target: aliceDN,
			body: map[string]any{"oldPassword": "nope", "newPassword": "New-Alice-2"}, status: 400, code: resultInvalidCredentials,
			check: func(t *testing.T, s *Server, a answer) {
				if v := a.validation(t); v == nil || v.ResponseType != bridge.NoValidationAttempted {
					t.Fatalf("validation %+v", v)
				}
				if !s.CheckPassword(aliceDN, alicePW) || a.body["diagnosticMessage"] != nil {
					t.Fatalf("password changed, or a reason given: %s", a.raw)
				}
			},
		},
		{
			name: "administrative reset", actor: adminDN, actorP: adminPW, target: aliceDN,
			body: map[string]any{"newPassword": "Reset-Pass-9"}, status: 200, code: 0,
			check: func(t *testing.T, s *Server, a answer) {
				if !s.MustChange(aliceDN) || !s.CheckPassword(aliceDN, "Reset-Pass-9") {
					t.Fatal("reset did not take or did not set must-change")
				}
				if v := a.validation(t); v == nil || !v.MustChangePassword {
					t.Fatalf("validation %+v", v)
				}
			},
		},
		{
			name: "non-admin resets someone else", actor: bobDN, actorP: bobPW, target: aliceDN,
			body: map[string]any{"newPassword": "Reset-Pass-9"}, status: 403, code: resultInsufficientAccess,
			check: func(t *testing.T, s *Server, a answer) {
				if !s.CheckPassword(aliceDN, alicePW) {
					t.Fatal("password changed")
				}
			},
		},
		{
			name: "unknown target", actor: adminDN, actorP: adminPW, target: "uid=ghost," + base,
			body: map[string]any{"newPassword": "Reset-Pass-9"}, status: 404, code: resultNoSuchObject,
			check: func(t *testing.T, s *Server, a answer) {
				if !strings.EqualFold(a.body["matchedDN"].(string), base) {
					t.Fatalf("matchedDN %v", a.body["matchedDN"])
				}
			},
		},
		{
			name: "too short", actor: aliceDN, actorP: alicePW, target: aliceDN,
			body: map[string]any{"newPassword": "Ab1"}, status: 400, code: resultConstraintViolation,
			check: func(t *testing.T, s *Server, a answer) {
				if !strings.Contains(a.body["diagnosticMessage"].(string), "at least 8 characters") {
					t.Fatalf("diagnostic %v", a.body["diagnosticMessage"])
				}
				v := a.validation(t)
				var length *bridge.ValidationResult
				for i, r := range v.Results {
					if r.Requirement.ValidationType == typeLength {
						length = &v.Results[i]
					}
				}
				if length == nil || length.Satisfied || length.Requirement.Description != "The password must contain at least 8 characters." ||
					len(length.Requirement.Properties) != 1 || length.Requirement.Properties[0] != (bridge.Property{Name: "minimum-length", Value: "8"}) {
					t.Fatalf("length requirement %+v", length)
				}
			},
		},
		{
			name: "missing character classes", actor: aliceDN, actorP: alicePW, target: aliceDN,
			body: map[string]any{"newPassword": "alllowercase"}, status: 400, code: resultConstraintViolation,
			check: func(t *testing.T, s *Server, a answer) {
				if got := strings.Count(a.body["diagnosticMessage"].(string), "The password must contain at least one"); got != 2 {
					t.Fatalf("diagnostic %v", a.body["diagnosticMessage"])
				}
			},
		},
		{
			name: "current password again", actor: aliceDN, actorP: alicePW, target: aliceDN,
			body: map[string]any{"newPassword": alicePW}, status: 400, code: resultConstraintViolation,
			check: func(t *testing.T, s *Server, a answer) {
				for _, r := range a.validation(t).Results {
					if r.Requirement.ValidationType == typeHistory && !r.Satisfied {
						return
					}
				}
				t.Fatal("history requirement not reported unsatisfied")
			},
		},
		{
			name: "generated", actor: adminDN, actorP: adminPW, target: bobDN,
			body: map[string]any{}, status: 200, code: 0,
			check: func(t *testing.T, s *Server, a answer) {
				gen, _ := a.body["generatedPassword"].(string)
				if gen == "" || !s.CheckPassword(bobDN, gen) {
					t.Fatalf("generated %q does not work", gen)
				}
				if len(unsatisfied(p.validate([]byte(gen), nil, false, time.Now()))) != 0 {
					t.Fatalf("generated %q breaks the policy", gen)
				}
				if v := a.validation(t); v == nil || v.ResponseType != bridge.NoPasswordProvided {
					t.Fatalf("validation %+v", v)
				}
			},
		},
		{
			name: "empty new password", actor: aliceDN, actorP: alicePW, target: aliceDN,
			body: map[string]any{"newPassword": ""}, status: 400, code: resultUnwilling,
		},
		{
			name: "bad DN in path", actor: aliceDN, actorP: alicePW, target: "not a dn",
			body: map[string]any{"newPassword": "New-Alice-2"}, status: 400, code: resultInvalidDNSyntax,
		},
		{
			name: "unknown critical control", actor: aliceDN, actorP: alicePW, target: aliceDN,
			body:   map[string]any{"newPassword": "New-Alice-2", "_controls": []any{map[string]any{"oid": "1.2.3", "criticality": true}}},
			status: 400, code: resultUnavailableCritical,
		},
		{
			name: "unknown non-critical control is ignored", actor: aliceDN, actorP: alicePW, target: aliceDN,
			body:   map[string]any{"newPassword": "New-Alice-2", "_controls": []any{map[string]any{"oid": "1.2.3", "criticality": false}}},
			status: 200, code: 0,
			check: func(t *testing.T, s *Server, a answer) {
				if a.body["_controls"] != nil {
					t.Fatalf("controls without a request: %s", a.raw)
				}
			},
		},
		{
			name: "bad actor password", actor: aliceDN, actorP: "nope", target: aliceDN,
			body: map[string]any{"newPassword": "New-Alice-2"}, status: 401, code: resultInvalidCredentials,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, u := start(t, p, nil)
			a := change(t, u, tc.actor, tc.actorP, tc.target, tc.body)
			if a.status != tc.status || a.code(t) != tc.code {
				t.Fatalf("got %d/%d, want %d/%d: %s", a.status, a.code(t), tc.status, tc.code, a.raw)
			}
			if tc.check != nil {
				tc.check(t, s, a)
			}
		})
	}
}

func TestHistory(t *testing.T) {
	_, u := start(t, testPolicy, nil) // History 3: current + 2 before
	pws := []string{alicePW, "Second-Pass-2", "Third-Pass-3", "Fourth-Pass-4"}
	for i := 1; i < len(pws); i++ {
		if a := change(t, u, aliceDN, pws[i-1], aliceDN, map[string]any{"newPassword": pws[i]}); a.status != 200 {
			t.Fatalf("change %d: %s", i, a.raw)
		}
	}
	cur := pws[len(pws)-1]
	for _, old := range pws[1:] {
		if a := change(t, u, aliceDN, cur, aliceDN, map[string]any{"newPassword": old}); a.code(t) != resultConstraintViolation {
			t.Fatalf("reuse of %q accepted: %s", old, a.raw)
		}
	}
	if a := change(t, u, aliceDN, cur, aliceDN, map[string]any{"newPassword": pws[0]}); a.status != 200 {
		t.Fatalf("password older than the history refused: %s", a.raw)
	}
}

func TestMinimumAge(t *testing.T) {
	clk := newClock()
	p := testPolicy
	p.MinAge = time.Hour
	_, u := start(t, p, clk)
	a := change(t, u, aliceDN, alicePW, aliceDN, map[string]any{"newPassword": "New-Alice-2"})
	if a.code(t) != resultUnwilling || a.body["diagnosticMessage"] != diagTooYoung || !tooYoung(a.validation(t).Results) {
		t.Fatalf("too young: %s", a.raw)
	}
	clk.Advance(time.Hour)
	if a := change(t, u, aliceDN, alicePW, aliceDN, map[string]any{"newPassword": "New-Alice-2"}); a.status != 200 {
		t.Fatalf("after the minimum age: %s", a.raw)
	}
	// An administrative reset ignores the minimum age, and the user may
	// change the reset password at once.
	if a := change(t, u, adminDN, adminPW, aliceDN, map[string]any{"newPassword": "Reset-Pass-9"}); a.status != 200 {
		t.Fatalf("reset: %s", a.raw)
	}
	if a := change(t, u, aliceDN, "Reset-Pass-9", aliceDN, map[string]any{"newPassword": "Own-Choice-7"}); a.status != 200 {
		t.Fatalf("change after reset: %s", a.raw)
	}
}

func TestMustChangeAfterReset(t *testing.T) {
	s, u := start(t, testPolicy, nil)
	if a := change(t, u, adminDN, adminPW, aliceDN, map[string]any{"newPassword": "Reset-Pass-9"}); a.status != 200 {
		t.Fatal(string(a.raw))
	}
	a := me(t, u, aliceDN, "Reset-Pass-9")
	if a.status != 200 || state(t, a)["must-change-password"] != true || a.body["pwdReset"] != true {
		t.Fatalf("GET /me after reset: %s", a.raw)
	}
	if a := do(t, http.MethodGet, u+"/directory/v1/"+url.PathEscape(aliceDN), aliceDN, "Reset-Pass-9", "", nil); a.status != 403 || a.code(t) != resultInsufficientAccess {
		t.Fatalf("read while must-change: %s", a.raw)
	}
	if a := change(t, u, aliceDN, "Reset-Pass-9", bobDN, map[string]any{"oldPassword": bobPW, "newPassword": "New-Bob-3"}); a.code(t) != resultInsufficientAccess {
		t.Fatalf("changing another's while must-change: %s", a.raw)
	}
	if a := change(t, u, aliceDN, "Reset-Pass-9", aliceDN, map[string]any{"newPassword": "Own-Choice-7"}); a.status != 200 {
		t.Fatalf("own change: %s", a.raw)
	}
	if s.MustChange(aliceDN) {
		t.Fatal("must-change survived the user's own change")
	}
	if a := do(t, http.MethodGet, u+"/directory/v1/"+url.PathEscape(aliceDN), aliceDN, "Own-Choice-7", "", nil); a.status != 200 {
		t.Fatalf("read after change: %s", a.raw)
	}
}

func TestEntryAccess(t *testing.T) {
	_, u := start(t, testPolicy, nil)
	if a := do(t, http.MethodGet, u+"/directory/v1/"+url.PathEscape(aliceDN), bobDN, bobPW, "", nil); a.status != 404 {
		t.Fatalf("bob read alice: %s", a.raw)
	}
	if a := do(t, http.MethodGet, u+"/directory/v1/"+url.PathEscape(aliceDN), adminDN, adminPW, "", nil); a.status != 200 || a.body["_dn"] != aliceDN {
		t.Fatalf("admin read alice: %s", a.raw)
	}
}

func TestRequestErrors(t *testing.T) {
	_, u := start(t, testPolicy, nil)
	target := changeURL(u, aliceDN)
	tests := []struct {
		name, method, url, ct string
		body                  string
		status                int
	}{
		{"malformed JSON", http.MethodPost, target, "application/json", `{"newPassword":`, 400},
		{"unknown field", http.MethodPost, target, "application/json", `{"newpassword":"X"}`, 400},
		{"not an object", http.MethodPost, target, "application/json", `["New-Alice-2"]`, 400},
		{"null", http.MethodPost, target, "application/json", `null`, 400},
		{"trailing data", http.MethodPost, target, "application/json", `{} {}`, 400},
		{"empty body", http.MethodPost, target, "application/json", ``, 400},
		{"form body", http.MethodPost, target, "application/x-www-form-urlencoded", `newPassword=X`, 415},
		{"no content type", http.MethodPost, target, "", `{}`, 415},
		{"GET on changePassword", http.MethodGet, target, "", "", 405},
		{"POST on me", http.MethodPost, u + "/directory/v1/me", "application/json", "{}", 405},
		{"unknown path", http.MethodGet, u + "/other", "", "", 404},
		{"deeper path", http.MethodGet, u + "/directory/v1/a/b/c", "", "", 404},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := do(t, tc.method, tc.url, aliceDN, alicePW, tc.ct, []byte(tc.body))
			if a.status != tc.status {
				t.Fatalf("status %d, want %d: %s", a.status, tc.status, a.raw)
			}
			if a.body == nil || a.body["resultCode"] == nil {
				t.Fatalf("no LDAP result in %s", a.raw)
			}
		})
	}
}

func TestMetadataNeedsNoCredentials(t *testing.T) {
	_, u := start(t, testPolicy, nil)
	if a := do(t, http.MethodGet, u+"/directory/v1", "", "", "", nil); a.status != 200 || a.body["vendorName"] == nil {
		t.Fatalf("metadata: %s", a.raw)
	}
}

// TestEscapedDNs checks that DNs with characters that mean something in a
// URL reach the right entry and only it.
func TestEscapedDNs(t *testing.T) {
	dns := []string{
		"uid=a/b," + base,
		"uid=a," + base,
		"uid=100%," + base,
		"uid=100%25," + base,
		"uid=what?," + base,
		"uid=a#b," + base,
		`cn=Smith\, John,` + base,
		"cn=Smith," + base,
		`cn=a\+b,` + base,
		"cn=a+uid=b," + base,
		"cn=John Smith," + base,
		"cn=J%C3%BCrgen," + base,
		"cn=Jürgen," + base,
		"cn=semi\\;colon," + base,
		"uid=x/changePassword," + base,
	}
	s := New(Config{Policy: Policy{MinLength: 1}, Admins: []string{adminDN}})
	if err := s.AddUser(adminDN, adminPW); err != nil {
		t.Fatal(err)
	}
	for i, dn := range dns {
		if err := s.AddUser(dn, "pw-"+string(rune('A'+i))); err != nil {
			t.Fatalf("add %q: %v", dn, err)
		}
	}
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, dn := range dns {
		if a := change(t, u, adminDN, adminPW, dn, map[string]any{"newPassword": "new-" + dn}); a.status != 200 {
			t.Fatalf("reset %q: %s", dn, a.raw)
		}
		for j, other := range dns {
			want := "pw-" + string(rune('A'+j))
			if j <= i {
				want = "new-" + other
			}
			if !s.CheckPassword(other, want) {
				t.Fatalf("after resetting %q, %q does not have %q", dn, other, want)
			}
		}
		if a := me(t, u, dn, "new-"+dn); a.status != 200 || a.body["_dn"] != dn {
			t.Fatalf("GET /me as %q: %s", dn, a.raw)
		}
	}
}

func TestFaults(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name  string
		fault Fault
		check func(t *testing.T, s *Server, resp *http.Response, err error)
	}{
		{"429 with Retry-After", Fault{Kind: FaultStatus, Status: 429, RetryAfter: 1500 * time.Millisecond, Count: 1},
			func(t *testing.T, s *Server, resp *http.Response, err error) {
				if err != nil || resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" {
					t.Fatalf("%v %v", resp, err)
				}
				if s.CheckPassword(aliceDN, "New-Alice-2") {
					t.Fatal("a refused request took effect")
				}
			}},
		{"503", Fault{Kind: FaultStatus, Status: 503},
			func(t *testing.T, s *Server, resp *http.Response, err error) {
				if err != nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "" {
					t.Fatalf("%v %v", resp, err)
				}
			}},
		{"close connection after processing", Fault{Kind: FaultCloseConn, Process: true},
			func(t *testing.T, s *Server, resp *http.Response, err error) {
				if err == nil {
					t.Fatalf("got an answer %d", resp.StatusCode)
				}
				if !s.CheckPassword(aliceDN, "New-Alice-2") {
					t.Fatal("not processed")
				}
			}},
		{"close connection", Fault{Kind: FaultCloseConn},
			func(t *testing.T, s *Server, resp *http.Response, err error) {
				if err == nil || s.CheckPassword(aliceDN, "New-Alice-2") {
					t.Fatalf("answered (%v) or processed", resp)
				}
			}},
		{"truncated", Fault{Kind: FaultTruncatedBody},
			func(t *testing.T, s *Server, resp *http.Response, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadAll(resp.Body); err == nil {
					t.Fatal("the truncated body read cleanly")
				}
				if !s.CheckPassword(aliceDN, "New-Alice-2") {
					t.Fatal("not processed")
				}
			}},
		{"non-JSON", Fault{Kind: FaultNonJSON},
			func(t *testing.T, s *Server, resp *http.Response, err error) {
				if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
					t.Fatalf("%v %v", resp, err)
				}
				if s.CheckPassword(aliceDN, "New-Alice-2") {
					t.Fatal("processed without Process")
				}
			}},
		{"wrong content type", Fault{Kind: FaultWrongContentType},
			func(t *testing.T, s *Server, resp *http.Response, err error) {
				if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
					t.Fatalf("%v %v", resp, err)
				}
				b, _ := io.ReadAll(resp.Body)
				if !json.Valid(b) || !s.CheckPassword(aliceDN, "New-Alice-2") {
					t.Fatalf("body %q or not processed", b)
				}
			}},
		{"hang after processing", Fault{Kind: FaultHang, Process: true},
			func(t *testing.T, s *Server, resp *http.Response, err error) {
				if !errors.Is(err, context.DeadlineExceeded) {
					t.Fatalf("%v %v", resp, err)
				}
				if !s.CheckPassword(aliceDN, "New-Alice-2") {
					t.Fatal("not processed")
				}
			}},
		{"delay", Fault{Kind: FaultDelay, Delay: 20 * time.Millisecond},
			func(t *testing.T, s *Server, resp *http.Response, err error) {
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("%v %v", resp, err)
				}
			}},
		{"other path unaffected", Fault{Kind: FaultStatus, Status: 500, PathSuffix: "/me"},
			func(t *testing.T, s *Server, resp *http.Response, err error) {
				if err != nil || resp.StatusCode != 200 {
					t.Fatalf("%v %v", resp, err)
				}
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, u := start(t, testPolicy, nil)
			s.SetFault(tc.fault)
			ctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
			defer cancel()
			body := `{"newPassword":"New-Alice-2"}`
			req, _ := http.NewRequestWithContext(ctx, http.MethodPost, changeURL(u, aliceDN), strings.NewReader(body))
			req.SetBasicAuth(aliceDN, alicePW)
			req.Header.Set("Content-Type", "application/json")
			// A fresh transport: no connection reuse, no silent retry.
			client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
			resp, err := client.Do(req)
			if resp != nil {
				defer resp.Body.Close()
			}
			tc.check(t, s, resp, err)
			if n := s.Requests(); n != 1 {
				t.Fatalf("Requests() = %d, want 1", n)
			}
		})
	}
}

func TestFaultCount(t *testing.T) {
	s, u := start(t, testPolicy, nil)
	s.SetFault(Fault{Kind: FaultStatus, Status: 500, Count: 2})
	want := []int{500, 500, 200, 200}
	for i, w := range want {
		if a := me(t, u, aliceDN, alicePW); a.status != w {
			t.Fatalf("request %d: %d, want %d", i, a.status, w)
		}
	}
	s.SetFault(Fault{Kind: FaultStatus, Status: 503})
	for i := 0; i < 3; i++ {
		if a := me(t, u, aliceDN, alicePW); a.status != 503 {
			t.Fatalf("persistent fault, request %d: %d", i, a.status)
		}
	}
	s.SetFault(Fault{})
	if a := me(t, u, aliceDN, alicePW); a.status != 200 {
		t.Fatalf("cleared fault: %d", a.status)
	}
	if s.Requests() != int64(len(want)+4) {
		t.Fatalf("Requests() = %d", s.Requests())
	}
}

func TestCloseReleasesHungRequests(t *testing.T) {
	s, u := start(t, testPolicy, nil)
	s.SetFault(Fault{Kind: FaultHang})
	done := make(chan error, 1)
	go func() {
		resp, err := http.Get(u + "/directory/v1/me")
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	for s.Requests() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Fatal("a hung request got an answer")
	}
}

func TestConcurrentChanges(t *testing.T) {
	s, u := start(t, Policy{MinLength: 1}, nil)
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			me(t, u, bobDN, bobPW)
			change(t, u, adminDN, adminPW, aliceDN, map[string]any{"newPassword": "x"})
		}()
	}
	wg.Wait()
	if !s.CheckPassword(aliceDN, "x") || s.Requests() != 16 {
		t.Fatalf("requests %d", s.Requests())
	}
}

func mustDN(t *testing.T, s string) *ldap.DN {
	t.Helper()
	dn, err := parseDN(s)
	if err != nil {
		t.Fatal(err)
	}
	return dn
}

func policyControl(t *testing.T, a answer) bridge.PolicyError {
	t.Helper()
	ctls, _ := a.body["_controls"].([]any)
	for _, c := range ctls {
		b, _ := json.Marshal(c)
		var ctl pwcontrol.Control
		if err := json.Unmarshal(b, &ctl); err != nil {
			t.Fatal(err)
		}
		if ctl.OID == ppolicyOID {
			p, err := ctl.Policy()
			if err != nil {
				t.Fatalf("decode ppolicy control %s: %v", b, err)
			}
			return p.Error
		}
	}
	return bridge.PolicyErrorNone
}

func TestPasswordPolicyControl(t *testing.T) {
	clk := newClock()
	p := testPolicy
	p.MinAge = time.Hour
	_, u := start(t, p, clk)
	withPolicy := func(body map[string]any) map[string]any {
		body["_controls"] = []any{
			map[string]any{"oid": vdReqOID, "criticality": false},
			map[string]any{"oid": ppolicyOID, "criticality": false},
		}
		return body
	}
	a := change(t, u, aliceDN, alicePW, aliceDN, withPolicy(map[string]any{"newPassword": "x"}))
	if a.code(t) != resultUnwilling || policyControl(t, a) != bridge.PasswordTooYoung {
		t.Fatalf("too young: %s", a.raw)
	}
	clk.Advance(time.Hour)
	a = change(t, u, aliceDN, alicePW, aliceDN, withPolicy(map[string]any{"newPassword": "x"}))
	if a.code(t) != resultConstraintViolation || policyControl(t, a) != bridge.InsufficientPasswordQuality {
		t.Fatalf("quality: %s", a.raw)
	}
	// Without the request control, no ppolicy control.
	a = change(t, u, aliceDN, alicePW, aliceDN, map[string]any{"newPassword": "x"})
	if policyControl(t, a) != bridge.PolicyErrorNone {
		t.Fatalf("unrequested ppolicy control: %s", a.raw)
	}
}

func TestWrongOldPasswordLocksTarget(t *testing.T) {
	_, u := start(t, testPolicy, nil)
	for i := 0; i < testPolicy.LockoutFailures; i++ {
		if a := change(t, u, bobDN, bobPW, aliceDN, map[string]any{"oldPassword": "guess", "newPassword": "New-Alice-2"}); a.code(t) != resultInvalidCredentials {
			t.Fatalf("guess %d: %s", i, a.raw)
		}
	}
	if a := me(t, u, aliceDN, alicePW); a.status != 401 {
		t.Fatalf("target not locked: %s", a.raw)
	}
	body := map[string]any{"oldPassword": alicePW, "newPassword": "New-Alice-2",
		"_controls": []any{map[string]any{"oid": ppolicyOID}}}
	a := change(t, u, bobDN, bobPW, aliceDN, body)
	if a.code(t) != resultUnwilling || policyControl(t, a) != bridge.AccountLocked {
		t.Fatalf("change of a locked account: %s", a.raw)
	}
}

func TestLatency(t *testing.T) {
	s, u := start(t, testPolicy, nil)
	s.SetLatency(5*time.Second, time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u+"/directory/v1/me", nil)
	req.SetBasicAuth(aliceDN, alicePW)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Fatal("answered within the latency")
	}
	s.SetLatency(0, 0)
	if a := me(t, u, aliceDN, alicePW); a.status != 200 {
		t.Fatalf("after clearing the latency: %d", a.status)
	}
}
