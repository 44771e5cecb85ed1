package main

import (
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// TestBindCache runs the real binary with and without bind_cache and counts
// the binds that reach the PingDirectory simulator.
func TestBindCache(t *testing.T) {
	for _, enabled := range []bool{false, true} {
		name := map[bool]string{false: "off", true: "on"}[enabled]
		t.Run(name, func(t *testing.T) {
			pd, sim := ftDirectory(t, false)
			cfg := ftConfig{LDAP: freeAddr(t), PD: sim.url}
			extra := ""
			if enabled {
				extra = "bind_cache:\n  enabled: true\n  ttl: 1m\n"
			}
			admin := freeAddr(t)
			y := strings.Replace(cfg.yaml(), "admin:\n  address: \"\"\n", "admin:\n  address: \""+admin+"\"\n", 1)
			ftServe(t, ftWrite(t, filepath.Join(t.TempDir(), "ldapbridge.yaml"), y+extra))
			bind := func(pw string) error {
				c, err := ldap.DialURL("ldap://"+cfg.LDAP, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close()
				return c.Bind(demoBobDN, pw)
			}
			before := pd.Requests()
			for i := 0; i < 3; i++ {
				if err := bind(demoBobPW); err != nil {
					t.Fatalf("bind %d: %v", i, err)
				}
			}
			want := int64(3)
			if enabled {
				want = 1
			}
			if got := pd.Requests() - before; got != want {
				t.Fatalf("3 binds made %d backend requests, want %d", got, want)
			}
			hits := map[bool]string{false: "ldapbridge_bind_cache_hits_total 0\n", true: "ldapbridge_bind_cache_hits_total 2\n"}[enabled]
			if m := scrape(t, admin); !strings.Contains(m, hits) {
				t.Fatalf("/metrics lacks %q:\n%s", hits, grepLines(m, "bind_cache"))
			}
			// A wrong password is never answered from the cache.
			before = pd.Requests()
			if err := bind("Wrong-Passw0rd1"); resultCode(err) != ldap.LDAPResultInvalidCredentials {
				t.Fatalf("wrong password: %v", err)
			}
			if pd.Requests() == before {
				t.Fatalf("a wrong password did not reach the backend")
			}
			// A change through the bridge drops the cached bind at once.
			c, err := ldap.DialURL("ldap://" + cfg.LDAP)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if err := c.Bind(demoBobDN, demoBobPW); err != nil {
				t.Fatal(err)
			}
			if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", demoBobPW, "Cached-Passw0rd2")); err != nil {
				t.Fatal(err)
			}
			if err := bind(demoBobPW); resultCode(err) != ldap.LDAPResultInvalidCredentials {
				t.Fatalf("the old password still binds after the change: %v", err)
			}
			if err := bind("Cached-Passw0rd2"); err != nil {
				t.Fatalf("new password: %v", err)
			}
		})
	}
}

func scrape(t *testing.T, admin string) string {
	t.Helper()
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
