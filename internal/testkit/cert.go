package testkit

import (
	"crypto/tls"
	"path/filepath"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/selfsigned"
)

// Cert is a self-signed certificate for hosts (default 127.0.0.1, ::1
// and localhost): the same generator as the demo's.
func Cert(t testing.TB, hosts ...string) *selfsigned.Cert {
	t.Helper()
	c, err := selfsigned.New(selfsigned.Options{CommonName: "ldapbridge test", Hosts: hosts})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TLSPair is a server configuration serving a fresh certificate for
// 127.0.0.1 and a client configuration that trusts it, and only it.
func TLSPair(t testing.TB) (server, client *tls.Config) {
	t.Helper()
	c := Cert(t, "127.0.0.1")
	pair := c.TLSCertificate()
	server = &tls.Config{GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return &pair, nil }}
	client = &tls.Config{RootCAs: c.Pool(), ServerName: "127.0.0.1"}
	return server, client
}

// CertFiles writes a fresh certificate for 127.0.0.1, ::1 and localhost
// into a new temporary directory and returns the file names and the
// certificate.
func CertFiles(t testing.TB) (certFile, keyFile string, c *selfsigned.Cert) {
	t.Helper()
	c = Cert(t)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := c.WriteFiles(certFile, keyFile); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, c
}
