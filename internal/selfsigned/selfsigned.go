// Package selfsigned makes self-signed TLS certificates: the demo's
// listeners, the benchmark's simulators and the tests all need one, and
// one generator keeps them alike (ECDSA P-256, server authentication, a
// random serial, valid from an hour ago so that a clock a little behind
// still accepts it).
package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"time"
)

// Options shape a certificate. The zero value is a certificate for
// 127.0.0.1, ::1 and localhost, valid for a week.
type Options struct {
	CommonName   string   // default "ldapbridge"
	Organization []string // none by default
	// Hosts are the DNS names and IP addresses the certificate is for;
	// default 127.0.0.1, ::1 and localhost.
	Hosts []string
	// ValidFor is how long after now the certificate stays valid;
	// default 7 days.
	ValidFor time.Duration
	// Now is the time the validity is counted from; default time.Now.
	Now func() time.Time
	// Issuer, when set, signs the certificate instead of its own key: a
	// server certificate (not a CA) under a test certificate authority,
	// which a client trusts through the issuer alone.
	Issuer *Cert
}

// Cert is a generated certificate and its key.
type Cert struct {
	CertPEM, KeyPEM []byte // "CERTIFICATE" and "PRIVATE KEY" (PKCS #8) blocks
	DER             []byte // the certificate
	Leaf            *x509.Certificate
	Key             *ecdsa.PrivateKey
	issuer          *Cert
}

// New makes a self-signed certificate. It is marked as a CA (with
// certificate signing among its key usages) because clients that are given
// it as their trust anchor (OpenLDAP's TLS_CACERT, ca_file) want one.
func New(o Options) (*Cert, error) {
	if o.CommonName == "" {
		o.CommonName = "ldapbridge"
	}
	if o.Hosts == nil {
		o.Hosts = []string{"127.0.0.1", "::1", "localhost"}
	}
	if o.ValidFor <= 0 {
		o.ValidFor = 7 * 24 * time.Hour
	}
	now := time.Now()
	if o.Now != nil {
		now = o.Now()
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: serial: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: o.CommonName, Organization: o.Organization},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(o.ValidFor),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	for _, h := range o.Hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	parent, signer := tmpl, key
	if o.Issuer != nil {
		tmpl.IsCA = false
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		parent, signer = o.Issuer.Leaf, o.Issuer.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: create: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: parse: %w", err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("self-signed certificate: key: %w", err)
	}
	return &Cert{
		CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		DER:     der,
		Leaf:    leaf,
		Key:     key,
		issuer:  o.Issuer,
	}, nil
}

// TLSCertificate is the certificate and key for a tls.Config; the chain
// holds the issuers' certificates after the certificate's own.
func (c *Cert) TLSCertificate() tls.Certificate {
	chain := [][]byte{c.DER}
	for i := c.issuer; i != nil; i = i.issuer {
		chain = append(chain, i.DER)
	}
	return tls.Certificate{Certificate: chain, PrivateKey: c.Key, Leaf: c.Leaf}
}

// Pool is a certificate pool that trusts only this certificate.
func (c *Cert) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.Leaf)
	return p
}

// WriteFiles writes the certificate (mode 0644) and the key (mode 0600)
// as PEM.
func (c *Cert) WriteFiles(certFile, keyFile string) error {
	if err := os.WriteFile(certFile, c.CertPEM, 0o644); err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	if err := os.WriteFile(keyFile, c.KeyPEM, 0o600); err != nil {
		return fmt.Errorf("self-signed certificate: %w", err)
	}
	return nil
}
