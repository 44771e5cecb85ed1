package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// runBin runs the binary to completion.
func runBin(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(binPath, args...).CombinedOutput()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return string(out), code
}

func TestPingOneSetGateway(t *testing.T) {
	sim := pingonesim.New(pingonesim.Config{EnvironmentID: demoEnvID, ClientID: demoClientID, ClientSecret: demoClientSecret})
	ids := map[string]string{}
	for _, u := range []string{"alice", "carol"} {
		id, err := sim.AddUser(u, u+"@example.com", "Some-Passw0rd!")
		if err != nil {
			t.Fatal(err)
		}
		ids[u] = id
	}
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ldapbridge.yaml")
	os.WriteFile(cfg, []byte(`listeners:
  - name: ldap
    address: 127.0.0.1:0
backends:
  - name: p1
    type: pingone
    pingone:
      environment_id: `+demoEnvID+`
      auth_url: `+url+`
      api_url: `+url+`/v1
      client_id: `+demoClientID+`
      client_secret: `+demoClientSecret+`
routes:
  - base: ou=people,dc=example,dc=com
    backend: p1
    gateway:
      id: 0b3c6d0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f
      user_type_id: 9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d
      correlation: {uid: "{uid}"}
admin:
  address: ""
`), 0o600)
	dns := filepath.Join(dir, "dns.txt")
	os.WriteFile(dns, []byte("# two users and one that does not exist\nuid=alice,ou=people,dc=example,dc=com\nuid=carol,ou=people,dc=example,dc=com\n\nuid=nobody,ou=people,dc=example,dc=com\n"), 0o600)

	out, code := runBin(t, "pingone", "set-gateway", "--config", cfg, "--file", dns, "--dry-run")
	if code != 1 || !strings.Contains(out, "summary: 3 DNs: 2 to change, 0 changed, 1 failed, 0 skipped (dry run: nothing changed)") || !strings.Contains(out, "would set\tuid=alice,ou=people,dc=example,dc=com") {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if st, _ := sim.UserState(ids["alice"]); st.Status == "EXTERNAL" {
		t.Fatalf("dry run changed alice")
	}

	out, code = runBin(t, "pingone", "set-gateway", "--config", cfg, "--dn", "uid=alice,ou=people,dc=example,dc=com")
	if code != 0 || !strings.Contains(out, "summary: 1 DNs: 0 to change, 1 changed, 0 failed, 0 skipped\n") {
		t.Fatalf("set: exit %d\n%s", code, out)
	}
	st, err := sim.UserState(ids["alice"])
	if err != nil || st.Status != "EXTERNAL" || st.Gateway != "0b3c6d0e-1a2b-4c3d-8e9f-0a1b2c3d4e5f" || st.CorrelationAttributes["uid"] != "alice" {
		t.Fatalf("alice after set-gateway: %+v %v", st, err)
	}
	if st, _ := sim.UserState(ids["carol"]); st.Status == "EXTERNAL" {
		t.Fatalf("carol changed too")
	}

	// A DN outside any route, and bad usage.
	out, code = runBin(t, "pingone", "set-gateway", "--config", cfg, "--dn", "uid=x,dc=other")
	if code != 1 || !strings.Contains(out, "no route serves this DN") {
		t.Fatalf("unrouted: exit %d\n%s", code, out)
	}
	if _, code = runBin(t, "pingone", "set-gateway", "--config", cfg); code != 2 {
		t.Fatalf("no DNs: exit %d", code)
	}
}

func TestCLIBasics(t *testing.T) {
	out, code := runBin(t, "version")
	if code != 0 || !strings.HasPrefix(out, "ldapbridge ") {
		t.Fatalf("version: %d %q", code, out)
	}
	if _, code = runBin(t, "no-such-command"); code != 2 {
		t.Fatalf("unknown command: exit %d", code)
	}
	if _, code = runBin(t, "serve"); code != 2 {
		t.Fatalf("serve without --config: exit %d", code)
	}
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("listeners:\n  - name: ldap\n    address: nowhere\n    bogus: 1\nroutes: []\n"), 0o600)
	out, code = runBin(t, "check-config", "--config", bad)
	if code != 1 || !strings.Contains(out, "line 3") || !strings.Contains(out, "line 4") {
		t.Fatalf("check-config of a bad file: exit %d\n%s", code, out)
	}
}
