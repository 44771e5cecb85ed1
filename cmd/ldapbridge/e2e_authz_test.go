package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/go-ldap/ldap/v3"
	"golang.org/x/crypto/bcrypt"

	"github.com/ldapbridge/ldapbridge/internal/testkit/simkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// Tests of who may change whose password, against the real binary and
// both simulators (issue 10 items 4 and 5): a password goes only to the
// backend that verified it, and a supplied old password is checked.

const (
	authzSvcDN = "cn=svc,dc=example,dc=com"
	authzSvcPW = "Svc-Passw0rd!"
)

var authzTmpl = template.Must(template.New("authz").Parse(`listeners:
  - name: ldap
    address: "{{.LDAP}}"
backends:
  - name: pd
    type: pingdirectory
    timeout: 20s
    pingdirectory:
      url: "{{.PD}}"
{{.ServiceAccount}}  - name: p1
    type: pingone
    timeout: 20s
    pingone:
      environment_id: "` + demoEnvID + `"
      auth_url: "{{.P1}}"
      api_url: "{{.P1}}/v1"
      client_id: "` + demoClientID + `"
      client_secret: "` + demoClientSecret + `"
routes:
  - base: "dc=example,dc=com"
    backend: pd
{{.PDAdmins}}  - base: "ou=people,dc=example,dc=com"
    backend: p1
    admins: ["` + demoAdminDN + `", "` + authzSvcDN + `"]
accounts:
  - dn: "` + authzSvcDN + `"
    password_hash: "{{.Hash}}"
log:
  level: info
  format: json
`))

type authzEnv struct {
	pd     *directorysim.Server
	p1     *pingonesim.Server
	ldap   string
	config string
}

// authzConfig writes a configuration; serviceAccount and pdAdmins are
// YAML lines for the PingDirectory backend block and route.
func authzConfig(t *testing.T, serviceAccount, pdAdmins string) *authzEnv {
	t.Helper()
	pd, pdURL := simkit.Directory(t, directorysim.Config{
		Policy: directorysim.Policy{MinLength: 8, MinDigits: 1},
		Admins: []string{demoAdminDN},
	}, map[string]string{demoBobDN: demoBobPW, demoAdminDN: demoAdminPW})
	if err := pd.AddClient("ldapbridge", "client-Secret-1", demoAdminDN); err != nil {
		t.Fatal(err)
	}
	p1, p1URL := opsPingOne(t)
	hash, err := bcrypt.GenerateFromPassword([]byte(authzSvcPW), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e := &authzEnv{pd: pd, p1: p1, ldap: freeAddr(t), config: filepath.Join(t.TempDir(), "ldapbridge.yaml")}
	var b bytes.Buffer
	if err := authzTmpl.Execute(&b, map[string]string{
		"LDAP": e.ldap, "PD": pdURL, "P1": p1URL, "Hash": string(hash),
		"ServiceAccount": strings.ReplaceAll(serviceAccount, "{{PD}}", pdURL), "PDAdmins": pdAdmins,
	}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(e.config, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *authzEnv) serve(t *testing.T) {
	t.Helper()
	opsServe(t, &opsEnv{cfgPath: e.config})
}

// session binds a new connection as dn.
func (e *authzEnv) session(t *testing.T, dn, pw string) *ldap.Conn {
	t.Helper()
	c := opsDial(t, e.ldap)
	if err := c.Bind(dn, pw); err != nil {
		t.Fatalf("bind %s: %v", dn, err)
	}
	return c
}

func (e *authzEnv) canBind(t *testing.T, dn, pw string) bool {
	t.Helper()
	c := opsDial(t, e.ldap)
	return c.Bind(dn, pw) == nil
}

func ldapCode(err error) uint16 {
	var le *ldap.Error
	if err == nil {
		return 0
	}
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0xffff
}

// resetBoth runs a reset of target by Password Modify and by a Modify
// replacing userPassword, each with its own new password, and returns
// their result codes.
func resetBoth(t *testing.T, c *ldap.Conn, target, pw1, pw2 string) (uint16, uint16) {
	t.Helper()
	_, err := c.PasswordModify(&ldap.PasswordModifyRequest{UserIdentity: target, NewPassword: pw1})
	m := ldap.NewModifyRequest(target, nil)
	m.Replace("userPassword", []string{pw2})
	return ldapCode(err), ldapCode(c.Modify(m))
}

// TestCrossRoutePasswordNeverSent: a PingOne user (or a local account)
// resetting a PingDirectory user's password is refused with
// insufficientAccessRights, and PingDirectory hears nothing (it used to
// receive the PingOne password as HTTP Basic).
func TestCrossRoutePasswordNeverSent(t *testing.T) {
	e := authzConfig(t, "", "")
	e.serve(t)
	for _, who := range [][2]string{{demoAliceDN, demoAlicePW}, {authzSvcDN, authzSvcPW}} {
		c := e.session(t, who[0], who[1])
		before := e.pd.Requests()
		pm, mod := resetBoth(t, c, demoBobDN, "Cross-Route-1", "Cross-Route-2")
		if pm != ldap.LDAPResultInsufficientAccessRights || mod != ldap.LDAPResultInsufficientAccessRights {
			t.Errorf("%s: Password Modify %d, Modify %d, want 50 and 50", who[0], pm, mod)
		}
		if n := e.pd.Requests() - before; n != 0 {
			t.Errorf("%s: PingDirectory received %d requests", who[0], n)
		}
	}
	if !e.canBind(t, demoBobDN, demoBobPW) {
		t.Error("bob's password changed")
	}
}

// TestServiceAccountResets: with a service_account (Basic or OAuth 2), a
// local admin and a PingOne admin listed on the PingDirectory route
// reset a PingDirectory user's password; their own passwords never reach
// PingDirectory.
func TestServiceAccountResets(t *testing.T) {
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "pd-password")
	secretFile := filepath.Join(dir, "pd-client-secret")
	if err := os.WriteFile(pwFile, []byte(demoAdminPW+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(secretFile, []byte("client-Secret-1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admins := `    admins: ["` + authzSvcDN + `", "` + demoAliceDN + `"]` + "\n"
	for name, sa := range map[string]string{
		"basic":  "      service_account: {dn: \"" + demoAdminDN + "\", password_file: \"" + pwFile + "\"}\n",
		"bearer": "      service_account: {token_url: \"{{PD}}" + directorysim.TokenPath + "\", client_id: ldapbridge, client_secret_file: \"" + secretFile + "\"}\n",
	} {
		t.Run(name, func(t *testing.T) {
			e := authzConfig(t, sa, admins)
			e.serve(t)
			for i, who := range [][2]string{{authzSvcDN, authzSvcPW}, {demoAliceDN, demoAlicePW}} {
				c := e.session(t, who[0], who[1])
				pw1, pw2 := "Reset-Pass"+string(rune('1'+2*i)), "Reset-Pass"+string(rune('2'+2*i))
				if pm, mod := resetBoth(t, c, demoBobDN, pw1, pw2); pm != 0 || mod != 0 {
					t.Fatalf("%s: Password Modify %d, Modify %d, want success", who[0], pm, mod)
				}
				if !e.pd.CheckPassword(demoBobDN, pw2) || !e.pd.MustChange(demoBobDN) {
					t.Fatalf("%s: bob's password was not reset", who[0])
				}
			}
			if name == "bearer" && e.pd.TokenRequests() == 0 {
				t.Error("no token was requested")
			}
			// The local admin's change with an old password is bob's own,
			// proven by it: a wrong one changes nothing.
			svc := e.session(t, authzSvcDN, authzSvcPW)
			current := "Reset-Pass4"
			if _, err := svc.PasswordModify(&ldap.PasswordModifyRequest{UserIdentity: demoBobDN, OldPassword: "Wrong-Passw0rd1", NewPassword: "Never-Passw0rd1"}); ldapCode(err) != ldap.LDAPResultInvalidCredentials {
				t.Errorf("local admin with a wrong old password: %v", err)
			}
			if !e.pd.CheckPassword(demoBobDN, current) {
				t.Fatal("bob's password changed")
			}
			if _, err := svc.PasswordModify(&ldap.PasswordModifyRequest{UserIdentity: demoBobDN, OldPassword: current, NewPassword: "Bobs-Own-Passw0rd1"}); err != nil {
				t.Errorf("local admin with the right old password: %v", err)
			}
			if !e.pd.CheckPassword(demoBobDN, "Bobs-Own-Passw0rd1") || e.pd.MustChange(demoBobDN) {
				t.Error("the change proven by the old password was not made as bob's own")
			}
		})
	}
}

// TestCheckConfigServiceAccount: a local account listed as admin of a
// PingDirectory route without service_account is a configuration error,
// with its line (it used to pass, and every reset answered 53).
func TestCheckConfigServiceAccount(t *testing.T) {
	e := authzConfig(t, "", `    admins: ["`+authzSvcDN+`"]`+"\n")
	out, code := runBin(t, "check-config", e.config)
	if code != 1 || !strings.Contains(out, "line 22") || !strings.Contains(out, "routes[0].admins[0]") || !strings.Contains(out, "service_account") {
		t.Fatalf("check-config: exit %d\n%s", code, out)
	}
}

// TestOldPasswordChecked: RFC 3062, an old password that is supplied is
// checked whoever asks. An administrator's change with a wrong old
// password changes nothing (invalidCredentials, as a user's own change
// with a wrong old password); with the right one it succeeds; on both
// routes.
func TestOldPasswordChecked(t *testing.T) {
	e := authzConfig(t, "", "")
	e.serve(t)
	admin := e.session(t, demoAdminDN, demoAdminPW)
	for _, u := range []struct{ dn, pw string }{{demoBobDN, demoBobPW}, {demoAliceDN, demoAlicePW}} {
		_, err := admin.PasswordModify(&ldap.PasswordModifyRequest{UserIdentity: u.dn, OldPassword: "Wrong-Passw0rd", NewPassword: "Admin-Chosen-1"})
		if ldapCode(err) != ldap.LDAPResultInvalidCredentials {
			t.Errorf("%s: admin with a wrong old password: %v, want invalidCredentials", u.dn, err)
		}
		// A Modify that deletes the old value and adds the new one
		// carries the old password too.
		m := ldap.NewModifyRequest(u.dn, nil)
		m.Delete("userPassword", []string{"Wrong-Passw0rd"})
		m.Add("userPassword", []string{"Admin-Chosen-2"})
		if err := admin.Modify(m); ldapCode(err) != ldap.LDAPResultInvalidCredentials {
			t.Errorf("%s: admin's delete+add with a wrong old value: %v", u.dn, err)
		}
		if !e.canBind(t, u.dn, u.pw) || e.canBind(t, u.dn, "Admin-Chosen-1") {
			t.Fatalf("%s: the password changed", u.dn)
		}
		// The user's own change with a wrong old password.
		self := e.session(t, u.dn, u.pw)
		if _, err := self.PasswordModify(&ldap.PasswordModifyRequest{OldPassword: "Wrong-Passw0rd", NewPassword: "Self-Chosen-1"}); ldapCode(err) != ldap.LDAPResultInvalidCredentials {
			t.Errorf("%s: own change with a wrong old password: %v", u.dn, err)
		}
		if !e.canBind(t, u.dn, u.pw) {
			t.Fatalf("%s: the password changed", u.dn)
		}
		// The right old password: the change is made.
		if _, err := admin.PasswordModify(&ldap.PasswordModifyRequest{UserIdentity: u.dn, OldPassword: u.pw, NewPassword: "Admin-Chosen-3"}); err != nil {
			t.Errorf("%s: admin with the right old password: %v", u.dn, err)
		}
		if !e.canBind(t, u.dn, "Admin-Chosen-3") {
			t.Errorf("%s: the new password does not bind", u.dn)
		}
	}
}
