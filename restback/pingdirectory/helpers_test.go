package pingdirectory

import (
	"context"
	"crypto/tls"
	"io"
	"log"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/internal/testkit/simkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
)

const (
	people  = "ou=People,dc=example,dc=com"
	adminDN = "cn=admin,dc=example,dc=com"
	adminPW = "Admin-Secret-1"
	aliceDN = "uid=alice," + people
	alicePW = "Alice-Secret-1"
	bobDN   = "uid=bob," + people
	bobPW   = "Bob-Secret-1"
)

var simPolicy = directorysim.Policy{
	MinLength: 8, MinDigits: 1, MinUpper: 1, MinLower: 1,
	History: 3, LockoutFailures: 3, LockoutDuration: time.Hour,
}

// newFakeClock drives the simulator's policy durations.
func newFakeClock() *testkit.Clock {
	return testkit.NewClock(time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC))
}

// startSim runs a simulator with admin, alice and bob on 127.0.0.1.
func startSim(t *testing.T, p directorysim.Policy, clk *testkit.Clock) (*directorysim.Server, string) {
	t.Helper()
	cfg := directorysim.Config{Policy: p, Admins: []string{adminDN}}
	if clk != nil {
		cfg.Now = clk.Now
	}
	return simkit.Directory(t, cfg, map[string]string{adminDN: adminPW, aliceDN: alicePW, bobDN: bobPW})
}

func newClient(t *testing.T, baseURL string, mod func(*Config)) (*Client, *testkit.LogBuffer) {
	t.Helper()
	logs := &testkit.LogBuffer{}
	cfg := Config{
		Name:    "pd-test",
		BaseURL: baseURL,
		Timeout: 2 * time.Second,
		Logger:  slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c, logs
}

func secret(s string) bridge.Secret { return bridge.SecretString(s) }

func creds(dn, pw string) bridge.Credentials { return bridge.Credentials{DN: dn, Password: secret(pw)} }

func bind(c *Client, dn, pw string, ppolicy bool) bridge.Outcome {
	return c.Bind(context.Background(), bridge.BindRequest{
		DN: dn, Password: secret(pw), Controls: bridge.RequestControls{PasswordPolicy: ppolicy},
	})
}

// selfChange is a change by a session bound as the target.
func selfChange(c *Client, dn, pw, oldPW, newPW string) bridge.Outcome {
	return c.ChangePassword(context.Background(), bridge.ChangeRequest{
		Target: dn, Kind: bridge.SelfChange, Actor: creds(dn, pw),
		OldPassword: secretOrZero(oldPW), NewPassword: secretOrZero(newPW),
	})
}

func reset(c *Client, actor, actorPW, target, newPW string) bridge.Outcome {
	return c.ChangePassword(context.Background(), bridge.ChangeRequest{
		Target: target, Kind: bridge.AdminReset, Actor: creds(actor, actorPW), NewPassword: secretOrZero(newPW),
	})
}

func secretOrZero(s string) bridge.Secret {
	if s == "" {
		return bridge.Secret{}
	}
	return secret(s)
}

// testCA makes a self-signed certificate for 127.0.0.1, which serves as
// its own CA, and writes it to a PEM file for ca_file.
func testCA(t *testing.T) (caFile string, leaf tls.Certificate) {
	t.Helper()
	c := testkit.Cert(t, "127.0.0.1")
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, c.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, c.TLSCertificate()
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// quietLog keeps expected TLS handshake failures out of the test output.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
