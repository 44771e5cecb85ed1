package selfsigned

import (
	"crypto/tls"
	"crypto/x509"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDefaultsServeLoopback(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost"} {
		if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: c.Pool(),
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("%s: %v", host, err)
		}
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "example.com", Roots: c.Pool()}); err == nil {
		t.Error("the certificate verifies for example.com")
	}
	if !c.Leaf.IsCA || c.Leaf.Subject.CommonName != "ldapbridge" {
		t.Errorf("IsCA %v, CN %q", c.Leaf.IsCA, c.Leaf.Subject.CommonName)
	}
	if d := time.Until(c.Leaf.NotAfter); d < 6*24*time.Hour || d > 7*24*time.Hour {
		t.Errorf("valid for %v more, want about a week", d)
	}
	if !c.Leaf.NotBefore.Before(time.Now()) {
		t.Errorf("not valid yet: %v", c.Leaf.NotBefore)
	}
}

func TestOptions(t *testing.T) {
	start := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	c, err := New(Options{CommonName: "demo", Organization: []string{"org"}, Hosts: []string{"svc.test", "10.0.0.1"},
		ValidFor: time.Hour, Now: func() time.Time { return start }})
	if err != nil {
		t.Fatal(err)
	}
	l := c.Leaf
	if l.Subject.CommonName != "demo" || len(l.Subject.Organization) != 1 || l.Subject.Organization[0] != "org" {
		t.Errorf("subject %v", l.Subject)
	}
	if len(l.DNSNames) != 1 || l.DNSNames[0] != "svc.test" || len(l.IPAddresses) != 1 || l.IPAddresses[0].String() != "10.0.0.1" {
		t.Errorf("names %v %v", l.DNSNames, l.IPAddresses)
	}
	if !l.NotAfter.Equal(start.Add(time.Hour)) || !l.NotBefore.Equal(start.Add(-time.Hour)) {
		t.Errorf("validity %v .. %v", l.NotBefore, l.NotAfter)
	}
	// Two certificates never share a serial.
	d, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Leaf.SerialNumber.Cmp(l.SerialNumber) == 0 {
		t.Error("two certificates with one serial")
	}
}

func TestWriteFilesLoadAsAPair(t *testing.T) {
	c, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cf, kf := filepath.Join(dir, "c.pem"), filepath.Join(dir, "k.pem")
	if err := c.WriteFiles(cf, kf); err != nil {
		t.Fatal(err)
	}
	pair, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	if string(pair.Certificate[0]) != string(c.DER) {
		t.Error("the written certificate is not the generated one")
	}
	if fi, err := os.Stat(kf); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v (%v), want 0600", fi.Mode(), err)
	}
	if err := c.WriteFiles(filepath.Join(dir, "no", "c.pem"), kf); err == nil {
		t.Error("writing into a missing directory succeeded")
	}
	// TLSCertificate is the same pair, ready for a tls.Config.
	tc := c.TLSCertificate()
	if tc.Leaf != c.Leaf || string(tc.Certificate[0]) != string(c.DER) {
		t.Error("TLSCertificate differs")
	}
}

// A certificate with an Issuer is a server certificate under it: trusted
// through the issuer alone, not a CA, sent with the issuer in its chain.
func TestIssuer(t *testing.T) {
	ca, err := New(Options{CommonName: "test root"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{CommonName: "localhost", Issuer: ca})
	if err != nil {
		t.Fatal(err)
	}
	if c.Leaf.IsCA || c.Leaf.KeyUsage&x509.KeyUsageCertSign != 0 || c.Leaf.Issuer.CommonName != "test root" {
		t.Errorf("IsCA %v, key usage %v, issuer %v", c.Leaf.IsCA, c.Leaf.KeyUsage, c.Leaf.Issuer)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: ca.Pool(),
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Errorf("not trusted through its issuer: %v", err)
	}
	other, err := New(Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Leaf.Verify(x509.VerifyOptions{DNSName: "127.0.0.1", Roots: other.Pool()}); err == nil {
		t.Error("trusted through another root")
	}
	chain := c.TLSCertificate().Certificate
	if len(chain) != 2 || string(chain[0]) != string(c.DER) || string(chain[1]) != string(ca.DER) {
		t.Errorf("chain of %d certificates, want the certificate then its issuer", len(chain))
	}
}
