package testkit

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BuildBinary builds the main package pkg ("." or a path relative to the
// test's directory) into a new temporary directory, with the race
// detector when race is set, and returns the binary's path and a function
// that removes it. It is meant for TestMain, so it returns errors; the
// build's own output goes to stderr.
func BuildBinary(pkg, name string, race bool) (path string, cleanup func(), err error) {
	dir, err := os.MkdirTemp("", name+"-test-")
	if err != nil {
		return "", nil, fmt.Errorf("build %s: %w", name, err)
	}
	cleanup = func() { os.RemoveAll(dir) }
	path = filepath.Join(dir, name)
	args := []string{"build", "-o", path}
	if race {
		args = append(args, "-race")
	}
	cmd := exec.Command("go", append(args, pkg)...)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		cleanup()
		return "", nil, fmt.Errorf("build %s: %w", name, err)
	}
	return path, cleanup, nil
}

// Stream is one of a process's output streams.
type Stream int

const (
	Stdout Stream = iota
	Stderr
)

func (s Stream) String() string {
	if s == Stderr {
		return "stderr"
	}
	return "stdout"
}

// Spec says which binary to run and when it is ready.
type Spec struct {
	Path string
	Args []string
	Env  []string // added to the test's environment
	// Ready is text of the line that says the process is ready (a
	// listener's "serving" log line, say), and ReadyOn the stream it
	// appears on; with Ready "", Start does not wait.
	Ready   string
	ReadyOn Stream
	// Timeout bounds the wait for Ready; default 60 s (a binary built
	// with -race on a busy machine starts slowly).
	Timeout time.Duration
}

// Process is a running binary whose output the test collects.
type Process struct {
	Cmd            *exec.Cmd
	Stdout, Stderr *LogBuffer
	// Done is closed once the process has exited; Err is then Wait's
	// result (read it only after Done).
	Done chan struct{}
	Err  error
	name string
}

// Start runs the binary and waits for its ready line. When the process
// exits first, or the wait times out (the process is then killed), it
// returns an error that carries both streams. Once ready, the process is
// stopped by Stop when the test ends.
func Start(t testing.TB, s Spec) (*Process, error) {
	t.Helper()
	p := &Process{Stdout: &LogBuffer{}, Stderr: &LogBuffer{}, Done: make(chan struct{}), name: filepath.Base(s.Path)}
	p.Cmd = exec.Command(s.Path, s.Args...)
	p.Cmd.Stdout, p.Cmd.Stderr = p.Stdout, p.Stderr
	if s.Env != nil {
		p.Cmd.Env = append(os.Environ(), s.Env...)
	}
	if err := p.Cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", p.name, err)
	}
	go func() {
		p.Err = p.Cmd.Wait()
		close(p.Done)
	}()
	if s.Ready != "" {
		timeout := s.Timeout
		if timeout <= 0 {
			timeout = 60 * time.Second
		}
		out := p.Stdout
		if s.ReadyOn == Stderr {
			out = p.Stderr
		}
		ready := func(text string) bool { return strings.Contains(text, s.Ready) }
		if !out.Await(timeout, p.Done, ready) {
			why := "exited"
			select {
			case <-p.Done:
				why = fmt.Sprintf("exited (%v)", p.Err)
			default:
				why = fmt.Sprintf("was not ready after %v", timeout)
				_ = p.Cmd.Process.Kill()
				<-p.Done
			}
			return nil, fmt.Errorf("%s %s before %q on %v:\nstdout:\n%s\nstderr:\n%s",
				p.name, why, s.Ready, s.ReadyOn, p.Stdout, p.Stderr)
		}
	}
	t.Cleanup(func() { p.Stop(t) })
	return p, nil
}

// MustStart is Start that fails the test on an error.
func MustStart(t testing.TB, s Spec) *Process {
	t.Helper()
	p, err := Start(t, s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Stop sends SIGTERM, as a supervisor would, and expects a clean exit
// within 30 s; it kills the process otherwise. A process that has already
// exited is not signalled, but its exit status is still checked.
func (p *Process) Stop(t testing.TB) {
	t.Helper()
	select {
	case <-p.Done:
	default:
		_ = p.Cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-p.Done:
		case <-time.After(30 * time.Second):
			_ = p.Cmd.Process.Kill()
			<-p.Done
			t.Errorf("%s did not exit within 30s of SIGTERM; stderr:\n%s", p.name, p.Stderr)
			return
		}
	}
	if p.Err != nil {
		t.Errorf("%s exited with %v; stderr:\n%s", p.name, p.Err, p.Stderr)
	}
}

// WaitOutput waits until cond holds for what the process has written to
// stream; the test fails after timeout, or if the process exits first.
func (p *Process) WaitOutput(t testing.TB, stream Stream, timeout time.Duration, what string, cond func(text string) bool) {
	t.Helper()
	out := p.Stdout
	if stream == Stderr {
		out = p.Stderr
	}
	if !out.Await(timeout, p.Done, cond) {
		if isClosed(p.Done) {
			t.Fatalf("%s exited (%v) before %s; %v:\n%s", p.name, p.Err, what, stream, out)
		}
		t.Fatalf("%s: no %s within %v; %v:\n%s", p.name, what, timeout, stream, out)
	}
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// FreeAddr returns a loopback address that was free a moment ago, for a
// binary to listen on. It picks ports below the kernel's ephemeral range
// (32768 and up on Linux), so the outgoing connections of tests running in
// parallel cannot take it before the binary binds it. Another test can
// still take it: a caller that starts a binary on it should retry on
// IsAddrInUse.
func FreeAddr(t testing.TB) string {
	t.Helper()
	for range 200 {
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

// IsAddrInUse reports whether err (from Start, say) says an address was
// already in use.
func IsAddrInUse(err error) bool {
	return err != nil && (errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use"))
}
