package pingone

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
)

func baseConfig() Config {
	return Config{Name: "p1", EnvironmentID: testEnv, Region: "com", ClientID: testClient, ClientSecret: bridge.SecretString(testSecret)}
}

func TestRegions(t *testing.T) {
	for _, region := range []string{"com", "ca", "eu", "com.au", "sg", "asia"} {
		cfg := baseConfig()
		cfg.Region = region
		c, err := New(cfg)
		if err != nil {
			t.Fatalf("%s: %v", region, err)
		}
		if want := "https://auth.pingone." + region + "/" + testEnv + "/as/token"; c.tokenURL != want {
			t.Errorf("%s: token URL %s, want %s", region, c.tokenURL, want)
		}
		if want := "https://api.pingone." + region + "/v1/environments/" + testEnv; c.apiBase != want {
			t.Errorf("%s: API base %s, want %s", region, c.apiBase, want)
		}
	}
	cfg := baseConfig()
	cfg.AuthURL, cfg.APIURL = "https://auth.example.net/", "https://api.example.net/v1/"
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if c.tokenURL != "https://auth.example.net/"+testEnv+"/as/token" || c.apiBase != "https://api.example.net/v1/environments/"+testEnv {
		t.Errorf("explicit URLs: %s, %s", c.tokenURL, c.apiBase)
	}
}

func TestConfigErrors(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	os.WriteFile(caFile, []byte("not a certificate"), 0o600)
	tests := []struct {
		name   string
		modify func(*Config)
		want   string
	}{
		{"no environment", func(c *Config) { c.EnvironmentID = "" }, "environment id is required"},
		{"environment with a slash", func(c *Config) { c.EnvironmentID = "a/b" }, "not a PingOne id"},
		{"no client id", func(c *Config) { c.ClientID = "" }, "client id is required"},
		{"no secret", func(c *Config) { c.ClientSecret = bridge.Secret{} }, "client secret is required"},
		{"bad region", func(c *Config) { c.Region = "us" }, `region "us"`},
		{"no region or URLs", func(c *Config) { c.Region = "" }, "a region or both"},
		{"bad URL", func(c *Config) { c.AuthURL, c.APIURL = "ftp://x", "https://y" }, "want an http(s) URL"},
		{"bad auth method", func(c *Config) { c.AuthMethod = "private_key_jwt" }, "auth method"},
		{"filter placeholder outside quotes", func(c *Config) { c.UserFilter = `username eq {uid}` }, "inside a quoted string"},
		{"filter without placeholder", func(c *Config) { c.UserFilter = `username eq "x"` }, "no {attribute}"},
		{"CA file without certificates", func(c *Config) { c.CAFile = caFile }, "no PEM certificate"},
		{"CA file missing", func(c *Config) { c.CAFile = caFile + ".missing" }, "read CA file"},
	}
	for _, tc := range tests {
		cfg := baseConfig()
		tc.modify(&cfg)
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", tc.name, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), testSecret) {
			t.Errorf("%s: the error shows the secret", tc.name)
		}
	}
	// Every problem is reported at once.
	_, err := New(Config{Region: "mars"})
	for _, frag := range []string{"environment id", "client id", "client secret", "region"} {
		if err == nil || !strings.Contains(err.Error(), frag) {
			t.Errorf("combined error %v lacks %q", err, frag)
		}
	}
}

func TestCheck(t *testing.T) {
	e := newEnv(t)
	if err := e.c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Check reads the policy afresh, whatever the cache holds.
	if n := e.requests(func() { e.c.Check(context.Background()) }); n != 1 {
		t.Errorf("Check made %d requests, want 1", n)
	}
	e.sim.Close()
	if err := e.c.Check(context.Background()); err == nil {
		t.Error("Check passed with PingOne down")
	}
}
