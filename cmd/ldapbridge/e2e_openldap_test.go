package main

import (
	"regexp"
	"strings"
	"testing"
)

// These tests are the "done when" rows, run the way a user runs
// them: the real binary's demo, and OpenLDAP's ldapwhoami and ldappasswd.

func whoami(t *testing.T, d *demo, dn, pw string, extra ...string) (string, string, int) {
	t.Helper()
	args := append([]string{"-x", "-H", d.url(), "-D", dn, "-w", pw}, extra...)
	return tool(t, nil, "ldapwhoami", args...)
}

func mustBind(t *testing.T, d *demo, dn, pw string) {
	t.Helper()
	out, errOut, code := whoami(t, d, dn, pw)
	if code != 0 || strings.TrimSpace(out) != "dn:"+dn {
		t.Fatalf("ldapwhoami as %s: code %d stdout %q stderr %q", dn, code, out, errOut)
	}
}

func mustNotBind(t *testing.T, d *demo, dn, pw string) {
	t.Helper()
	_, errOut, code := whoami(t, d, dn, pw)
	if code == 0 || !strings.Contains(errOut, "ldap_bind: Invalid credentials (49)") {
		t.Fatalf("ldapwhoami as %s with a stale password: code %d stderr %q", dn, code, errOut)
	}
}

func TestOpenLDAPWhoAmI(t *testing.T) {
	d := startDemo(t)
	for _, u := range [][2]string{{demoBobDN, demoBobPW}, {demoAdminDN, demoAdminPW}, {demoAliceDN, demoAlicePW}} {
		mustBind(t, d, u[0], u[1])
	}
	for _, tc := range []struct {
		name, dn, pw, want string
	}{
		{"wrong password", demoBobDN, "Wrong-Passw0rd!", "ldap_bind: Invalid credentials (49)"},
		{"unknown user", "uid=nobody,ou=staff,dc=example,dc=com", "Wrong-Passw0rd!", "ldap_bind: Invalid credentials (49)"},
		{"empty password", demoBobDN, "", "ldap_bind: Server is unwilling to perform (53)"},
		{"pingone wrong password", demoAliceDN, "Wrong-Passw0rd!", "ldap_bind: Invalid credentials (49)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := whoami(t, d, tc.dn, tc.pw)
			if code == 0 || !strings.Contains(errOut, tc.want) {
				t.Fatalf("code %d stdout %q stderr %q, want %q", code, out, errOut, tc.want)
			}
		})
	}
	// Anonymous WhoAmI answers "anonymous".
	out, errOut, code := tool(t, nil, "ldapwhoami", "-x", "-H", d.url())
	if code != 0 || strings.TrimSpace(out) != "anonymous" {
		t.Fatalf("anonymous: code %d stdout %q stderr %q", code, out, errOut)
	}
}

func passwd(t *testing.T, d *demo, args ...string) (string, string, int) {
	t.Helper()
	return tool(t, nil, "ldappasswd", append([]string{"-x", "-H", d.url()}, args...)...)
}

var newPasswordLine = regexp.MustCompile(`(?m)^New password: (\S+)$`)

func TestOpenLDAPPasswdPingDirectory(t *testing.T) {
	d := startDemo(t)

	// Self change with the old password.
	out, errOut, code := passwd(t, d, "-D", demoBobDN, "-w", demoBobPW, "-a", demoBobPW, "-s", "Second-Passw0rd")
	if code != 0 {
		t.Fatalf("self change: code %d stdout %q stderr %q", code, out, errOut)
	}
	mustNotBind(t, d, demoBobDN, demoBobPW)
	mustBind(t, d, demoBobDN, "Second-Passw0rd")

	// Without -s the directory generates one and ldappasswd prints it.
	out, errOut, code = passwd(t, d, "-D", demoBobDN, "-w", "Second-Passw0rd", "-a", "Second-Passw0rd")
	m := newPasswordLine.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("generated: code %d stdout %q stderr %q", code, out, errOut)
	}
	generated := m[1]
	mustNotBind(t, d, demoBobDN, "Second-Passw0rd")
	mustBind(t, d, demoBobDN, generated)

	// Too short, policy otherwise met, with the ppolicy control.
	out, errOut, code = passwd(t, d, "-D", demoBobDN, "-w", generated, "-a", generated, "-s", "ab1c", "-e", "ppolicy")
	all := out + errOut
	for _, want := range []string{"Result: Constraint violation (19)", "ppolicy: error=6 (Password is too short for policy)"} {
		if code == 0 || !strings.Contains(all, want) {
			t.Fatalf("too short: code %d, output lacks %q:\n%s", code, want, all)
		}
	}
	if !regexp.MustCompile(`Additional info: \S`).MatchString(all) {
		t.Errorf("too short: no diagnostic:\n%s", all)
	}
	mustBind(t, d, demoBobDN, generated)

	// Self change without -a: the session's bind proves who is changing.
	if out, errOut, code = passwd(t, d, "-D", demoBobDN, "-w", generated, "-s", "Third-Passw0rd"); code != 0 {
		t.Fatalf("self change without -a: code %d stdout %q stderr %q", code, out, errOut)
	}
	mustBind(t, d, demoBobDN, "Third-Passw0rd")

	// History: the previous password is refused.
	out, errOut, code = passwd(t, d, "-D", demoBobDN, "-w", "Third-Passw0rd", "-s", generated, "-e", "ppolicy")
	if all := out + errOut; code == 0 || !strings.Contains(all, "Constraint violation (19)") || !strings.Contains(all, "ppolicy: error=8") {
		t.Fatalf("history: code %d output:\n%s", code, all)
	}

	// Anonymous: refused.
	out, errOut, code = passwd(t, d, "-a", "Third-Passw0rd", "-s", "Fourth-Passw0rd", demoBobDN)
	if all := out + errOut; code == 0 || !strings.Contains(all, "Confidentiality required (13)") && !strings.Contains(all, "Strong(er) authentication required (8)") {
		t.Fatalf("anonymous change: code %d output:\n%s", code, all)
	}
	mustBind(t, d, demoBobDN, "Third-Passw0rd")
}

func TestOpenLDAPAdminResetMustChange(t *testing.T) {
	d := startDemo(t)
	// The administrator resets bob's password without the old one.
	out, errOut, code := passwd(t, d, "-D", demoAdminDN, "-w", demoAdminPW, "-s", "Reset-Passw0rd1", demoBobDN)
	if code != 0 {
		t.Fatalf("admin reset: code %d stdout %q stderr %q", code, out, errOut)
	}
	mustNotBind(t, d, demoBobDN, demoBobPW)
	// bob's next bind, with -e ppolicy, says the password must be changed.
	out, errOut, _ = whoami(t, d, demoBobDN, "Reset-Passw0rd1", "-e", "ppolicy")
	if all := out + errOut; !strings.Contains(all, "Password must be changed") {
		t.Fatalf("must-change bind: output lacks 'Password must be changed':\n%s", all)
	}
	// bob changes it, and the restriction is gone.
	if out, errOut, code = passwd(t, d, "-D", demoBobDN, "-w", "Reset-Passw0rd1", "-a", "Reset-Passw0rd1", "-s", "Chosen-Passw0rd2"); code != 0 {
		t.Fatalf("change after reset: code %d stdout %q stderr %q", code, out, errOut)
	}
	out, errOut, _ = whoami(t, d, demoBobDN, "Chosen-Passw0rd2", "-e", "ppolicy")
	if all := out + errOut; strings.Contains(all, "Password must be changed") || !strings.Contains(out, "dn:"+demoBobDN) {
		t.Fatalf("after the change: %s", all)
	}
	// bob may not reset the administrator's password.
	out, errOut, code = passwd(t, d, "-D", demoBobDN, "-w", "Chosen-Passw0rd2", "-s", "Hijack-Passw0rd3", demoAdminDN)
	if all := out + errOut; code == 0 || !strings.Contains(all, "Insufficient access (50)") {
		t.Fatalf("bob resetting admin: code %d output:\n%s", code, all)
	}
	mustBind(t, d, demoAdminDN, demoAdminPW)
}

func TestOpenLDAPTLS(t *testing.T) {
	env := []string{"LDAPTLS_REQCERT=never"}
	for _, tc := range []struct {
		name string
		args func(d *demo) []string
	}{
		{"starttls", func(d *demo) []string { return []string{"-x", "-ZZ", "-H", d.url()} }},
		{"ldaps", func(d *demo) []string { return []string{"-x", "-H", d.urls()} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := startDemo(t)
			args := tc.args(d)
			out, errOut, code := tool(t, env, "ldapwhoami", append(args, "-D", demoBobDN, "-w", demoBobPW)...)
			if code != 0 || strings.TrimSpace(out) != "dn:"+demoBobDN {
				t.Fatalf("code %d stdout %q stderr %q", code, out, errOut)
			}
			out, errOut, code = tool(t, env, "ldappasswd", append(args, "-D", demoBobDN, "-w", demoBobPW, "-a", demoBobPW, "-s", "Tls-Passw0rd1")...)
			if code != 0 {
				t.Fatalf("passwd over %s: code %d stdout %q stderr %q", tc.name, code, out, errOut)
			}
			out, errOut, code = tool(t, env, "ldapwhoami", append(args, "-D", demoBobDN, "-w", "Tls-Passw0rd1")...)
			if code != 0 || strings.TrimSpace(out) != "dn:"+demoBobDN {
				t.Fatalf("bind with the new password over %s: code %d stdout %q stderr %q", tc.name, code, out, errOut)
			}
		})
	}
}
