package simenv

import (
	"bytes"
	"crypto/sha1"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/users"
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
