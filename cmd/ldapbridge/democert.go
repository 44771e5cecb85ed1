package main

import (
	"fmt"
	"path/filepath"

	"github.com/ldapbridge/ldapbridge/internal/selfsigned"
)

// writeDemoCert makes a self-signed certificate for 127.0.0.1, ::1 and
// localhost, valid for a week, and writes it and its key into dir.
func writeDemoCert(dir string) (certFile, keyFile string, err error) {
	c, err := selfsigned.New(selfsigned.Options{CommonName: "ldapbridge demo", Organization: []string{"ldapbridge"}})
	if err != nil {
		return "", "", fmt.Errorf("demo certificate: %w", err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := c.WriteFiles(certFile, keyFile); err != nil {
		return "", "", fmt.Errorf("demo certificate: %w", err)
	}
	return certFile, keyFile, nil
}
