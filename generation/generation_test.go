package generation

import (
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/config"
)

const src = `listeners:
  - name: ldap
    address: 127.0.0.1:1389
backends:
  - name: p1
    type: pingone
    pingone:
      environment_id: 5caa81af-ec05-41ff-a709-c7378007a99c
      region: eu
      client_id: app
      client_secret: s3cret
  - name: pd
    type: pingdirectory
    pingdirectory:
      url: https://pd.example.com:1443
routes:
  - base: ou=people,dc=example,dc=com
    backend: p1
    gateway: {id: g1, user_type_id: u1, correlation: {uid: "{uid}"}}
  - base: ou=staff,dc=example,dc=com
    backend: pd
    admins: ["cn=admin,dc=example,dc=com"]
accounts:
  - dn: cn=svc,dc=example,dc=com
    password_hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
bind_cache:
  enabled: true
`

func TestBuild(t *testing.T) {
	cfg, err := config.Parse([]byte(src), "test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	routes := Routes(cfg)
	if len(routes) != 2 {
		t.Fatalf("%d routes", len(routes))
	}
	p1, pd := routes[0], routes[1]
	if p1.BackendAuthorizes || !pd.BackendAuthorizes {
		t.Errorf("BackendAuthorizes: p1 %v pd %v", p1.BackendAuthorizes, pd.BackendAuthorizes)
	}
	if !p1.Options.ForceChange || p1.Options.Base != "ou=people,dc=example,dc=com" ||
		p1.Options.Gateway == nil || p1.Options.Gateway.Correlation["uid"] != "{uid}" {
		t.Errorf("p1 options: %+v", p1.Options)
	}
	if len(pd.Admins) != 1 {
		t.Errorf("pd admins %q", pd.Admins)
	}
	// PingOne's worker is a service credential; PingDirectory has one
	// only with a service_account.
	if !p1.ServiceCredential || pd.ServiceCredential {
		t.Errorf("ServiceCredential: p1 %v pd %v", p1.ServiceCredential, pd.ServiceCredential)
	}
	locals := LocalAccounts(cfg)
	if len(locals) != 1 || !locals[0].Verify([]byte("U*U")) || locals[0].Verify([]byte("U*U*")) {
		t.Error("local account does not verify its password (or accepts another)")
	}
	st, err := Build(cfg, map[string]bridge.Backend{"p1": nil, "pd": nil})
	if err != nil {
		t.Fatalf("bridge rejects the converted config: %v", err)
	}
	if got := st.NamingContexts(); len(got) != 2 || got[0] != "ou=people,dc=example,dc=com" || got[1] != "ou=staff,dc=example,dc=com" {
		t.Errorf("naming contexts %q", got)
	}
	if st.BindCache() == nil {
		t.Error("bind_cache.enabled built no cache")
	}
	// Each generation has its own cache.
	st2, err := Build(cfg, map[string]bridge.Backend{"p1": nil, "pd": nil})
	if err != nil || st2.BindCache() == st.BindCache() {
		t.Errorf("second generation shares the bind cache (%v)", err)
	}
}
