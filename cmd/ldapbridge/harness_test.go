package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/internal/testkit"
)

// binPath is the ldapbridge binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	path, cleanup, err := testkit.BuildBinary(".", "ldapbridge", raceEnabled)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// freeAddr returns a loopback address that was free a moment ago (see
// testkit.FreeAddr).
func freeAddr(t *testing.T) string { t.Helper(); return testkit.FreeAddr(t) }

// proc is a running ldapbridge process; the test's cleanup stops it with
// SIGTERM and expects a clean exit.
type proc = testkit.Process

// tryStartProc starts the binary and waits for the ready line on stdout;
// it returns an error, with the output, when the process exits first.
func tryStartProc(t *testing.T, ready string, args ...string) (*proc, error) {
	t.Helper()
	return testkit.Start(t, testkit.Spec{Path: binPath, Args: args, Ready: ready, ReadyOn: testkit.Stdout})
}

// demo is a running "ldapbridge demo" on free loopback ports.
type demo struct {
	*proc
	ldap, ldaps, admin string
}

func startDemo(t *testing.T) *demo {
	t.Helper()
	// freeAddr's ports can be taken by a parallel test before the demo
	// binds them; try again with new ones.
	for attempt := 0; ; attempt++ {
		d := &demo{ldap: freeAddr(t), ldaps: freeAddr(t), admin: freeAddr(t)}
		p, err := tryStartProc(t, "Try, in another terminal", "demo", "--ldap-addr", d.ldap, "--ldaps-addr", d.ldaps, "--admin-addr", d.admin, "--log-level", "debug")
		if err == nil {
			d.proc = p
			return d
		}
		if attempt == 4 || !testkit.IsAddrInUse(err) {
			t.Fatal(err)
		}
	}
}

func (d *demo) url() string  { return "ldap://" + d.ldap }
func (d *demo) urls() string { return "ldaps://" + d.ldaps }

// tool runs one of OpenLDAP's command-line tools.
func tool(t *testing.T, env []string, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Fatalf("%s is not installed: run `make deps` (the test command installs ldap-utils)", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	// The machine's own ldap.conf stays in force, as it would for a user.
	cmd.Env = append(os.Environ(), env...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err = cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%s %v: timed out", name, args)
	}
	code = 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return o.String(), e.String(), code
}
