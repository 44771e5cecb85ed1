package main

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves a certificate from files and reloads it when the
// files change, so a renewed certificate (cert-manager, certbot) takes
// effect without a restart. A failed reload keeps the last good pair.
type certReloader struct {
	certFile, keyFile string
	log               *slog.Logger
	every             time.Duration
	// onLoad, when set, is told of each certificate loaded (for the
	// expiry gauge).
	onLoad func(*tls.Certificate)

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // modification times and sizes of the pair
	checked time.Time
}

func newCertReloader(certFile, keyFile string, log *slog.Logger, onLoad func(*tls.Certificate)) (*certReloader, error) {
	r := &certReloader{certFile: certFile, keyFile: keyFile, log: log, every: 2 * time.Second, onLoad: onLoad}
	if err := r.load(); err != nil {
		return nil, err
	}
	return r, nil
}

func fileStamp(paths ...string) string {
	s := ""
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return s
}

func (r *certReloader) load() error {
	stamp := fileStamp(r.certFile, r.keyFile)
	c, err := tls.LoadX509KeyPair(r.certFile, r.keyFile)
	if err != nil {
		return fmt.Errorf("load certificate %s: %w", r.certFile, err)
	}
	r.cert, r.stamp = &c, stamp
	if r.onLoad != nil {
		r.onLoad(r.cert)
	}
	return nil
}

// certNotAfter is when the leaf certificate of c expires (the zero time
// when it cannot be parsed, which tls.LoadX509KeyPair has already ruled
// out).
func certNotAfter(c *tls.Certificate) time.Time {
	if c.Leaf != nil {
		return c.Leaf.NotAfter
	}
	if len(c.Certificate) == 0 {
		return time.Time{}
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return time.Time{}
	}
	return leaf.NotAfter
}

// GetCertificate is the tls.Config callback: it looks at the files at most
// every r.every and reloads them when they changed.
func (r *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := time.Now(); now.Sub(r.checked) >= r.every {
		r.checked = now
		if fileStamp(r.certFile, r.keyFile) != r.stamp {
			if err := r.load(); err != nil {
				r.log.Error("certificate reload failed; keeping the previous one", "cert_file", r.certFile, "err", err)
			} else {
				r.log.Info("certificate reloaded", "cert_file", r.certFile)
			}
		}
	}
	return r.cert, nil
}

// serverTLS is the TLS configuration of a listener.
func serverTLS(r *certReloader, minVersion uint16) *tls.Config {
	return &tls.Config{
		MinVersion:     minVersion,
		GetCertificate: r.GetCertificate,
		// Go's default suites for TLS 1.2 are all AEAD with forward
		// secrecy; TLS 1.3 suites are not configurable.
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256, tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384, tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256, tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
		},
	}
}
