package main

import (
	"strings"
	"testing"
)

// The PingOne route of the demo, driven with OpenLDAP's tools.

func TestOpenLDAPPingOneSelfService(t *testing.T) {
	d := startDemo(t)
	mustBind(t, d, demoAliceDN, demoAlicePW)

	// With -a.
	if out, errOut, code := passwd(t, d, "-D", demoAliceDN, "-w", demoAlicePW, "-a", demoAlicePW, "-s", "Second-Passw0rd!"); code != 0 {
		t.Fatalf("change with -a: code %d stdout %q stderr %q", code, out, errOut)
	}
	mustNotBind(t, d, demoAliceDN, demoAlicePW)
	mustBind(t, d, demoAliceDN, "Second-Passw0rd!")

	// Without -a: the bridge uses the session's bind password as the current one.
	if out, errOut, code := passwd(t, d, "-D", demoAliceDN, "-w", "Second-Passw0rd!", "-s", "Third-Passw0rd!"); code != 0 {
		t.Fatalf("change without -a: code %d stdout %q stderr %q", code, out, errOut)
	}
	mustBind(t, d, demoAliceDN, "Third-Passw0rd!")

	// No -s: the bridge generates one that meets the environment's policy.
	out, errOut, code := passwd(t, d, "-D", demoAliceDN, "-w", "Third-Passw0rd!", "-a", "Third-Passw0rd!")
	m := newPasswordLine.FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("generated: code %d stdout %q stderr %q", code, out, errOut)
	}
	cur := m[1]
	mustBind(t, d, demoAliceDN, cur)

	for _, tc := range []struct {
		name, pw, ppolicy string
	}{
		{"previous password", "Third-Passw0rd!", "ppolicy: error=8"},
		{"too short", "Sh0rt!", "ppolicy: error=6 (Password is too short for policy)"},
		{"all lower case", "alllowercase", "ppolicy: error=5"},
	} {
		out, errOut, code := passwd(t, d, "-D", demoAliceDN, "-w", cur, "-a", cur, "-s", tc.pw, "-e", "ppolicy")
		all := out + errOut
		if code == 0 || !strings.Contains(all, "Result: Constraint violation (19)") || !strings.Contains(all, tc.ppolicy) {
			t.Errorf("%s: code %d, want Constraint violation (19) and %q:\n%s", tc.name, code, tc.ppolicy, all)
		}
	}
	mustBind(t, d, demoAliceDN, cur)

	// Five bad binds lock the account; the ppolicy control says so.
	for i := 0; i < 5; i++ {
		whoami(t, d, demoAliceDN, "Wrong-Passw0rd!")
	}
	out, errOut, code = whoami(t, d, demoAliceDN, cur, "-e", "ppolicy")
	if all := out + errOut; code == 0 || !strings.Contains(all, "Invalid credentials (49)") || !strings.Contains(all, "Account locked") {
		t.Fatalf("locked: code %d output:\n%s", code, all)
	}
}

func TestOpenLDAPPingOneAdministration(t *testing.T) {
	d := startDemo(t)

	// Anonymous and bob may not change alice's password.
	out, errOut, code := passwd(t, d, "-a", demoAlicePW, "-s", "Anon-Passw0rd!", demoAliceDN)
	if all := out + errOut; code == 0 || !strings.Contains(all, "(8)") && !strings.Contains(all, "(13)") {
		t.Fatalf("anonymous: code %d output:\n%s", code, all)
	}
	out, errOut, code = passwd(t, d, "-D", demoBobDN, "-w", demoBobPW, "-s", "Bobs-Passw0rd!", demoAliceDN)
	if all := out + errOut; code == 0 || !strings.Contains(all, "Insufficient access (50)") {
		t.Fatalf("bob: code %d output:\n%s", code, all)
	}
	mustBind(t, d, demoAliceDN, demoAlicePW)

	// The administrator resets it; alice's next bind says it must be changed.
	if out, errOut, code = passwd(t, d, "-D", demoAdminDN, "-w", demoAdminPW, "-s", "Reset-Passw0rd!", demoAliceDN); code != 0 {
		t.Fatalf("admin reset: code %d stdout %q stderr %q", code, out, errOut)
	}
	mustNotBind(t, d, demoAliceDN, demoAlicePW)
	out, errOut, _ = whoami(t, d, demoAliceDN, "Reset-Passw0rd!", "-e", "ppolicy")
	if all := out + errOut; !strings.Contains(all, "Password must be changed") {
		t.Fatalf("must-change bind:\n%s", all)
	}
	if out, errOut, code = passwd(t, d, "-D", demoAliceDN, "-w", "Reset-Passw0rd!", "-s", "Mine-Again-Passw0rd!"); code != 0 {
		t.Fatalf("change after reset: code %d stdout %q stderr %q", code, out, errOut)
	}
	mustBind(t, d, demoAliceDN, "Mine-Again-Passw0rd!")
}
