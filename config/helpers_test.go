package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/internal/testkit"
)

// secretValue is what P1_SECRET holds in tests; no error text may contain it.
const secretValue = "p1-secret-value-Zq9"

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		v, ok := m[k]
		return v, ok
	}
}

var testEnv = envOf(map[string]string{"P1_SECRET": secretValue})

// base is a valid configuration whose "# spare" lines the problem cases
// replace with one line each, so every other line keeps its number.
const base = `listeners:
  - name: ldap
    address: 127.0.0.1:1389
    # spare 4
backends:
  - name: p1
    type: pingone
    pingone:
      environment_id: 5caa81af-ec05-41ff-a709-c7378007a99c
      region: eu
      client_id: app
      client_secret: ${P1_SECRET}
      # spare 13
  - name: pd
    type: pingdirectory
    pingdirectory:
      url: https://pd.example.com:1443
    # spare 18
routes:
  - base: ou=people,dc=example,dc=com
    backend: p1
    # spare 22
  - base: ou=staff,dc=example,dc=com
    backend: pd
    # spare 25
accounts:
  - dn: cn=svc,dc=example,dc=com
    password_hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
log:
  level: info
# spare 31
`

// edit replaces lines of base (1-based); a replacement may span several
// lines, which shifts the lines after it.
func edit(src string, edits map[int]string) string {
	lines := strings.Split(src, "\n")
	for n, repl := range edits {
		lines[n-1] = repl
	}
	return strings.Join(lines, "\n")
}

func parse(t *testing.T, src string, opts ParseOptions) (*Config, Problems) {
	t.Helper()
	if opts.LookupEnv == nil {
		opts.LookupEnv = testEnv
	}
	cfg, err := ParseWithOptions([]byte(src), "test.yaml", opts)
	if err == nil {
		if cfg == nil {
			t.Fatal("nil config and nil error")
		}
		return cfg, nil
	}
	if cfg != nil {
		t.Fatalf("config and error both returned: %v", err)
	}
	var ps Problems
	if !errors.As(err, &ps) || len(ps) == 0 {
		t.Fatalf("error %v (%T) does not wrap Problems", err, err)
	}
	if !strings.HasPrefix(err.Error(), "config test.yaml: ") {
		t.Errorf("error does not name the configuration: %q", err.Error())
	}
	return nil, ps
}

func mustParse(t *testing.T, src string, opts ParseOptions) *Config {
	t.Helper()
	cfg, ps := parse(t, src, opts)
	if ps != nil {
		t.Fatalf("unexpected problems:\n%v", ps)
	}
	return cfg
}

// writeFile writes content under dir and returns the path.
func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// selfSigned returns a PEM certificate and its PEM private key.
func selfSigned(t *testing.T) (certPEM, keyPEM string) {
	t.Helper()
	c := testkit.Cert(t, "ldapbridge.test")
	return string(c.CertPEM), string(c.KeyPEM)
}
