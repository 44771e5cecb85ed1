package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Configuration checks and reloads, through the binary.

// ftRun runs ldapbridge to completion.
func ftRun(t *testing.T, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ldapbridge %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

func TestCheckConfig(t *testing.T) {
	dir := t.TempDir()
	bad := ftWrite(t, filepath.Join(dir, "bad.yaml"), `listeners:
  - name: ldap
    address: "127.0.0.1:1389"
    tls: starttls
    cleartext: sometimes
backends:
  - name: pd
    type: pingdirectory
    timeout: 10
    pingdirectory:
      url: "http://pd.example.com"
routes:
  - base: "dc=example,dc=com"
    backend: nope
    colour: blue
`)
	out, errOut, code := ftRun(t, "check-config", "--config", bad)
	want := bad + `:
config ` + bad + `: 7 problems:
line 2: listeners[0].cert_file: is required (the PEM certificate chain for tls: starttls)
line 2: listeners[0].key_file: is required (the PEM private key for tls: starttls)
line 5: listeners[0].cleartext: "sometimes" is not one of loopback, allow, refuse
line 9: backends[0].timeout: "10" has no unit; write it as "10s" or "10ms"
line 11: backends[0].pingdirectory.url: "http://pd.example.com" must use https (http is allowed only for a loopback host such as 127.0.0.1 or localhost)
line 14: routes[0].backend: "nope" names no backend (backends: "pd")
line 15: routes[0].colour: unknown key
`
	if code != 1 || out != want || errOut != "" {
		t.Errorf("check-config of a bad file: exit %d\nstdout:\n%s\nstderr:\n%s\nwant exit 1 and stdout:\n%s", code, out, errOut, want)
	}

	cert, key, _ := ftCertPair(t)
	cfg := ftConfig{LDAP: "127.0.0.1:1389", LDAPS: "127.0.0.1:1636", TLS: "starttls", Cert: cert, Key: key,
		PD: "http://127.0.0.1:1443", P1: "http://127.0.0.1:1444", Cleartext: "refuse"}
	good := ftWrite(t, filepath.Join(dir, "good.yaml"), cfg.yaml())
	if out, errOut, code := ftRun(t, "check-config", "--config", good); code != 0 || out != "ok\n" || errOut != "" {
		t.Errorf("check-config of a good file: exit %d stdout %q stderr %q\n%s", code, out, errOut, cfg.yaml())
	}
	// A client secret never appears in what check-config prints.
	if strings.Contains(out, demoClientSecret) {
		t.Error("check-config printed the client secret")
	}
}

// TestReloadOnSIGHUP: a broken file changes nothing and says why; a good
// one takes effect for new operations without dropping sessions.
func TestReloadOnSIGHUP(t *testing.T) {
	_, pdb := ftDirectory(t, false)
	_, p1b := ftPingOne(t)
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	// First only the PingDirectory route: alice's DN falls under it, and
	// PingDirectory does not know her.
	v1 := ftConfig{LDAP: addr, PD: pdb.url}
	p := ftServe(t, ftWrite(t, path, v1.yaml()))
	aliceBind := func() string { return ftErr(ftDial(t, addr).Bind(demoAliceDN, demoAlicePW)) }
	if got := aliceBind(); got != "49: invalid credentials" {
		t.Fatalf("alice before any reload: %s", got)
	}
	bob := ftDial(t, addr)
	if err := bob.Bind(demoBobDN, demoBobPW); err != nil {
		t.Fatal(err)
	}

	hup := func() {
		t.Helper()
		if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	// A route to a backend that does not exist: refused, with the reason.
	broken := ftConfig{LDAP: addr, PD: pdb.url, ExtraRoutes: "  - base: \"" + demoPeopleBase + "\"\n    backend: p2\n"}
	ftWrite(t, path, broken.yaml())
	hup()
	ftWaitLog(t, p, "configuration reload failed; keeping the previous configuration")
	ftWaitLog(t, p, `names no backend`)
	if got := aliceBind(); got != "49: invalid credentials" {
		t.Errorf("alice after the broken reload: %s", got)
	}
	if err := ftDial(t, addr).Bind(demoBobDN, demoBobPW); err != nil {
		t.Errorf("bob after the broken reload: %s", ftErr(err))
	}

	// The PingOne route added: alice is now PingOne's.
	v2 := ftConfig{LDAP: addr, PD: pdb.url, P1: p1b.url}
	ftWrite(t, path, v2.yaml())
	hup()
	ftWaitLog(t, p, "configuration reloaded")
	if got := aliceBind(); got != "ok" {
		t.Errorf("alice after the good reload: %s", got)
	}
	if p1b.count("POST password") != 1 {
		t.Errorf("PingOne saw %v, want one password check", p1b.snapshot())
	}
	// bob's session, bound before both reloads, still serves.
	if who, err := bob.WhoAmI(nil); err != nil || who.AuthzID != "dn:"+demoBobDN {
		t.Errorf("bob's session after the reloads: %v %+v", err, who)
	}
	if strings.Contains(p.Stderr.String(), demoClientSecret) {
		t.Error("the client secret reached the log")
	}
	ftNoSecrets(t, p, demoBobPW, demoAlicePW)
}
