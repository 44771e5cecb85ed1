package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/internal/testkit"
)

// readmeDemoCommands are the shell lines of the README's demo section (its
// "Try" and search-then-bind blocks).
func readmeDemoCommands(t *testing.T) []string {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(raw), "### What the demo gives you")
	if !ok {
		t.Fatal(`README.md has no "### What the demo gives you" section`)
	}
	section, _, _ = strings.Cut(section, "\n## ")
	var cmds []string
	in := false
	for _, l := range strings.Split(section, "\n") {
		switch {
		case strings.HasPrefix(l, "```sh"):
			in = true
		case strings.HasPrefix(l, "```"):
			in = false
		case in && strings.TrimSpace(l) != "":
			cmds = append(cmds, strings.TrimSpace(l))
		}
	}
	if len(cmds) < 6 {
		t.Fatalf("README's demo section shows %d commands", len(cmds))
	}
	return cmds
}

// The demo's banner and the README say the same: every command the README
// shows is in the banner (with this run's addresses and certificate), both
// routes' policies are the README's, and the TLS examples work as printed,
// trusting the certificate the banner names rather than no certificate.
func TestDemoBannerMatchesReadme(t *testing.T) {
	d := startDemo(t)
	d.WaitOutput(t, testkit.Stdout, 30*time.Second, "the whole banner", func(text string) bool {
		return strings.Contains(text, "more users")
	})
	banner := d.Stdout.String()
	m := regexp.MustCompile(`(?m)^\s*certificate (\S+)`).FindStringSubmatch(banner)
	if m == nil {
		t.Fatalf("the banner names no certificate:\n%s", banner)
	}
	cert := m[1]
	if _, err := os.Stat(cert); err != nil {
		t.Fatalf("the banner's certificate: %v", err)
	}
	repl := strings.NewReplacer("127.0.0.1:3389", d.ldap, "127.0.0.1:3636", d.ldaps, "=CERT ", "="+cert+" ")
	for _, c := range readmeDemoCommands(t) {
		if want := repl.Replace(c); !strings.Contains(banner, want) {
			t.Errorf("the README shows %q; the banner does not:\n%s", want, banner)
		}
	}
	for _, p := range []string{demoPolicyPingDirectory, demoPolicyPingOne} {
		if !strings.Contains(banner, "password policy: "+p) {
			t.Errorf("the banner does not state the policy %q", p)
		}
		readme, _ := os.ReadFile("../../README.md")
		if !strings.Contains(string(readme), "route policy: "+p) {
			t.Errorf("the README does not state the policy %q", p)
		}
	}

	// The TLS examples, run as printed: OpenLDAP trusts the demo's
	// certificate through LDAPTLS_CACERT, with certificate checks on.
	env := []string{"LDAPTLS_CACERT=" + cert, "LDAPTLS_REQCERT=demand"}
	for _, args := range [][]string{
		{"-x", "-ZZ", "-H", d.url(), "-D", demoAliceDN, "-w", demoAlicePW},
		{"-x", "-H", d.urls(), "-D", demoAliceDN, "-w", demoAlicePW},
	} {
		out, errOut, code := tool(t, env, "ldapwhoami", args...)
		if code != 0 || strings.TrimSpace(out) != "dn:"+demoAliceDN {
			t.Errorf("LDAPTLS_CACERT=%s ldapwhoami %v: exit %d\n%s%s", cert, args, code, out, errOut)
		}
	}
}
