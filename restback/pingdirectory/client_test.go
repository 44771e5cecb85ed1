package pingdirectory

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
)

// The request body and the 200 answer of the Directory REST API's Password
// Modify documentation (ping-docs/pingdirectory-password-modify.txt).
const (
	docRequestBody = `{
    "oldPassword": "oldPasswordExample",
    "newPassword": "newPasswordExample",
    "_controls": [
        {
            "oid": "1.3.6.1.4.1.30221.2.5.40",
            "control-name": "Password Validation Details Request Control",
            "criticality": false
        }
    ]
}`
	docResponseBody = `{
    "_links": {
        "entry": {
            "href": "https://localhost:1443/directory/v1/uid=jimbob,ou=People,dc=example,dc=com"
        }
    },
    "resultCode": {
        "value": 0,
        "name": "success"
    },
    "_controls": [
        {
            "oid": "1.3.6.1.4.1.30221.2.5.41",
            "control-name": "Password Validation Details Response Control",
            "criticality": false,
            "value-json": {
                "response-type": "validation-performed",
                "validation-details": [
                    {
                        "password-quality-requirement": {
                            "description": "The new password must not be the same as the current password.",
                            "client-side-validation-type": "not-current-password"
                        },
                        "requirement-satisfied": true
                    }
                ],
                "missing-current-password": false,
                "must-change-password": false
            }
        }
    ]
}`
	docDN = "uid=jdoe,ou=People,dc=example,dc=com"
)

// recorded is one request as a server saw it.
type recorded struct {
	method, requestURI, contentType, auth string
	body                                  []byte
}

// recorder is an httptest server that records requests and answers each
// with the given status, content type and body.
func recorder(t *testing.T, status int, contentType, body string) (*httptest.Server, func() []recorded) {
	t.Helper()
	var mu sync.Mutex
	var reqs []recorded
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		reqs = append(reqs, recorded{r.Method, r.RequestURI, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b})
		mu.Unlock()
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.Header().Set("Correlation-Id", "corr-123")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(ts.Close)
	return ts, func() []recorded {
		mu.Lock()
		defer mu.Unlock()
		return append([]recorded(nil), reqs...)
	}
}

func basic(dn, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(dn+":"+pw))
}

func TestChangeRequestMatchesDocumentation(t *testing.T) {
	ts, got := recorder(t, 200, "application/hal+json", docResponseBody)
	c, _ := newClient(t, ts.URL, nil)
	out := c.ChangePassword(context.Background(), bridge.ChangeRequest{
		Target: docDN, Kind: bridge.SelfChange, Actor: creds(docDN, "oldPasswordExample"),
		OldPassword: secret("oldPasswordExample"), NewPassword: secret("newPasswordExample"),
	})
	reqs := got()
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	r := reqs[0]
	if r.method != http.MethodPost || r.requestURI != "/directory/v1/"+docDN+"/changePassword" ||
		r.contentType != "application/json" || r.auth != basic(docDN, "oldPasswordExample") {
		t.Fatalf("request %s %s, Content-Type %q, Authorization %q", r.method, r.requestURI, r.contentType, r.auth)
	}
	var want bytes.Buffer
	if err := json.Compact(&want, []byte(docRequestBody)); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.body, want.Bytes()) {
		t.Fatalf("body\n%s\nwant\n%s", r.body, want.Bytes())
	}
	if out.Code != bridge.Success || out.RequestID != "corr-123" || out.Policy != nil || !out.GeneratedPassword.IsZero() {
		t.Fatalf("outcome %+v", out)
	}
	v := out.Validation
	if v == nil || v.ResponseType != bridge.ValidationPerformed || len(v.Results) != 1 ||
		v.Results[0].Requirement.ValidationType != "not-current-password" || !v.Results[0].Satisfied {
		t.Fatalf("validation %+v", v)
	}
}

func TestChangeRequestBodies(t *testing.T) {
	ctl := `"_controls":[{"oid":"1.3.6.1.4.1.30221.2.5.40","control-name":"Password Validation Details Request Control","criticality":false}]`
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{"reset with a new password", "", "N3w\"pass\\word\n\u00e9\u2028", `{"newPassword":"N3w\"pass\\word\u000a` + "\u00e9\u2028" + `",` + ctl + `}`},
		{"generate", "", "", `{` + ctl + `}`},
		{"self, generate", "old", "", `{"oldPassword":"old",` + ctl + `}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := changeBody(secretOrZero(tc.old), secretOrZero(tc.new))
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != tc.want {
				t.Fatalf("body %s\nwant %s", b, tc.want)
			}
			var back map[string]any
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if tc.new != "" && back["newPassword"] != tc.new {
				t.Fatalf("newPassword decodes to %q", back["newPassword"])
			}
		})
	}
}

func TestBindRequest(t *testing.T) {
	ts, got := recorder(t, 200, "application/hal+json", `{"_dn":"`+docDN+`"}`)
	c, _ := newClient(t, ts.URL+"/prefix/", nil)
	if out := bind(c, docDN, "pw:with:colons", false); out.Code != bridge.Success || out.MustChange || out.Policy != nil {
		t.Fatalf("outcome %+v", out)
	}
	r := got()[0]
	if r.method != http.MethodGet || r.requestURI != "/prefix/directory/v1/me?includeAttributes=ds-pwp-state-json,pwdReset" ||
		r.auth != basic(docDN, "pw:with:colons") || len(r.body) != 0 {
		t.Fatalf("request %+v", r)
	}
}

func TestEscapeSegment(t *testing.T) {
	tests := []struct{ dn, want string }{
		{docDN, docDN},
		{"uid=a/b,dc=x", "uid=a%2Fb,dc=x"},
		{"uid=100%,dc=x", "uid=100%25,dc=x"},
		{"uid=what?,dc=x", "uid=what%3F,dc=x"},
		{"uid=a#b,dc=x", "uid=a%23b,dc=x"},
		{`cn=Smith\, John,dc=x`, "cn=Smith%5C,%20John,dc=x"},
		{"cn=a+uid=b;dc=x", "cn=a%2Buid=b%3Bdc=x"},
		{"cn=Jürgen", "cn=J%C3%BCrgen"},
	}
	c, _ := newClient(t, "https://pd.example.com:1443", nil)
	for _, tc := range tests {
		if got := escapeSegment(tc.dn); got != tc.want {
			t.Errorf("escapeSegment(%q) = %q, want %q", tc.dn, got, tc.want)
		}
		u := c.endpoint(tc.dn, "changePassword")
		if want := "https://pd.example.com:1443/directory/v1/" + tc.want + "/changePassword"; u.String() != want {
			t.Errorf("URL %q, want %q", u.String(), want)
		}
	}
}

func TestDNsRoundTrip(t *testing.T) {
	dns := []string{
		"uid=a/b," + people,
		"uid=a," + people,
		"uid=b," + people,
		"uid=100%," + people,
		"uid=100%25," + people,
		"uid=what?," + people,
		"uid=a#b," + people,
		`cn=Smith\, John,` + people,
		"cn=Smith," + people,
		`cn=a\+b,` + people,
		"cn=a+uid=b," + people,
		"cn=John Smith," + people,
		"cn=Jürgen," + people,
		"uid=x/changePassword," + people,
		"uid=..," + people,
	}
	s := directorysim.New(directorysim.Config{Policy: directorysim.Policy{MinLength: 1}, Admins: []string{adminDN}})
	if err := s.AddUser(adminDN, adminPW); err != nil {
		t.Fatal(err)
	}
	for _, dn := range dns {
		if err := s.AddUser(dn, "old "+dn); err != nil {
			t.Fatal(err)
		}
	}
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c, _ := newClient(t, u, nil)
	for i, dn := range dns {
		if out := reset(c, adminDN, adminPW, dn, "new "+dn); out.Code != bridge.Success {
			t.Fatalf("reset %q: %+v", dn, out)
		}
		for j, other := range dns {
			want := "old " + other
			switch {
			case j < i:
				want = "own " + other
			case j == i:
				want = "new " + other
			}
			if !s.CheckPassword(other, want) {
				t.Fatalf("after resetting %q, %q does not have %q", dn, other, want)
			}
		}
		if out := bind(c, dn, "new "+dn, false); out.Code != bridge.Success || !out.MustChange {
			t.Fatalf("bind %q: %+v", dn, out)
		}
		if out := selfChange(c, dn, "new "+dn, "", "own "+dn); out.Code != bridge.Success {
			t.Fatalf("self change %q: %+v", dn, out)
		}
	}
}

func TestBind(t *testing.T) {
	_, u := startSim(t, simPolicy, nil)
	c, _ := newClient(t, u, nil)
	tests := []struct {
		name, dn, pw string
		code         bridge.ResultCode
	}{
		{"right password", aliceDN, alicePW, bridge.Success},
		{"wrong password", aliceDN, "nope", bridge.InvalidCredentials},
		{"unknown user", "uid=ghost," + people, alicePW, bridge.InvalidCredentials},
		{"DN with a colon", "cn=a:b," + people, alicePW, bridge.UnwillingToPerform},
		{"empty password", aliceDN, "", bridge.UnwillingToPerform},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out := bind(c, tc.dn, tc.pw, true)
			if out.Code != tc.code || out.MustChange || out.Policy != nil {
				t.Fatalf("outcome %+v", out)
			}
			if out.Code == bridge.Success && out.RequestID == "" {
				t.Fatal("no request id")
			}
		})
	}
}

func TestBindLocked(t *testing.T) {
	s, u := startSim(t, simPolicy, nil)
	c, _ := newClient(t, u, nil)
	for i := 0; i < simPolicy.LockoutFailures; i++ {
		if out := bind(c, aliceDN, "nope", true); out.Code != bridge.InvalidCredentials {
			t.Fatalf("failure %d: %+v", i, out)
		}
	}
	out := bind(c, aliceDN, alicePW, true)
	if out.Code != bridge.InvalidCredentials || out.Policy != nil {
		// The answer does not say "locked", so neither does the bridge.
		t.Fatalf("locked account: %+v", out)
	}
	if n := s.Requests(); n != int64(simPolicy.LockoutFailures+1) {
		t.Fatalf("%d requests for %d binds", n, simPolicy.LockoutFailures+1)
	}
}

func TestBindMustChangeAfterReset(t *testing.T) {
	_, u := startSim(t, simPolicy, nil)
	c, _ := newClient(t, u, nil)
	if out := reset(c, adminDN, adminPW, aliceDN, "Reset-Pass-9"); out.Code != bridge.Success {
		t.Fatalf("reset: %+v", out)
	}
	out := bind(c, aliceDN, "Reset-Pass-9", true)
	if out.Code != bridge.Success || !out.MustChange || out.Policy == nil || out.Policy.Error != bridge.ChangeAfterReset {
		t.Fatalf("with ppolicy: %+v %+v", out, out.Policy)
	}
	out = bind(c, aliceDN, "Reset-Pass-9", false)
	if out.Code != bridge.Success || !out.MustChange || out.Policy != nil {
		t.Fatalf("without ppolicy: %+v", out)
	}
	if out := selfChange(c, aliceDN, "Reset-Pass-9", "", "Own-Choice-7"); out.Code != bridge.Success {
		t.Fatalf("own change: %+v", out)
	}
	if out := bind(c, aliceDN, "Own-Choice-7", true); out.Code != bridge.Success || out.MustChange || out.Policy != nil {
		t.Fatalf("after own change: %+v", out)
	}
}

func TestBindExpiryWarning(t *testing.T) {
	clk := newFakeClock()
	p := simPolicy
	p.MaxAge, p.ExpiryWarning = 10*24*time.Hour, 2*24*time.Hour
	_, u := startSim(t, p, clk)
	c, _ := newClient(t, u, nil)
	if out := bind(c, aliceDN, alicePW, true); out.Code != bridge.Success || out.Policy != nil {
		t.Fatalf("fresh: %+v", out)
	}
	clk.Advance(9 * 24 * time.Hour)
	out := bind(c, aliceDN, alicePW, true)
	if out.Code != bridge.Success || out.Policy == nil || out.Policy.Warning != bridge.TimeBeforeExpiration ||
		out.Policy.WarningValue != 24*3600 || out.Policy.Error != bridge.PolicyErrorNone {
		t.Fatalf("expiring: %+v %+v", out, out.Policy)
	}
	clk.Advance(24 * time.Hour)
	if out := bind(c, aliceDN, alicePW, true); out.Code != bridge.InvalidCredentials {
		t.Fatalf("expired: %+v", out)
	}
}

func TestChangePassword(t *testing.T) {
	tests := []struct {
		name   string
		req    bridge.ChangeRequest
		code   bridge.ResultCode
		policy bridge.PolicyError // PolicyErrorNone: no ppolicy error expected
		check  func(t *testing.T, s *directorysim.Server, out bridge.Outcome)
	}{
		{
			name: "self change",
			req:  bridge.ChangeRequest{Target: aliceDN, Kind: bridge.SelfChange, Actor: creds(aliceDN, alicePW), NewPassword: secret("New-Alice-2")},
			code: bridge.Success, policy: bridge.PolicyErrorNone,
			check: func(t *testing.T, s *directorysim.Server, out bridge.Outcome) {
				if !s.CheckPassword(aliceDN, "New-Alice-2") || out.Validation == nil || out.Validation.ResponseType != bridge.ValidationPerformed {
					t.Fatalf("%+v", out)
				}
			},
		},
		{
			name: "self change by old password proof",
			req: bridge.ChangeRequest{Target: aliceDN, Kind: bridge.SelfChange, Actor: creds(aliceDN, alicePW),
				OldPassword: secret(alicePW), NewPassword: secret("New-Alice-2")},
			code: bridge.Success, policy: bridge.PolicyErrorNone,
		},
		{
			name: "old password proof is wrong",
			req: bridge.ChangeRequest{Target: aliceDN, Kind: bridge.SelfChange, Actor: creds(aliceDN, "Wrong-Pass-1"),
				OldPassword: secret("Wrong-Pass-1"), NewPassword: secret("New-Alice-2")},
			code: bridge.InvalidCredentials, policy: bridge.PolicyErrorNone,
		},
		{
			name: "bound session gives a wrong old password",
			req: bridge.ChangeRequest{Target: aliceDN, Kind: bridge.SelfChange, Actor: creds(aliceDN, alicePW),
				OldPassword: secret("Wrong-Pass-1"), NewPassword: secret("New-Alice-2")},
			code: bridge.InvalidCredentials, policy: bridge.PolicyErrorNone,
			check: func(t *testing.T, s *directorysim.Server, out bridge.Outcome) {
				if out.Validation == nil || out.Validation.ResponseType != bridge.NoValidationAttempted || !s.CheckPassword(aliceDN, alicePW) {
					t.Fatalf("%+v", out)
				}
			},
		},
		{
			name: "administrative reset",
			req:  bridge.ChangeRequest{Target: aliceDN, Kind: bridge.AdminReset, Actor: creds(adminDN, adminPW), NewPassword: secret("Reset-Pass-9")},
			code: bridge.Success, policy: bridge.PolicyErrorNone,
			check: func(t *testing.T, s *directorysim.Server, out bridge.Outcome) {
				if !s.MustChange(aliceDN) || out.Validation == nil || !out.Validation.MustChangePassword {
					t.Fatalf("%+v", out)
				}
			},
		},
		{
			name: "non-admin resets another",
			req:  bridge.ChangeRequest{Target: aliceDN, Kind: bridge.AdminReset, Actor: creds(bobDN, bobPW), NewPassword: secret("Reset-Pass-9")},
			code: bridge.InsufficientAccessRights, policy: bridge.PolicyErrorNone,
			check: func(t *testing.T, s *directorysim.Server, out bridge.Outcome) {
				if !s.CheckPassword(aliceDN, alicePW) || out.Diagnostic == "" {
					t.Fatalf("%+v", out)
				}
			},
		},
		{
			name: "too short",
			req:  bridge.ChangeRequest{Target: aliceDN, Kind: bridge.SelfChange, Actor: creds(aliceDN, alicePW), NewPassword: secret("Ab1")},
			code: bridge.ConstraintViolation, policy: bridge.PasswordTooShort,
			check: func(t *testing.T, s *directorysim.Server, out bridge.Outcome) {
				if !strings.Contains(out.Diagnostic, "at least 8 characters") {
					t.Fatalf("diagnostic %q", out.Diagnostic)
				}
				for _, r := range out.Validation.Results {
					if r.Requirement.ValidationType == "length" {
						if r.Satisfied || r.Requirement.Properties[0] != (bridge.Property{Name: "minimum-length", Value: "8"}) {
							t.Fatalf("length %+v", r)
						}
						return
					}
				}
				t.Fatalf("no length requirement in %+v", out.Validation)
			},
		},
		{
			name: "missing character classes",
			req:  bridge.ChangeRequest{Target: aliceDN, Kind: bridge.SelfChange, Actor: creds(aliceDN, alicePW), NewPassword: secret("alllowercase")},
			code: bridge.ConstraintViolation, policy: bridge.InsufficientPasswordQuality,
		},
		{
			name: "in history",
			req:  bridge.ChangeRequest{Target: aliceDN, Kind: bridge.SelfChange, Actor: creds(aliceDN, alicePW), NewPassword: secret(alicePW)},
			code: bridge.ConstraintViolation, policy: bridge.PasswordInHistory,
		},
		{
			name: "unknown target",
			req:  bridge.ChangeRequest{Target: "uid=ghost," + people, Kind: bridge.AdminReset, Actor: creds(adminDN, adminPW), NewPassword: secret("Reset-Pass-9")},
			code: bridge.NoSuchObject, policy: bridge.PolicyErrorNone,
			check: func(t *testing.T, s *directorysim.Server, out bridge.Outcome) {
				if !strings.EqualFold(out.MatchedDN, people) {
					t.Fatalf("matched DN %q", out.MatchedDN)
				}
			},
		},
		{
			name: "generated",
			req:  bridge.ChangeRequest{Target: bobDN, Kind: bridge.AdminReset, Actor: creds(adminDN, adminPW)},
			code: bridge.Success, policy: bridge.PolicyErrorNone,
			check: func(t *testing.T, s *directorysim.Server, out bridge.Outcome) {
				if out.GeneratedPassword.IsZero() || !s.CheckPassword(bobDN, out.GeneratedPassword.Reveal()) {
					t.Fatal("generated password does not work")
				}
				if out.Validation == nil || out.Validation.ResponseType != bridge.NoPasswordProvided {
					t.Fatalf("validation %+v", out.Validation)
				}
			},
		},
		{
			name: "bad target DN",
			req:  bridge.ChangeRequest{Target: "not a dn", Kind: bridge.AdminReset, Actor: creds(adminDN, adminPW)},
			code: bridge.InvalidDNSyntax, policy: bridge.PolicyErrorNone,
		},
		{
			name: "password that is not UTF-8",
			req:  bridge.ChangeRequest{Target: aliceDN, Kind: bridge.SelfChange, Actor: creds(aliceDN, alicePW), NewPassword: bridge.NewSecret([]byte{'A', 0xff, '1'})},
			code: bridge.UnwillingToPerform, policy: bridge.PolicyErrorNone,
			check: func(t *testing.T, s *directorysim.Server, out bridge.Outcome) {
				if s.Requests() != 0 {
					t.Fatal("sent anyway")
				}
			},
		},
		{
			name: "service account without backend credentials",
			req:  bridge.ChangeRequest{Target: aliceDN, Kind: bridge.AdminReset, NewPassword: secret("Reset-Pass-9")},
			code: bridge.InsufficientAccessRights, policy: bridge.PolicyErrorNone,
			check: func(t *testing.T, s *directorysim.Server, out bridge.Outcome) {
				if s.Requests() != 0 {
					t.Fatal("sent without a credential")
				}
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, u := startSim(t, simPolicy, nil)
			c, _ := newClient(t, u, nil)
			out := c.ChangePassword(context.Background(), tc.req)
			if out.Code != tc.code {
				t.Fatalf("code %v, want %v: %+v", out.Code, tc.code, out)
			}
			gotPolicy := bridge.PolicyErrorNone
			if out.Policy != nil {
				gotPolicy = out.Policy.Error
			}
			if gotPolicy != tc.policy {
				t.Fatalf("ppolicy error %v, want %v", gotPolicy, tc.policy)
			}
			if out.Code != bridge.Success && !out.GeneratedPassword.IsZero() {
				t.Fatal("a failure carries a generated password")
			}
			if tc.check != nil {
				tc.check(t, s, out)
			}
		})
	}
}

func TestChangeTooYoung(t *testing.T) {
	p := simPolicy
	p.MinAge = time.Hour
	_, u := startSim(t, p, newFakeClock())
	c, _ := newClient(t, u, nil)
	out := selfChange(c, aliceDN, alicePW, "", "New-Alice-2")
	if out.Code != bridge.UnwillingToPerform || out.Policy == nil || out.Policy.Error != bridge.PasswordTooYoung {
		t.Fatalf("%+v %+v", out, out.Policy)
	}
}

func TestGeneratedPasswordBinds(t *testing.T) {
	s, u := startSim(t, simPolicy, nil)
	c, _ := newClient(t, u, nil)
	out := selfChange(c, aliceDN, alicePW, "", "")
	if out.Code != bridge.Success || out.GeneratedPassword.IsZero() {
		t.Fatalf("%+v", out)
	}
	if b := bind(c, aliceDN, out.GeneratedPassword.Reveal(), true); b.Code != bridge.Success || b.MustChange {
		t.Fatalf("bind with the generated password: %+v", b)
	}
	if s.MustChange(aliceDN) {
		t.Fatal("a self change set must-change")
	}
}

func TestServiceAccountCredentials(t *testing.T) {
	s, u := startSim(t, simPolicy, nil)
	c, _ := newClient(t, u, func(cfg *Config) {
		cfg.AdminDN, cfg.AdminPassword = adminDN, secret(adminPW)
	})
	out := c.ChangePassword(context.Background(), bridge.ChangeRequest{Target: aliceDN, Kind: bridge.AdminReset, NewPassword: secret("Reset-Pass-9")})
	if out.Code != bridge.Success || !s.CheckPassword(aliceDN, "Reset-Pass-9") {
		t.Fatalf("%+v", out)
	}
}

func TestCheck(t *testing.T) {
	s, u := startSim(t, simPolicy, nil)
	c, _ := newClient(t, u, nil)
	if err := c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	s.SetFault(directorysim.Fault{Kind: directorysim.FaultStatus, Status: 503})
	if err := c.Check(context.Background()); err != nil {
		t.Fatalf("a 503 is reachable: %v", err)
	}
	dead, _ := newClient(t, "http://"+closedAddr(t), nil)
	if err := dead.Check(context.Background()); err == nil || !strings.Contains(err.Error(), "pd-test") {
		t.Fatalf("refused: %v", err)
	}
}

func TestCanceled(t *testing.T) {
	_, u := startSim(t, simPolicy, nil)
	c, _ := newClient(t, u, nil)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if out := c.Bind(ctx, bridge.BindRequest{DN: aliceDN, Password: secret(alicePW)}); out.Code != bridge.Canceled {
		t.Fatalf("bind: %+v", out)
	}
	out := c.ChangePassword(ctx, bridge.ChangeRequest{Target: aliceDN, Kind: bridge.SelfChange, Actor: creds(aliceDN, alicePW), NewPassword: secret("New-Alice-2")})
	if out.Code != bridge.Canceled {
		t.Fatalf("change: %+v", out)
	}
}

// closedAddr is an address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestNew(t *testing.T) {
	caFile, _ := testCA(t)
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"https", Config{BaseURL: "https://pd.example.com:1443"}, true},
		{"https with CA", Config{BaseURL: "https://pd.example.com", CAFile: caFile}, true},
		{"path prefix", Config{BaseURL: "https://gw.example.com/pd/"}, true},
		{"no URL", Config{}, false},
		{"bad scheme", Config{BaseURL: "ldap://pd.example.com"}, false},
		{"no host", Config{BaseURL: "https:///x"}, false},
		{"credentials in URL", Config{BaseURL: "https://u:p@pd.example.com"}, false},
		{"query", Config{BaseURL: "https://pd.example.com/?a=b"}, false},
		{"negative timeout", Config{BaseURL: "https://pd.example.com", Timeout: -time.Second}, false},
		{"CA with transport", Config{BaseURL: "https://pd.example.com", CAFile: caFile, Transport: http.DefaultTransport}, false},
		{"CA with http", Config{BaseURL: "http://pd.example.com", CAFile: caFile}, false},
		{"missing CA file", Config{BaseURL: "https://pd.example.com", CAFile: caFile + ".nope"}, false},
		{"CA file without certificates", Config{BaseURL: "https://pd.example.com", CAFile: writeFile(t, "junk")}, false},
		{"admin DN without password", Config{BaseURL: "https://pd.example.com", AdminDN: adminDN}, false},
		{"admin DN with a colon", Config{BaseURL: "https://pd.example.com", AdminDN: "cn=a:b", AdminPassword: secret("x")}, false},
		{"service token", Config{BaseURL: "https://pd.example.com", ServiceToken: &TokenConfig{URL: "https://pf.example.com/as/token.oauth2", ClientID: "c", ClientSecret: secret("s")}}, true},
		{"service token and admin DN", Config{BaseURL: "https://pd.example.com", AdminDN: adminDN, AdminPassword: secret("x"), ServiceToken: &TokenConfig{URL: "https://pf.example.com/t", ClientID: "c", ClientSecret: secret("s")}}, false},
		{"service token without a secret", Config{BaseURL: "https://pd.example.com", ServiceToken: &TokenConfig{URL: "https://pf.example.com/t", ClientID: "c"}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("err %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), defaultName) {
				t.Fatalf("error does not name the backend: %v", err)
			}
			if err == nil && (c.timeout != defaultTimeout || c.Name() != defaultName) {
				t.Fatalf("defaults: %v %q", c.timeout, c.Name())
			}
		})
	}
}

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
