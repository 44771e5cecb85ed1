package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// The Update Password (LDAP Gateway) page's "unset the user password" form
// ({}) through "ldapbridge pingone set-gateway --unset-password", against
// the simulator, by the real binary. The route has no gateway: none is
// needed to unset a password.
func TestPingOneSetGatewayUnsetPassword(t *testing.T) {
	sim := pingonesim.New(pingonesim.Config{EnvironmentID: demoEnvID, ClientID: demoClientID, ClientSecret: demoClientSecret})
	id, err := sim.AddUser("carol", "carol@example.com", "Some-Passw0rd!")
	if err != nil {
		t.Fatal(err)
	}
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	cfg := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	if err := os.WriteFile(cfg, []byte(`listeners:
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
admin:
  address: ""
`), 0o600); err != nil {
		t.Fatal(err)
	}
	carol := "uid=carol,ou=people,dc=example,dc=com"

	out, code := runBin(t, "pingone", "set-gateway", "--config", cfg, "--dn", carol, "--unset-password", "--dry-run")
	if code != 0 || !strings.Contains(out, "would unset\t"+carol+"\tuser "+id) {
		t.Fatalf("dry run: exit %d\n%s", code, out)
	}
	if st, _ := sim.UserState(id); st.Status != "OK" {
		t.Fatalf("dry run changed carol: %+v", st)
	}

	out, code = runBin(t, "pingone", "set-gateway", "--config", cfg, "--dn", carol, "--unset-password")
	if code != 0 || !strings.Contains(out, "unset\t"+carol) || !strings.Contains(out, "summary: 1 DNs: 0 to change, 1 changed, 0 failed, 0 skipped") {
		t.Fatalf("unset: exit %d\n%s", code, out)
	}
	if st, _ := sim.UserState(id); st.Status != "NO_PASSWORD" || st.Gateway != "" {
		t.Fatalf("carol after --unset-password: %+v", st)
	}

	// Without --unset-password the route's missing gateway is an error;
	// with it, a gateway is refused as usage.
	if out, code = runBin(t, "pingone", "set-gateway", "--config", cfg, "--dn", carol); code != 1 || !strings.Contains(out, "has no gateway") {
		t.Fatalf("set without a gateway: exit %d\n%s", code, out)
	}
	if out, code = runBin(t, "pingone", "set-gateway", "--config", cfg, "--dn", carol, "--unset-password", "--gateway-id", "g", "--user-type-id", "u"); code != 2 {
		t.Fatalf("--unset-password with a gateway: exit %d\n%s", code, out)
	}
	if out, _ = runBin(t, "pingone", "set-gateway", "-h"); !strings.Contains(out, "-unset-password") {
		t.Fatalf("usage does not document --unset-password:\n%s", out)
	}
}
