package simenv

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/users"
	"github.com/ldapbridge/ldapbridge/config"
)

// The LDIF's {SSHA} values are slapd's: SHA-1 of password and salt, then
// the salt, in base64; each verifies the user's first password.
func TestLDIFPasswordsVerify(t *testing.T) {
	var b bytes.Buffer
	if err := WriteLDIF(&b, 3); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(b.String(), "\n") {
		v, ok := strings.CutPrefix(line, "userPassword: {SSHA}")
		if !ok {
			continue
		}
		raw, err := base64.StdEncoding.DecodeString(v)
		if err != nil || len(raw) <= sha1.Size {
			t.Fatalf("bad SSHA value %q", v)
		}
		h := sha1.Sum(append([]byte(users.Password(n, 0)), raw[sha1.Size:]...))
		if !bytes.Equal(h[:], raw[:sha1.Size]) {
			t.Errorf("user %d: SSHA does not verify its password", n)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d passwords in the LDIF, want 3", n)
	}
	if err := WriteLDIF(&b, 0); err == nil {
		t.Error("0 users accepted")
	}
}

func TestStartRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{{Users: 0}, {Users: maxUsers + 1}, {Users: 1, Latency: -time.Second}} {
		if e, err := Start(o); err == nil {
			e.Close()
			t.Errorf("%+v accepted", o)
		}
	}
}

// The benchmark's bridge configuration is valid as the bridge reads it,
// with the searcher on both routes and the PingDirectory service account
// whose password file BridgeConfig writes.
func TestBridgeConfigParses(t *testing.T) {
	e, err := Start(Options{Users: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	dir := t.TempDir()
	yml, err := e.BridgeConfig(BridgeOptions{LDAPAddr: "127.0.0.1:0", SecretsDir: dir, Users: 2})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := config.Parse(yml, "bench"); err != nil {
		t.Fatalf("%v\n%s", err, yml)
	}
	for _, want := range []string{"searchers: [\"" + SearcherDN + "\"]", "dn: \"" + ServiceDN + "\"", "password_hash: \"$2a$04$"} {
		if n := strings.Count(string(yml), want); n == 0 {
			t.Errorf("configuration lacks %q:\n%s", want, yml)
		}
	}
	if strings.Contains(string(yml), ServicePassword) || strings.Contains(string(yml), SearcherPassword) {
		t.Error("a password is in the configuration itself")
	}
}
