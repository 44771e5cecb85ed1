package pingdirectory

import (
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
)

// TestFaultsAgainstSimulator covers the failure rows that need a server
// misbehaving on the wire.
func TestFaultsAgainstSimulator(t *testing.T) {
	type result struct {
		code bridge.ResultCode
		diag string // substring
	}
	tests := []struct {
		name     string
		fault    directorysim.Fault
		deadline time.Duration // 0: none
		bind     result
		change   result
		requests int64 // per operation
		changed  bool  // the change took effect although the answer was lost
	}{
		{
			name:  "429 without Retry-After",
			fault: directorysim.Fault{Kind: directorysim.FaultStatus, Status: 429},
			bind:  result{bridge.Busy, "busy"}, change: result{bridge.Busy, "busy"}, requests: 1,
		},
		{
			name:     "503 with a Retry-After beyond the deadline",
			fault:    directorysim.Fault{Kind: directorysim.FaultStatus, Status: 503, RetryAfter: time.Second},
			deadline: 400 * time.Millisecond,
			bind:     result{bridge.Unavailable, "HTTP 503"}, change: result{bridge.Unavailable, "HTTP 503"}, requests: 1,
		},
		{
			name:  "503 without Retry-After",
			fault: directorysim.Fault{Kind: directorysim.FaultStatus, Status: 503},
			bind:  result{bridge.Unavailable, "HTTP 503"}, change: result{bridge.Unavailable, "HTTP 503"}, requests: 1,
		},
		{
			name:  "500",
			fault: directorysim.Fault{Kind: directorysim.FaultStatus, Status: 500},
			bind:  result{bridge.Unavailable, "HTTP 500"}, change: result{bridge.Unavailable, "HTTP 500"}, requests: 1,
		},
		{
			name:  "hang after processing",
			fault: directorysim.Fault{Kind: directorysim.FaultHang, Process: true},
			bind:  result{bridge.Unavailable, "timed out"}, change: result{bridge.Other, "outcome unknown"},
			requests: 1, changed: true,
		},
		{
			name:  "hang without processing",
			fault: directorysim.Fault{Kind: directorysim.FaultHang},
			bind:  result{bridge.Unavailable, "timed out"}, change: result{bridge.Other, "outcome unknown"},
			requests: 1,
		},
		{
			name:  "connection closed after processing",
			fault: directorysim.Fault{Kind: directorysim.FaultCloseConn, Process: true},
			bind:  result{bridge.Unavailable, "pd-test"}, change: result{bridge.Other, "outcome unknown"},
			requests: 1, changed: true,
		},
		{
			name:  "HTML page with 200",
			fault: directorysim.Fault{Kind: directorysim.FaultNonJSON},
			bind:  result{bridge.Unavailable, "HTTP 200"}, change: result{bridge.Other, "outcome unknown"},
			requests: 1,
		},
		{
			name:  "wrong content type",
			fault: directorysim.Fault{Kind: directorysim.FaultWrongContentType},
			bind:  result{bridge.Unavailable, "HTTP 200"}, change: result{bridge.Other, "outcome unknown"},
			requests: 1, changed: true,
		},
		{
			name:  "truncated body",
			fault: directorysim.Fault{Kind: directorysim.FaultTruncatedBody},
			bind:  result{bridge.Unavailable, "HTTP 200"}, change: result{bridge.Other, "outcome unknown"},
			requests: 1, changed: true,
		},
	}
	for _, tc := range tests {
		for _, op := range []string{"bind", "change"} {
			t.Run(tc.name+"/"+op, func(t *testing.T) {
				s, u := startSim(t, simPolicy, nil)
				c, _ := newClient(t, u, func(cfg *Config) { cfg.Timeout = 300 * time.Millisecond })
				s.SetFault(tc.fault)
				ctx := context.Background()
				if tc.deadline > 0 {
					var cancel context.CancelFunc
					ctx, cancel = context.WithTimeout(ctx, tc.deadline)
					defer cancel()
				}
				var out bridge.Outcome
				want := tc.bind
				if op == "bind" {
					out = c.Bind(ctx, bridge.BindRequest{DN: aliceDN, Password: secret(alicePW)})
				} else {
					want = tc.change
					out = c.ChangePassword(ctx, bridge.ChangeRequest{Target: aliceDN, Kind: bridge.SelfChange,
						Actor: creds(aliceDN, alicePW), NewPassword: secret("New-Alice-2")})
				}
				if out.Code != want.code || !strings.Contains(out.Diagnostic, want.diag) {
					t.Fatalf("outcome %v %q, want %v %q", out.Code, out.Diagnostic, want.code, want.diag)
				}
				if !strings.Contains(out.Diagnostic, "pd-test") {
					t.Fatalf("diagnostic does not name the backend: %q", out.Diagnostic)
				}
				if n := s.Requests(); n != tc.requests {
					t.Fatalf("%d requests, want %d", n, tc.requests)
				}
				if op == "change" && s.CheckPassword(aliceDN, "New-Alice-2") != tc.changed {
					t.Fatalf("changed = %v, want %v", !tc.changed, tc.changed)
				}
			})
		}
	}
}

// A 429 or 503 with a Retry-After that fits the deadline: a bind is sent
// again; a change is not (the answer does not prove that nothing was
// changed), it is busy or unavailable after exactly one request.
func TestRetryAfterReadsOnly(t *testing.T) {
	for _, status := range []int{429, 503} {
		s, u := startSim(t, simPolicy, nil)
		c, _ := newClient(t, u, nil)
		s.SetFault(directorysim.Fault{Kind: directorysim.FaultStatus, Status: status, RetryAfter: time.Millisecond, Count: 1})
		if out := bind(c, aliceDN, alicePW, false); out.Code != bridge.Success || s.Requests() != 2 {
			t.Fatalf("%d: bind %+v after %d requests, want success after 2", status, out, s.Requests())
		}
		s.SetFault(directorysim.Fault{Kind: directorysim.FaultStatus, Status: status, RetryAfter: time.Millisecond, Count: 1})
		before := s.Requests()
		out := selfChange(c, aliceDN, alicePW, "", "New-Alice-2")
		want := map[int]bridge.ResultCode{429: bridge.Busy, 503: bridge.Unavailable}[status]
		if out.Code != want || s.Requests()-before != 1 || s.CheckPassword(aliceDN, "New-Alice-2") {
			t.Fatalf("%d: change %+v after %d requests, want %v after exactly 1", status, out, s.Requests()-before, want)
		}
	}
}

// The backend's address and the dial error stay out of the client's
// diagnostic (issue 10); the log keeps them.
func TestConnectionRefused(t *testing.T) {
	addr := closedAddr(t)
	c, logs := newClient(t, "http://"+addr, nil)
	for _, out := range []bridge.Outcome{
		bind(c, aliceDN, alicePW, true),
		selfChange(c, aliceDN, alicePW, "", "New-Alice-2"),
	} {
		if out.Code != bridge.Unavailable || !strings.Contains(out.Diagnostic, "could not connect") ||
			!strings.Contains(out.Diagnostic, "pd-test") {
			t.Fatalf("%+v", out)
		}
		for _, leak := range []string{addr, "127.0.0.1", "dial", "refused"} {
			if strings.Contains(out.Diagnostic, leak) {
				t.Errorf("diagnostic %q shows %q", out.Diagnostic, leak)
			}
		}
	}
	if l := logs.String(); !strings.Contains(l, addr) || !strings.Contains(l, "connection refused") {
		t.Errorf("the log lost the dial error:\n%s", l)
	}
}

func TestConnectionRefusedThenUp(t *testing.T) {
	// The first dial fails, the retry reaches the server: a request that
	// certainly never left is sent again.
	_, u := startSim(t, simPolicy, nil)
	var dials atomic.Int32
	tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			addr = closedAddr(t)
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}
	c, _ := newClient(t, u, func(cfg *Config) { cfg.Transport = tr })
	if out := selfChange(c, aliceDN, alicePW, "", "New-Alice-2"); out.Code != bridge.Success || dials.Load() != 2 {
		t.Fatalf("%+v after %d dials", out, dials.Load())
	}
}

func TestUnknownHost(t *testing.T) {
	c, _ := newClient(t, "http://pd.invalid", nil)
	out := bind(c, aliceDN, alicePW, false)
	if out.Code != bridge.Unavailable || !strings.Contains(out.Diagnostic, "pd-test") {
		t.Fatalf("%+v", out)
	}
}

// TestStatusTable covers every HTTP status row against a server that
// answers with a fixed status and body.
func TestStatusTable(t *testing.T) {
	const ppolicyLocked = `{"resultCode":{"value":49,"name":"invalidCredentials"},"_controls":[{"oid":"1.3.6.1.4.1.42.2.27.8.5.1","control-name":"Password Policy Response Control","criticality":false,"value-json":{"error-type":"account-locked"}}]}`
	const tooShort = `{"resultCode":{"value":19,"name":"constraintViolation"},"diagnosticMessage":"too short","_controls":[{"oid":"1.3.6.1.4.1.30221.2.5.41","criticality":false,"value-json":{"response-type":"validation-performed","validation-details":[{"password-quality-requirement":{"description":"The password must contain at least 8 characters.","client-side-validation-type":"length","client-side-validation-properties":[{"name":"minimum-length","value":"8"}]},"requirement-satisfied":false}],"missing-current-password":false,"must-change-password":false}}]}`
	const tooYoung = `{"resultCode":{"value":53},"diagnosticMessage":"too soon","_controls":[{"oid":"1.3.6.1.4.1.30221.2.5.41","criticality":false,"value-json":{"response-type":"validation-performed","validation-details":[{"password-quality-requirement":{"description":"age","client-side-validation-type":"minimum-password-age"},"requirement-satisfied":false}],"missing-current-password":false,"must-change-password":false}}]}`
	const missingCurrent = `{"resultCode":{"value":53},"diagnosticMessage":"supply the current password","_controls":[{"oid":"1.3.6.1.4.1.30221.2.5.41","criticality":false,"value-json":{"response-type":"no-validation-attempted","missing-current-password":true,"must-change-password":false}}]}`
	tests := []struct {
		name         string
		status       int
		ct, body     string
		bind, change bridge.ResultCode
		bindPolicy   bridge.PolicyError
		changePolicy bridge.PolicyError
		diag         string // expected in the change diagnostic
	}{
		{"400 plain", 400, "text/plain", "bad", bridge.UnwillingToPerform, bridge.Other, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "outcome unknown"},
		{"400 constraint violation", 400, "application/json", tooShort, bridge.UnwillingToPerform, bridge.ConstraintViolation, bridge.PolicyErrorNone, bridge.PasswordTooShort, "too short"},
		{"400 missing current password", 400, "application/json", missingCurrent, bridge.UnwillingToPerform, bridge.UnwillingToPerform, bridge.PolicyErrorNone, bridge.MustSupplyOldPassword, "current password"},
		{"400 bare result code and errorMessage", 400, "application/json", `{"resultCode":50,"errorMessage":"nope"}`, bridge.UnwillingToPerform, bridge.InsufficientAccessRights, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "nope"},
		{"401", 401, "", "", bridge.InvalidCredentials, bridge.InvalidCredentials, bridge.PolicyErrorNone, bridge.PolicyErrorNone, ""},
		{"401 saying locked", 401, "application/json", ppolicyLocked, bridge.InvalidCredentials, bridge.InvalidCredentials, bridge.AccountLocked, bridge.AccountLocked, ""},
		{"403", 403, "application/json", `{"resultCode":{"value":50},"diagnosticMessage":"denied"}`, bridge.InsufficientAccessRights, bridge.InsufficientAccessRights, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "denied"},
		// Wrong place is not wrong password: a proxy's page or the API's
		// own 404 (a base URL with /directory/v1 pasted in) is an outage
		// on a bind and an unknown outcome on a change without a result.
		{"404 plain", 404, "text/html", "<h1>not found</h1>", bridge.Unavailable, bridge.Other, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "outcome unknown"},
		{"404 JSON", 404, "application/json", `{"resultCode":{"value":32},"matchedDN":"dc=example,dc=com"}`, bridge.Unavailable, bridge.NoSuchObject, bridge.PolicyErrorNone, bridge.PolicyErrorNone, ""},
		{"404 JSON without a result", 404, "application/json", `{"errorMessage":"The requested resource does not exist"}`, bridge.Unavailable, bridge.Other, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "outcome unknown"},
		{"400 too young", 400, "application/json", tooYoung, bridge.UnwillingToPerform, bridge.UnwillingToPerform, bridge.PolicyErrorNone, bridge.PasswordTooYoung, "too soon"},
		{"409", 409, "", "", bridge.UnwillingToPerform, bridge.Other, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "HTTP 409"},
		{"409 with a result", 409, "application/json", `{"resultCode":{"value":53},"diagnosticMessage":"busy entry"}`, bridge.UnwillingToPerform, bridge.UnwillingToPerform, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "busy entry"},
		{"418", 418, "", "", bridge.Other, bridge.Other, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "HTTP 418"},
		{"429", 429, "", "", bridge.Busy, bridge.Busy, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "429"},
		{"500 with a result", 500, "application/json", `{"resultCode":{"value":80},"diagnosticMessage":"internal"}`, bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "internal"},
		{"502", 502, "text/html", "<h1>bad gateway</h1>", bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "HTTP 502"},
		{"301", 301, "", "", bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "redirect"},
		{"200 without resultCode", 200, "application/json", `{"_links":{}}`, bridge.Success, bridge.Other, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "outcome unknown"},
		{"200 success without the generated password", 200, "application/json", `{"resultCode":{"value":0}}`, bridge.Success, bridge.Other, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "no generated password"},
		{"200 not an object", 200, "application/json", `[1,2]`, bridge.Unavailable, bridge.Other, bridge.PolicyErrorNone, bridge.PolicyErrorNone, "outcome unknown"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tc.status == 301 {
					w.Header().Set("Location", "https://elsewhere.example.com/")
				}
				if tc.ct != "" {
					w.Header().Set("Content-Type", tc.ct)
				}
				w.WriteHeader(tc.status)
				w.Write([]byte(tc.body))
			}))
			defer ts.Close()
			c, _ := newClient(t, ts.URL, nil)
			b := bind(c, aliceDN, alicePW, true)
			if b.Code != tc.bind || policyError(b) != tc.bindPolicy {
				t.Fatalf("bind: %v %v %q, want %v %v", b.Code, policyError(b), b.Diagnostic, tc.bind, tc.bindPolicy)
			}
			if b := bind(c, aliceDN, alicePW, false); b.Code != tc.bind || b.Policy != nil {
				t.Fatalf("bind without ppolicy: %v %+v", b.Code, b.Policy)
			}
			// A generated-password request, so that a bare success is
			// missing something.
			ch := c.ChangePassword(context.Background(), bridge.ChangeRequest{Target: aliceDN, Kind: bridge.AdminReset, Actor: creds(adminDN, adminPW)})
			if ch.Code != tc.change || policyError(ch) != tc.changePolicy || !strings.Contains(ch.Diagnostic, tc.diag) {
				t.Fatalf("change: %v %v %q, want %v %v %q", ch.Code, policyError(ch), ch.Diagnostic, tc.change, tc.changePolicy, tc.diag)
			}
			if tc.status == 404 && strings.Contains(tc.body, "matchedDN") && ch.MatchedDN != "dc=example,dc=com" {
				t.Fatalf("matched DN %q", ch.MatchedDN)
			}
		})
	}
}

func policyError(o bridge.Outcome) bridge.PolicyError {
	if o.Policy == nil {
		return bridge.PolicyErrorNone
	}
	return o.Policy.Error
}

func TestTLS(t *testing.T) {
	caFile, leaf := testCA(t)
	otherCA, _ := testCA(t)
	sim := directorysim.New(directorysim.Config{Policy: simPolicy})
	if err := sim.AddUser(aliceDN, alicePW); err != nil {
		t.Fatal(err)
	}
	var proto atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(int32(r.ProtoMajor))
		sim.ServeHTTP(w, r)
	}))
	ts.EnableHTTP2 = true
	ts.Config.ErrorLog = quietLog()
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	ts.StartTLS()
	defer ts.Close()

	c, _ := newClient(t, ts.URL, func(cfg *Config) { cfg.CAFile = caFile })
	if out := bind(c, aliceDN, alicePW, false); out.Code != bridge.Success {
		t.Fatalf("trusted CA: %+v", out)
	}
	if proto.Load() != 2 {
		t.Fatalf("HTTP/%d, want HTTP/2 when the server offers it", proto.Load())
	}
	for name, mod := range map[string]func(*Config){
		"system roots": nil,
		"other CA":     func(cfg *Config) { cfg.CAFile = otherCA },
	} {
		c, _ := newClient(t, ts.URL, mod)
		out := bind(c, aliceDN, alicePW, false)
		if out.Code != bridge.Unavailable || !strings.Contains(out.Diagnostic, "TLS") {
			t.Fatalf("%s: %+v", name, out)
		}
		ch := selfChange(c, aliceDN, alicePW, "", "New-Alice-2")
		if ch.Code != bridge.Unavailable || !strings.Contains(ch.Diagnostic, "TLS") {
			t.Fatalf("%s change: %+v", name, ch)
		}
	}
	if sim.CheckPassword(aliceDN, "New-Alice-2") {
		t.Fatal("a change over an untrusted connection took effect")
	}
}

func TestPlainHTTPToTLSServer(t *testing.T) {
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.Config.ErrorLog = quietLog()
	ts.StartTLS()
	defer ts.Close()
	c, _ := newClient(t, strings.Replace(ts.URL, "https://", "http://", 1), nil)
	if out := bind(c, aliceDN, alicePW, false); out.Code == bridge.Success || out.Code == bridge.InvalidCredentials {
		t.Fatalf("%+v", out)
	}
}

// TestNoSecretsLeak runs every path with passwords that are easy to spot
// and checks that none reaches a diagnostic or a log line.
func TestNoSecretsLeak(t *testing.T) {
	p := simPolicy
	p.MinLength = 1
	p.MinDigits, p.MinUpper, p.MinLower = 0, 0, 0
	s, u := startSim(t, p, nil)
	const (
		pw1 = "SECRET-one-1"
		pw2 = "SECRET-two-2"
		pw3 = "SECRET-three-3"
	)
	if out := reset(newClientNoLog(t, u), adminDN, adminPW, aliceDN, pw1); out.Code != bridge.Success {
		t.Fatal(out)
	}
	c, logs := newClient(t, u, func(cfg *Config) { cfg.Timeout = 300 * time.Millisecond })
	var outs []bridge.Outcome
	outs = append(outs,
		bind(c, aliceDN, pw1, true),
		bind(c, aliceDN, pw2, true),
		selfChange(c, aliceDN, pw1, pw3, pw2),
		selfChange(c, aliceDN, pw1, "", pw1),
		reset(c, bobDN, bobPW, aliceDN, pw3),
		selfChange(c, aliceDN, pw1, "", ""),
	)
	for _, f := range []directorysim.Fault{
		{Kind: directorysim.FaultHang, Process: true},
		{Kind: directorysim.FaultTruncatedBody},
		{Kind: directorysim.FaultStatus, Status: 500},
		{Kind: directorysim.FaultNonJSON},
	} {
		s.SetFault(f)
		outs = append(outs, selfChange(c, aliceDN, pw1, "", pw2), bind(c, aliceDN, pw1, true))
	}
	text := logs.String()
	for _, o := range outs {
		text += "\n" + o.Diagnostic + "\n" + o.MatchedDN
		if o.Validation != nil {
			for _, r := range o.Validation.Results {
				if r.AdditionalInfo != nil {
					text += *r.AdditionalInfo
				}
			}
		}
	}
	if !strings.Contains(logs.String(), "PingDirectory request") {
		t.Fatal("nothing was logged; the check would be vacuous")
	}
	for _, pw := range []string{pw1, pw2, pw3, adminPW, bobPW, "SECRET"} {
		if strings.Contains(text, pw) {
			t.Fatalf("%q leaked into:\n%s", pw, text)
		}
	}
}

func newClientNoLog(t *testing.T, u string) *Client {
	c, _ := newClient(t, u, nil)
	return c
}
