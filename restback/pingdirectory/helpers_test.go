package pingdirectory

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
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

// fakeClock drives the simulator's policy durations.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// startSim runs a simulator with admin, alice and bob on 127.0.0.1.
func startSim(t *testing.T, p directorysim.Policy, clk *fakeClock) (*directorysim.Server, string) {
	t.Helper()
	cfg := directorysim.Config{Policy: p, Admins: []string{adminDN}}
	if clk != nil {
		cfg.Now = clk.Now
	}
	s := directorysim.New(cfg)
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

// logBuffer collects log output for the no-secrets checks.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func newClient(t *testing.T, baseURL string, mod func(*Config)) (*Client, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
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

// testCA makes a CA and a certificate for 127.0.0.1 signed by it, and
// writes the CA to a PEM file.
func testCA(t *testing.T) (caFile string, leaf tls.Certificate) {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ldapbridge test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(time.Hour),
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caFile = filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o600); err != nil {
		t.Fatal(err)
	}
	return caFile, tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// quietLog keeps expected TLS handshake failures out of the test output.
func quietLog() *log.Logger { return log.New(io.Discard, "", 0) }
