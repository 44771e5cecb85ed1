package pingone

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/confkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

func TestUserCacheBounded(t *testing.T) {
	e := newEnv(t, func(_ *pingonesim.Config, c *Config) { c.UserCacheSize = 2 })
	e.bind("alice", alicePW, noControls)
	e.bind("bob", bobPW, noControls)
	if n := e.requests(func() { e.bind("alice", alicePW, noControls) }); n != 1 {
		t.Errorf("cached alice: %d requests, want 1", n)
	}
	e.bind("carol", carolPW, noControls) // evicts bob, the least recently used
	if l := e.c.users.len(); l != 2 {
		t.Errorf("cache holds %d users, want 2", l)
	}
	if n := e.requests(func() { e.bind("alice", alicePW, noControls) }); n != 1 {
		t.Errorf("alice after carol: %d requests, want 1 (still cached)", n)
	}
	if n := e.requests(func() { e.bind("bob", bobPW, noControls) }); n != 2 {
		t.Errorf("bob after eviction: %d requests, want 2 (search again)", n)
	}
}

func TestUserCacheTTL(t *testing.T) {
	e := newEnv(t, func(_ *pingonesim.Config, c *Config) { c.UserCacheTTL = time.Minute })
	e.bind("alice", alicePW, noControls)
	if n := e.requests(func() { e.bind("alice", alicePW, noControls) }); n != 1 {
		t.Errorf("within TTL: %d requests, want 1", n)
	}
	e.clk.Advance(61 * time.Second)
	if n := e.requests(func() { e.bind("alice", alicePW, noControls) }); n != 2 {
		t.Errorf("after TTL: %d requests, want 2", n)
	}
}

func TestConcurrentLookupsCollapse(t *testing.T) {
	e := newEnv(t)
	if err := e.c.Check(context.Background()); err != nil { // token in hand
		t.Fatal(err)
	}
	// Slow answers make the lookups overlap.
	e.sim.SetLatency(300*time.Millisecond, 0)
	var wg sync.WaitGroup
	ids := make([]string, 10)
	n := e.requests(func() {
		for i := range ids {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ids[i], _ = e.c.ResolveUser(context.Background(), dn("alice"))
			}()
		}
		wg.Wait()
	})
	if n != 1 {
		t.Errorf("%d searches for 10 concurrent lookups, want 1", n)
	}
	for _, id := range ids {
		if id != e.ids["alice"] {
			t.Errorf("resolved %q, want %q", id, e.ids["alice"])
		}
	}
}

// Hostile uid values find no other user and change no other password.
func TestFilterInjection(t *testing.T) {
	e := newEnv(t)
	hostile := []string{
		`alice"`, `alice" or username eq "bob`, `x" or username eq "alice`, `alice)`, `*`, `ali*`,
		`\`, `alice\`, `alice\" or username eq \"bob`, `x or username eq alice`, `") or (username eq "alice`,
		`alice" and email eq "alice@example.com`, "alice\x00", "alice\n",
	}
	for _, uid := range hostile {
		d := "uid=" + ldap.EscapeDN(uid) + ",ou=people,dc=example,dc=com"
		out := e.c.Bind(context.Background(), bridge.BindRequest{DN: d, Password: e.secret(alicePW)})
		if out.Code != bridge.InvalidCredentials {
			t.Errorf("bind as %q: %v %q, want invalidCredentials", uid, out.Code, out.Diagnostic)
		}
		out = e.c.ChangePassword(context.Background(), bridge.ChangeRequest{
			Target: d, Kind: bridge.AdminReset, NewPassword: e.secret("Hijacked-Passw0rd!"), Route: bridge.RouteOptions{ForceChange: true},
		})
		if out.Code != bridge.NoSuchObject {
			t.Errorf("reset of %q: %v %q, want noSuchObject", uid, out.Code, out.Diagnostic)
		}
		if _, err := e.c.ResolveUser(context.Background(), d); err == nil {
			t.Errorf("%q resolved to a user", uid)
		}
	}
	for _, u := range []struct{ name, pw string }{{"alice", alicePW}, {"bob", bobPW}, {"carol", carolPW}} {
		if st, _ := e.sim.UserState(e.ids[u.name]); st.Status != "OK" {
			t.Errorf("%s's status became %s", u.name, st.Status)
		}
		if out := e.bind(u.name, u.pw, noControls); !out.OK() {
			t.Errorf("%s's password changed: %v", u.name, out.Code)
		}
	}
}

func TestFilterTemplate(t *testing.T) {
	ok := []struct{ tmpl, dn, want string }{
		{DefaultUserFilter, "uid=alice,dc=x", `username eq "alice"`},
		{`email eq "{mail}"`, "mail=a@b.c+uid=x,dc=x", `email eq "a@b.c"`},
		{`username eq "{uid}" or email eq "{uid}@example.com"`, "uid=bo\\\"b,dc=x", `username eq "bo\"b" or email eq "bo\"b@example.com"`},
		{`username eq "pre\"{cn}"`, "cn=a\\\\b,dc=x", `username eq "pre\"a\\b"`},
	}
	for _, tc := range ok {
		ft, err := parseFilterTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("%s: %v", tc.tmpl, err)
		}
		d, _ := ldap.ParseDN(tc.dn)
		got, err := ft.render(d)
		if err != nil || got != tc.want {
			t.Errorf("%s over %s = %q, %v; want %q", tc.tmpl, tc.dn, got, err, tc.want)
		}
	}
	for _, bad := range []string{`username eq {uid}`, `username eq "{uid}`, `username eq "alice"`, `username eq "{u id}"`, `username eq "{uid"`, `x eq "\`} {
		if _, err := parseFilterTemplate(bad); err == nil {
			t.Errorf("template %q accepted", bad)
		}
	}
	ft, _ := parseFilterTemplate(DefaultUserFilter)
	for _, d := range []string{"cn=alice,dc=x", "uid=,dc=x"} {
		pd, _ := ldap.ParseDN(d)
		if _, err := ft.render(pd); err == nil || !strings.Contains(err.Error(), "uid") {
			t.Errorf("render over %s: %v", d, err)
		}
	}
}

// user_cache.size: 0 turns the cache off, as the configuration documents:
// every bind looks its user up (it used to fall back to the default size).
func TestUserCacheSizeZeroIsOff(t *testing.T) {
	e := newEnv(t)
	for _, tc := range []struct {
		size       int
		wantSecond int64 // requests of a second bind of the same user
	}{{0, 2}, {5, 1}} {
		s := &Settings{}
		s.SetDefaults()
		s.EnvironmentID, s.AuthURL, s.APIURL = testEnv, e.url, e.url
		s.ClientID, s.ClientSecret = testClient, bridge.SecretString(testSecret)
		s.UserCache.Size = tc.size
		inst, err := s.Build(confkit.Env{Name: "p1", Timeout: 5 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		c := inst.(*Client)
		bindOnce := func() {
			if out := c.Bind(context.Background(), bridge.BindRequest{DN: dn("alice"), Password: bridge.SecretString(alicePW)}); !out.OK() {
				t.Fatalf("bind: %+v", out)
			}
		}
		bindOnce()
		before := e.sim.Requests()
		bindOnce()
		if n := e.sim.Requests() - before; n != tc.wantSecond {
			t.Errorf("user_cache.size %d: second bind made %d requests, want %d", tc.size, n, tc.wantSecond)
		}
		if tc.size == 0 && c.users.len() != 0 {
			t.Errorf("size 0 cached %d users", c.users.len())
		}
	}
}

// The identity rule: only uid={username},<base> names a user, the value
// compared exactly but for ASCII case, whatever the user search matched
// (the simulator's username match folds Unicode case, as a backend
// might). Every other spelling answers a bind as a wrong password does,
// and names nobody for a change; the canonical DN is the Outcome's Subject.
func TestCanonicalIdentity(t *testing.T) {
	e := newEnv(t)
	for _, u := range []string{"sam", "kate"} {
		if _, err := e.sim.AddUser(u, u+"@example.com", "Same-Passw0rd!1"); err != nil {
			t.Fatal(err)
		}
	}
	e.secrets = append(e.secrets, "Same-Passw0rd!1")
	people := bridge.RouteOptions{Base: "ou=people,dc=example,dc=com"}
	bind := func(d, pw string) bridge.Outcome {
		return e.c.Bind(context.Background(), bridge.BindRequest{DN: d, Password: e.secret(pw), Route: people})
	}
	for _, tc := range []struct{ dn, pw, subject string }{
		{"uid=alice,ou=people,dc=example,dc=com", alicePW, "uid=alice,ou=people,dc=example,dc=com"},
		{"UID=Alice , ou=People,DC=example,dc=com", alicePW, "uid=alice,ou=people,dc=example,dc=com"},
		{"uid=sam,ou=people,dc=example,dc=com", "Same-Passw0rd!1", "uid=sam,ou=people,dc=example,dc=com"},
	} {
		out := bind(tc.dn, tc.pw)
		if !out.OK() || out.Subject != tc.subject {
			t.Errorf("bind %q: %v subject %q, want success as %q", tc.dn, out.Code, out.Subject, tc.subject)
		}
	}
	for _, d := range []string{
		"uid=alice+cn=x,ou=people,dc=example,dc=com",
		"cn=alice,ou=people,dc=example,dc=com",
		"uid=\u017fam,ou=people,dc=example,dc=com",  // ſ is not s
		"uid=\u212aate,ou=people,dc=example,dc=com", // the Kelvin sign is not k
		"uid=alice@example.com,ou=people,dc=example,dc=com",
	} {
		pw := alicePW
		if !strings.Contains(d, "alice") {
			pw = "Same-Passw0rd!1"
		}
		out := bind(d, pw)
		want{code: bridge.InvalidCredentials, policy: bridge.PolicyErrorNone, quiet: true}.check(t, out)
		if out.Reason == "" {
			t.Errorf("bind %q: no reason for the audit record", d)
		}
		if ch := e.c.ChangePassword(context.Background(), bridge.ChangeRequest{Target: d, Kind: bridge.AdminReset,
			NewPassword: e.secret("Hijacked-Passw0rd!"), Route: people}); ch.Code != bridge.NoSuchObject {
			t.Errorf("reset of %q: %v %q, want noSuchObject", d, ch.Code, ch.Diagnostic)
		}
	}
	// The core's precheck refuses the shapes without a request.
	for _, tc := range []struct {
		dn   string
		ok   bool
		want string
	}{
		{"UID=Alice,OU=People,dc=example,dc=com", true, "uid=Alice,ou=people,dc=example,dc=com"},
		{"uid=alice,ou=x,ou=people,dc=example,dc=com", false, ""},
		{"uid=alice+cn=x,ou=people,dc=example,dc=com", false, ""},
		{"uid=alice,ou=staff,dc=example,dc=com", false, ""},
		{"uid=alice,ou=peop\u017fle,dc=example,dc=com", false, ""},
		{"uid=a\\,b,ou=people,dc=example,dc=com", true, "uid=a\\,b,ou=people,dc=example,dc=com"},
	} {
		d, err := bridge.ParseDN(tc.dn)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := e.c.CanonicalDN(d, people)
		if ok != tc.ok || got != tc.want {
			t.Errorf("CanonicalDN(%q) = %q, %v; want %q, %v", tc.dn, got, ok, tc.want, tc.ok)
		}
	}
}
