package config

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// FuzzParse: any input yields either a config or a non-empty Problems,
// never a panic or a hang, and no error text shows the secret.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	if example, err := os.ReadFile("../deploy/ldapbridge.example.yaml"); err == nil {
		f.Add(example)
	}
	for _, s := range []string{
		"", "---", "~", "[]", "a: b", "listeners: 5", "limits: *x", "a: &x [*x]",
		"listeners: [{name: l, address: \":1\", tls: ldaps}]",
		"routes: [{base: \"cn=a,,\", backend: x, admins: [a,b]}]",
		"backends: [{name: p, type: pingone, pingone: {region: ${P1_SECRET}, client_secret: ${NOPE}}}]",
		"log: {level: ${P1_SECRET}}\nlog: {}",
		"accounts: [{dn: cn=a, password_hash: \"$argon2id$v=19$m=1,t=1,p=1$AAAA$AAAA\"}]",
		"limits: {idle_timeout: 9999999999h, rate_per_ip: 1e999, max_connections: 0x7fffffffffffffff}",
		"\t- bad", "? [a]\n: b", "<<: {a: 1}", "a: !!binary aGVsbG8=", "a: !custom x",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := ParseWithOptions(data, "fuzz", ParseOptions{SkipFileChecks: true, LookupEnv: testEnv})
		if err == nil {
			if cfg == nil {
				t.Fatal("nil config and nil error")
			}
			// A valid config renders and parses back.
			out, yerr := cfg.YAML()
			if yerr != nil {
				t.Fatalf("YAML: %v", yerr)
			}
			if _, err := ParseWithOptions(out, "again", ParseOptions{SkipFileChecks: true, LookupEnv: testEnv}); err != nil {
				t.Fatalf("rendered config does not parse: %v\n%s", err, out)
			}
			return
		}
		if cfg != nil {
			t.Fatal("config and error both returned")
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("error without Problems: %v", err)
		}
		if strings.Contains(err.Error(), secretValue) {
			t.Fatalf("secret in error: %v", err)
		}
	})
}

// FuzzExpand: expansion never panics, leaves text without $ alone, and
// escapeString is its inverse.
func FuzzExpand(f *testing.F) {
	for _, s := range []string{"", "$", "$$", "${P1_SECRET}", "${", "${}", "a${P1_SECRET}b$$c$", "$${x}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out, used, err := expand(s, testEnv)
		if !strings.Contains(s, "$") && (out != s || used || err != nil) {
			t.Fatalf("expand(%q) = %q, %v, %v", s, out, used, err)
		}
		if err != nil && strings.Contains(err.Error(), secretValue) {
			t.Fatal("secret in error")
		}
		back, used, err := expand(escapeString(s), envOf(nil))
		if err != nil || used || back != s {
			t.Fatalf("expand(escape(%q)) = %q, %v, %v", s, back, used, err)
		}
	})
}
