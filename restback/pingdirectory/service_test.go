package pingdirectory

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
)

// serviceReset is a reset the core authorised for someone who is not a
// user of this backend: no actor, the service credential acts.
func serviceReset(c *Client, target, newPW string) bridge.Outcome {
	return c.ChangePassword(context.Background(), bridge.ChangeRequest{Target: target, Kind: bridge.AdminReset, NewPassword: secret(newPW)})
}

// TestServiceAccountBearer: the OAuth 2 service credential, from client
// secret to token (the simulator's own token endpoint) to changePassword
// with "Authorization: Bearer"; the token is reused, and a refused token
// is an outage, never a wrong password, and is not sent again.
func TestServiceAccountBearer(t *testing.T) {
	s, u := startSim(t, simPolicy, nil)
	if err := s.AddClient("ldapbridge", "client-Secret-1", adminDN, "directory"); err != nil {
		t.Fatal(err)
	}
	withToken := func(secretText, scope string) *Client {
		c, _ := newClient(t, u, func(cfg *Config) {
			cfg.ServiceToken = &TokenConfig{URL: u + directorysim.TokenPath, ClientID: "ldapbridge", ClientSecret: secret(secretText), Scopes: strings.Fields(scope)}
		})
		return c
	}
	c := withToken("client-Secret-1", "directory")
	if out := serviceReset(c, aliceDN, "Reset-Pass-9"); out.Code != bridge.Success || !s.CheckPassword(aliceDN, "Reset-Pass-9") || !s.MustChange(aliceDN) {
		t.Fatalf("reset with a bearer token: %+v", out)
	}
	if out := serviceReset(c, bobDN, "Reset-Pass-8"); out.Code != bridge.Success {
		t.Fatalf("second reset: %+v", out)
	}
	if n := s.TokenRequests(); n != 1 {
		t.Errorf("%d token requests for two resets, want the token reused", n)
	}

	// A token PingDirectory no longer accepts: unavailable, one request,
	// and the next change fetches a new token.
	s.RevokeAllTokens()
	before := s.Requests()
	out := serviceReset(c, aliceDN, "Reset-Pass-7")
	if out.Code != bridge.Unavailable || !strings.Contains(out.Diagnostic, "service account") || s.CheckPassword(aliceDN, "Reset-Pass-7") {
		t.Fatalf("refused token: %+v", out)
	}
	if n := s.Requests() - before; n != 1 {
		t.Errorf("the change was sent %d times", n)
	}
	if out := serviceReset(c, aliceDN, "Reset-Pass-6"); out.Code != bridge.Success || s.TokenRequests() != 2 {
		t.Fatalf("after a new token: %+v (%d token requests)", out, s.TokenRequests())
	}

	// Wrong client secret, or a scope the client may not have: the
	// change is never sent.
	for _, bad := range []*Client{withToken("wrong", "directory"), withToken("client-Secret-1", "admin")} {
		before := s.Requests() - s.TokenRequests()
		out := serviceReset(bad, bobDN, "Reset-Pass-5")
		if out.Code != bridge.Unavailable || out.Code == bridge.InvalidCredentials {
			t.Fatalf("refused client: %+v", out)
		}
		if n := s.Requests() - s.TokenRequests() - before; n != 0 {
			t.Fatalf("%d API requests without a token", n)
		}
		if strings.Contains(out.Diagnostic, "client-Secret-1") || strings.Contains(out.Diagnostic, "127.0.0.1") {
			t.Fatalf("diagnostic shows a secret or an address: %q", out.Diagnostic)
		}
	}
}

// TestServiceAccountBasic: the Basic service credential acts for a reset
// with no actor; a wrong password is an outage, not invalidCredentials.
func TestServiceAccountBasic(t *testing.T) {
	s, u := startSim(t, simPolicy, nil)
	c, _ := newClient(t, u, func(cfg *Config) { cfg.AdminDN, cfg.AdminPassword = adminDN, secret(adminPW) })
	if out := serviceReset(c, aliceDN, "Reset-Pass-9"); out.Code != bridge.Success || !s.CheckPassword(aliceDN, "Reset-Pass-9") {
		t.Fatalf("%+v", out)
	}
	bad, _ := newClient(t, u, func(cfg *Config) { cfg.AdminDN, cfg.AdminPassword = adminDN, secret("not-it") })
	if out := serviceReset(bad, aliceDN, "Reset-Pass-8"); out.Code != bridge.Unavailable || s.CheckPassword(aliceDN, "Reset-Pass-8") {
		t.Fatalf("refused service account: %+v", out)
	}
}

// TestDiagnosticsScrubbed: a server diagnostic (or validation detail)
// that echoes a password in flight does not carry it to the client, the
// log or the audit (all read the Outcome).
func TestDiagnosticsScrubbed(t *testing.T) {
	const oldPW, newPW = "Old-Echoed-Pw1", "New-Echoed-Pw2"
	echo := `{"resultCode":{"value":19},"diagnosticMessage":"password New-Echoed-Pw2 rejected, old was Old-Echoed-Pw1 for Admin-Secret-1",` +
		`"matchedDN":"New-Echoed-Pw2",` +
		`"_controls":[{"oid":"1.3.6.1.4.1.30221.2.5.41","control-name":"x","criticality":false,"value-json":{"response-type":"validation-performed",` +
		`"validation-details":[{"password-quality-requirement":{"description":"not New-Echoed-Pw2","client-side-validation-type":"length"},` +
		`"requirement-satisfied":false,"additional-information":"Old-Echoed-Pw1 and New-Echoed-Pw2"}],"missing-current-password":false,"must-change-password":false}}]}`
	ts := newStaticServer(t, 400, "application/json", echo)
	c, logs := newClient(t, ts, nil)
	out := c.ChangePassword(context.Background(), bridge.ChangeRequest{
		Target: aliceDN, Kind: bridge.SelfChange, Actor: creds(adminDN, adminPW),
		OldPassword: secret(oldPW), NewPassword: secret(newPW),
	})
	if out.Code != bridge.ConstraintViolation {
		t.Fatalf("%+v", out)
	}
	text := out.Diagnostic + " " + out.MatchedDN
	if v := out.Validation; v != nil {
		for _, r := range v.Results {
			text += " " + r.Requirement.Description
			if r.AdditionalInfo != nil {
				text += " " + *r.AdditionalInfo
			}
		}
	} else {
		t.Fatalf("no validation details: %s", logs)
	}
	text += logs.String()
	for _, pw := range []string{oldPW, newPW, adminPW} {
		if strings.Contains(text, pw) {
			t.Errorf("%q reached the outcome or the log: %s", pw, text)
		}
	}
	if !strings.Contains(out.Diagnostic, "[REDACTED]") {
		t.Errorf("diagnostic %q", out.Diagnostic)
	}
}

// newStaticServer answers every request with one status and body.
func newStaticServer(t *testing.T, status int, ct, body string) string {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", ct)
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(ts.Close)
	return ts.URL
}

// dialFailer fails the first n round trips as a refused connection would.
type dialFailer struct {
	mu sync.Mutex
	n  int
}

func (d *dialFailer) RoundTrip(r *http.Request) (*http.Response, error) {
	d.mu.Lock()
	fail := d.n > 0
	d.n--
	d.mu.Unlock()
	if fail {
		return nil, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// The token request is a read: a connection that could not be made is
// tried again (the change itself is sent once).
func TestServiceTokenRedials(t *testing.T) {
	s, u := startSim(t, simPolicy, nil)
	if err := s.AddClient("ldapbridge", "client-Secret-1", adminDN); err != nil {
		t.Fatal(err)
	}
	// Two failures: the header attempt and the form attempt of the
	// first token request (the client probes both styles).
	c, _ := newClient(t, u, func(cfg *Config) {
		cfg.Transport = &dialFailer{n: 2}
		cfg.ServiceToken = &TokenConfig{URL: u + directorysim.TokenPath, ClientID: "ldapbridge", ClientSecret: secret("client-Secret-1")}
	})
	if out := serviceReset(c, aliceDN, "Reset-Pass-9"); out.Code != bridge.Success {
		t.Fatalf("%+v", out)
	}
}
