package config

import (
	"strings"
	"testing"
)

// A password goes only to the backend that verified it: an admin that a
// PingDirectory route's backend cannot act for (a local account, another
// backend's user) needs the backend's service_account, and check-config
// says so with the line.
func TestServiceAccount(t *testing.T) {
	dir := t.TempDir()
	pwFile := writeFile(t, dir, "pd-password", "Svc-Passw0rd\n")
	secretFile := writeFile(t, dir, "pd-client-secret", "client-secret-Xy1\n")
	empty := writeFile(t, dir, "empty", "\n")
	const localAdmin = `    admins: ["cn=svc,dc=example,dc=com"]`
	basic := "      service_account: {dn: \"cn=bridge,ou=services,dc=example,dc=com\", password_file: \"" + pwFile + "\"}"
	bearer := "      service_account: {token_url: \"https://pf.example.com:9031/as/token.oauth2\", client_id: ldapbridge, client_secret_file: \"" + secretFile + "\", scope: \"directory admin\"}"

	for _, tc := range []struct {
		name  string
		edits map[int]string
		want  []want
	}{
		{"local admin without a service account", map[int]string{25: localAdmin},
			[]want{{25, "routes[1].admins[0]", `"cn=svc,dc=example,dc=com" is a local account (accounts[0]), and backend "pd" (pingdirectory) has no service credential`}}},
		{"another backend's user as admin", map[int]string{25: `    admins: ["uid=alice,ou=people,dc=example,dc=com"]`},
			[]want{{25, "routes[1].admins[0]", `is a user of routes[0] (backend "p1")`}}},
		{"both kinds", map[int]string{18: "      service_account: {dn: \"cn=x,dc=y\", password_file: \"" + pwFile + "\", token_url: \"https://pf.example.com/t\"}"},
			[]want{{18, "backends[1].pingdirectory.service_account", "not both"}}},
		{"neither kind", map[int]string{18: "      service_account: {scope: \"\"}"},
			[]want{{18, "backends[1].pingdirectory.service_account", "needs dn and password_file"}}},
		{"basic without a password file", map[int]string{18: "      service_account: {dn: \"cn=x,dc=y\"}"},
			[]want{{18, "backends[1].pingdirectory.service_account.password_file", "is required"}}},
		{"basic with an empty password file", map[int]string{18: "      service_account: {dn: \"cn=x,dc=y\", password_file: \"" + empty + "\"}"},
			[]want{{18, "backends[1].pingdirectory.service_account.password_file", "is empty"}}},
		{"basic with a missing password file", map[int]string{18: "      service_account: {dn: \"cn=x,dc=y\", password_file: \"" + dir + "/nope\"}"},
			[]want{{18, "backends[1].pingdirectory.service_account.password_file", "nope"}}},
		{"basic with a bad DN", map[int]string{18: "      service_account: {dn: \"not a dn\", password_file: \"" + pwFile + "\"}"},
			[]want{{18, "backends[1].pingdirectory.service_account.dn", "is not a DN"}}},
		{"bearer over http", map[int]string{18: "      service_account: {token_url: \"http://pf.example.com/t\", client_id: c, client_secret_file: \"" + secretFile + "\"}"},
			[]want{{18, "backends[1].pingdirectory.service_account.token_url", "must use https"}}},
		{"bearer without a client", map[int]string{18: "      service_account: {token_url: \"https://pf.example.com/t\"}"},
			[]want{
				{18, "backends[1].pingdirectory.service_account.client_id", "is required"},
				{18, "backends[1].pingdirectory.service_account.client_secret_file", "is required"},
			}},
		{"unknown key", map[int]string{18: "      service_account: {dn: \"cn=x,dc=y\", password: x}"},
			[]want{
				{18, "backends[1].pingdirectory.service_account.password", "unknown key"},
				{18, "backends[1].pingdirectory.service_account.password_file", "is required"},
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, ps := parse(t, edit(base, tc.edits), ParseOptions{})
			checkProblems(t, ps, tc.want)
		})
	}

	// With a service account, the same admins are fine, the secret is
	// read (and never shown), and the route has the service credential.
	for name, sa := range map[string]string{"basic": basic, "bearer": bearer} {
		t.Run(name, func(t *testing.T) {
			for _, admins := range []string{localAdmin, `    admins: ["uid=alice,ou=people,dc=example,dc=com"]`} {
				cfg := mustParse(t, edit(base, map[int]string{18: sa, 25: admins}), ParseOptions{})
				pd := cfg.Backends[1].PingDirectory
				if pd.ServiceAccount == nil {
					t.Fatal("no service account")
				}
				if name == "basic" && pd.ServiceAccount.Password.Reveal() != "Svc-Passw0rd" {
					t.Errorf("password read as %q", pd.ServiceAccount.Password.Reveal())
				}
				if name == "bearer" && pd.ServiceAccount.ClientSecret.Reveal() != "client-secret-Xy1" {
					t.Errorf("client secret read as %q", pd.ServiceAccount.ClientSecret.Reveal())
				}
				if !cfg.Backends[1].Settings().Traits().ServiceCredential || !cfg.Backends[0].Settings().Traits().ServiceCredential {
					t.Error("a backend with a service credential says it has none")
				}
				y, err := cfg.YAML()
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(string(y), "Svc-Passw0rd") || strings.Contains(string(y), "client-secret-Xy1") || !strings.Contains(string(y), "service_account") {
					t.Errorf("effective configuration:\n%s", y)
				}
			}
		})
	}
	if mustParse(t, base, ParseOptions{}).Backends[1].Settings().Traits().ServiceCredential {
		t.Error("a PingDirectory backend without service_account has a service credential")
	}
}
