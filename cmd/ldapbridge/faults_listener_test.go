package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"net"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// The listener's security settings, end to end.

// ftCAPool trusts the self-signed certificate der.
func ftCAPool(t *testing.T, der []byte) *x509.CertPool {
	t.Helper()
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(c)
	return pool
}

// TestCleartextRefuse: a listener with cleartext: refuse refuses binds and
// password changes without TLS even from loopback, before any backend
// sees the password, and serves them after StartTLS.
func TestCleartextRefuse(t *testing.T) {
	_, pdb := ftDirectory(t, false)
	cert, key, der := ftCertPair(t)
	addr := freeAddr(t)
	cfg := ftConfig{LDAP: addr, TLS: "starttls", Cert: cert, Key: key, Cleartext: "refuse", PD: pdb.url}
	p := ftServe(t, ftWrite(t, filepath.Join(t.TempDir(), "ldapbridge.yaml"), cfg.yaml()))
	url := "ldap://" + addr
	const refused = "ldap_bind: Confidentiality required (13)\n\tadditional info: a bind with a password needs TLS on this connection\n"

	before := pdb.snapshot()
	for _, args := range [][]string{
		{"ldapwhoami", "-x", "-H", url, "-D", demoBobDN, "-w", demoBobPW},
		{"ldappasswd", "-x", "-H", url, "-D", demoBobDN, "-w", demoBobPW, "-s", "Cleartext-Passw0rd1"},
	} {
		out, errOut, code := tool(t, nil, args[0], args[1:]...)
		if code != 13 || out != "" || errOut != refused {
			t.Errorf("%s over cleartext: exit %d stdout %q stderr %q, want exit 13 and stderr %q", args[0], code, out, errOut, refused)
		}
	}
	c := ftDial(t, addr)
	if err := c.Bind(demoBobDN, demoBobPW); ftErr(err) != "13: a bind with a password needs TLS on this connection" {
		t.Errorf("go-ldap bind over cleartext: %s", ftErr(err))
	}
	if d := pdb.delta(before); len(d) != 0 {
		t.Errorf("refused cleartext binds reached the backend: %v", d)
	}

	// The same, after StartTLS with the listener's certificate verified.
	env := []string{"LDAPTLS_CACERT=" + cert, "LDAPTLS_REQCERT=demand"}
	out, errOut, code := tool(t, env, "ldapwhoami", "-x", "-ZZ", "-H", url, "-D", demoBobDN, "-w", demoBobPW)
	if code != 0 || out != "dn:"+demoBobDN+"\n" || errOut != "" {
		t.Errorf("ldapwhoami -ZZ: exit %d stdout %q stderr %q", code, out, errOut)
	}
	out, errOut, code = tool(t, env, "ldappasswd", "-x", "-ZZ", "-H", url, "-D", demoBobDN, "-w", demoBobPW, "-s", "Over-Tls-Passw0rd1")
	if code != 0 || out != "" || errOut != "" {
		t.Errorf("ldappasswd -ZZ: exit %d stdout %q stderr %q", code, out, errOut)
	}
	if err := c.StartTLS(&tls.Config{RootCAs: ftCAPool(t, der), ServerName: "127.0.0.1"}); err != nil {
		t.Fatalf("go-ldap StartTLS: %v", err)
	}
	if err := c.Bind(demoBobDN, "Over-Tls-Passw0rd1"); err != nil {
		t.Errorf("go-ldap bind after StartTLS: %s", ftErr(err))
	}
	ftNoSecrets(t, p, demoBobPW, "Over-Tls-Passw0rd1", "Cleartext-Passw0rd1")
}

// TestCertificateReload: new certificate and key files are served on new
// connections within a few seconds, without a restart.
func TestCertificateReload(t *testing.T) {
	_, pdb := ftDirectory(t, false)
	cert, key, der1 := ftCertPair(t)
	cert2, key2, der2 := ftCertPair(t)
	ldapsAddr := freeAddr(t)
	cfg := ftConfig{LDAP: freeAddr(t), LDAPS: ldapsAddr, TLS: "starttls", Cert: cert, Key: key, PD: pdb.url}
	p := ftServe(t, ftWrite(t, filepath.Join(t.TempDir(), "ldapbridge.yaml"), cfg.yaml()))

	served := func(roots *x509.CertPool) ([]byte, error) {
		conf := &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"}
		if roots == nil {
			conf.InsecureSkipVerify = true // only to see which certificate is served
		}
		conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ldapsAddr, conf)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].Raw, nil
	}
	if got, err := served(ftCAPool(t, der1)); err != nil || !bytes.Equal(got, der1) {
		t.Fatalf("before the renewal: %v (the first certificate served: %t)", err, bytes.Equal(got, der1))
	}

	// Renew: the key first, then the certificate, each replaced at once,
	// as cert-manager and certbot do.
	ftCopy(t, key2, key)
	ftCopy(t, cert2, cert)
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, err := served(nil)
		if err == nil && bytes.Equal(got, der2) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the new certificate was not served within 20s (err %v); log:\n%s", err, p.Stderr)
		}
		time.Sleep(200 * time.Millisecond)
	}
	ftWaitLog(t, p, "certificate reloaded")

	// A client that trusts only the new certificate binds over LDAPS.
	c, err := ldap.DialURL("ldaps://"+ldapsAddr, ldap.DialWithTLSConfig(&tls.Config{RootCAs: ftCAPool(t, der2), ServerName: "127.0.0.1"}))
	if err != nil {
		t.Fatalf("LDAPS with the new certificate: %v", err)
	}
	defer c.Close()
	if err := c.Bind(demoBobDN, demoBobPW); err != nil {
		t.Fatalf("bind over LDAPS after the renewal: %s", ftErr(err))
	}
	select {
	case <-p.Done:
		t.Fatalf("ldapbridge exited: %v", p.Err)
	default:
	}
}
