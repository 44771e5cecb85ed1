package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"golang.org/x/crypto/bcrypt"
)

// SIGHUP with a broken file keeps the old configuration serving and logs
// why, with the line; a valid one takes effect for new operations; with
// reload.watch_config a change to the file is enough.
func TestOpsReload(t *testing.T) {
	_, pdURL := opsDirectory(t)
	_, p1URL := opsPingOne(t)
	e := newOpsEnv(t)
	e.pdURL, e.p1URL = pdURL, p1URL
	e.write(t)
	p := opsServe(t, e)

	const svcDN, svcPW = "cn=svc,dc=example,dc=com", "Svc-Passw0rd-9"
	svcBind := func() error { return opsDial(t, e.ldap).Bind(svcDN, svcPW) }
	if err := svcBind(); resultCode(err) != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("the service account before it is configured: %v", err)
	}

	// A broken file: refused, logged with its line, nothing changes.
	good := strings.Replace(opsRead(t, e.cfgPath), "routes:\n", "routes:\n  - base: \"ou=x,dc=example,dc=com\"\n    backend: nowhere\n", 1)
	opsWriteFile(t, e.cfgPath, good+"bogus_key: 1\n")
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	opsWaitLog(t, p, 1, "configuration reload failed; keeping the previous configuration", `"trigger":"SIGHUP"`)
	failed := opsJSONLines(t, p.Stderr.String(), "configuration reload failed; keeping the previous configuration")
	msg, _ := failed[0]["err"].(string)
	if !strings.Contains(msg, "line ") || !strings.Contains(msg, "bogus_key") || !strings.Contains(msg, "nowhere") {
		t.Errorf("the reload error does not name every problem with its line: %q", msg)
	}
	if err := opsDial(t, e.ldap).Bind(demoBobDN, demoBobPW); err != nil {
		t.Fatalf("bind after a failed reload: %v", err)
	}
	m := opsScrape(t, e.admin)
	if m.get(t, "ldapbridge_config_reloads_total", map[string]string{"result": "failure"}) != 1 || m.get(t, "ldapbridge_config_last_reload_successful", nil) != 0 {
		t.Errorf("metrics after a failed reload: %v %v", m["ldapbridge_config_reloads_total"], m["ldapbridge_config_last_reload_successful"])
	}

	// A valid file: a local account, debug logging, file watching, and a
	// limit (which needs a restart).
	hash, err := bcrypt.GenerateFromPassword([]byte(svcPW), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	e.level, e.watch = "debug", true
	e.extra = "accounts:\n  - dn: " + svcDN + "\n    password_hash: \"" + string(hash) + "\"\nlimits:\n  idle_timeout: 5m\n"
	e.write(t)
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	opsWaitLog(t, p, 1, "configuration reloaded", `"trigger":"SIGHUP"`)
	opsWaitLog(t, p, 1, "take effect only after a restart", `"sections":["limits"]`)
	if err := svcBind(); err != nil {
		t.Fatalf("the service account after the reload: %v", err)
	}
	opsWaitLog(t, p, 1, `"msg":"operation done"`) // debug is on now
	m = opsScrape(t, e.admin)
	if m.get(t, "ldapbridge_config_reloads_total", map[string]string{"result": "success"}) != 1 || m.get(t, "ldapbridge_config_last_reload_successful", nil) != 1 {
		t.Errorf("metrics after a reload: %v %v", m["ldapbridge_config_reloads_total"], m["ldapbridge_config_last_reload_successful"])
	}

	// watch_config is on: writing the file is enough.
	e.extra = ""
	e.write(t)
	for deadline := time.Now().Add(30 * time.Second); ; {
		err := svcBind()
		if resultCode(err) == ldap.LDAPResultInvalidCredentials {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the change to the file was not picked up: bind %v\n%s", err, p.Stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
	opsWaitLog(t, p, 1, "configuration reloaded", `"trigger":"file changed"`)
}
