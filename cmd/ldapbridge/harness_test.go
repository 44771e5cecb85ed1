package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// binPath is the ldapbridge binary built once for the end-to-end tests.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ldapbridge-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "ldapbridge")
	args := []string{"build", "-o", binPath}
	if raceEnabled {
		args = append(args, "-race")
	}
	build := exec.Command("go", append(args, ".")...)
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ldapbridge:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// lockedBuffer collects a process's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// freeAddr returns a loopback address that was free a moment ago. It picks
// ports below the kernel's ephemeral range (32768 and up on Linux), so the
// outgoing connections of tests running in parallel cannot take it before
// the binary binds it.
func freeAddr(t *testing.T) string {
	t.Helper()
	for i := 0; i < 200; i++ {
		addr := fmt.Sprintf("127.0.0.1:%d", 20000+rand.IntN(12000))
		ln, err := net.Listen("tcp", addr)
		if err == nil {
			ln.Close()
			return addr
		}
	}
	t.Fatal("no free port below the ephemeral range")
	return ""
}

// proc is a running ldapbridge process.
type proc struct {
	cmd    *exec.Cmd
	stdout *lockedBuffer
	stderr *lockedBuffer
	done   chan struct{}
	err    error
}

// tryStartProc starts the binary and waits for the ready line on stdout;
// it returns an error, with the output, when the process exits first.
func tryStartProc(t *testing.T, ready string, args ...string) (*proc, error) {
	t.Helper()
	p := &proc{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binPath, args...)
	pr, pw := io.Pipe()
	p.cmd.Stdout = io.MultiWriter(p.stdout, pw)
	p.cmd.Stderr = p.stderr
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		p.err = p.cmd.Wait()
		pw.Close()
		close(p.done)
	}()
	found := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		ok := false
		for sc.Scan() {
			if !ok && strings.Contains(sc.Text(), ready) {
				ok = true
				found <- true
			}
		}
		if !ok {
			found <- false
		}
		io.Copy(io.Discard, pr)
	}()
	select {
	case ok := <-found:
		if !ok {
			<-p.done
			return nil, fmt.Errorf("ldapbridge %v exited before %q:\nstdout:\n%s\nstderr:\n%s", args, ready, p.stdout, p.stderr)
		}
	case <-time.After(60 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("ldapbridge %v not ready:\nstdout:\n%s\nstderr:\n%s", args, p.stdout, p.stderr)
	}
	t.Cleanup(func() { p.stop(t) })
	return p, nil
}

// stop sends SIGTERM and expects a clean exit, as a supervisor would.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	select {
	case <-p.done:
	default:
		p.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			p.cmd.Process.Kill()
			<-p.done
			t.Errorf("ldapbridge did not exit within 30s of SIGTERM; stderr:\n%s", p.stderr)
			return
		}
	}
	if p.err != nil {
		t.Errorf("ldapbridge exited with %v; stderr:\n%s", p.err, p.stderr)
	}
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
		if attempt == 4 || !strings.Contains(err.Error(), "address already in use") {
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
