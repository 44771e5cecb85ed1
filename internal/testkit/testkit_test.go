package testkit

import (
	"crypto/tls"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestLogBufferConcurrentWritesAndAwait(t *testing.T) {
	var b LogBuffer
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range 50 {
				fmt.Fprintf(&b, "w%d-%d\n", i, j)
			}
		}()
	}
	// Await wakes on writes: it sees the last line without polling.
	if !b.Await(10*time.Second, nil, func(s string) bool { return strings.Count(s, "\n") == 400 }) {
		t.Fatalf("Await gave up with %d lines", strings.Count(b.String(), "\n"))
	}
	wg.Wait()
	if !b.Contains("w7-49\n") || b.Contains("w8-") {
		t.Error("Contains is wrong")
	}
	// A condition that never holds: Await gives up at the timeout, or at
	// once when stop is closed.
	if b.Await(20*time.Millisecond, nil, func(string) bool { return false }) {
		t.Error("Await held a false condition")
	}
	stop := make(chan struct{})
	close(stop)
	start := time.Now()
	if b.Await(time.Hour, stop, func(string) bool { return false }) || time.Since(start) > time.Minute {
		t.Error("Await did not stop")
	}
	if !b.Await(time.Hour, stop, func(s string) bool { return strings.Contains(s, "w0-0") }) {
		t.Error("Await with stop closed did not look at the text")
	}
}

func TestClock(t *testing.T) {
	start := time.Date(2025, 3, 1, 9, 0, 0, 0, time.UTC)
	c := NewClock(start)
	if !c.Now().Equal(start) {
		t.Fatal(c.Now())
	}
	c.Advance(90 * time.Minute)
	c.Advance(-30 * time.Minute)
	if got := c.Now(); !got.Equal(start.Add(time.Hour)) {
		t.Fatalf("after +90m -30m: %v", got)
	}
}

func TestWaitFor(t *testing.T) {
	n := 0
	WaitFor(t, "three calls", time.Minute, func() bool { n++; return n == 3 })
	r := Record(t, func(tb testing.TB) { WaitFor(tb, "never", 10*time.Millisecond, func() bool { return false }) })
	if !r.Stopped || !strings.Contains(r.Errors[0], "never") {
		t.Errorf("WaitFor on a false condition: %+v", r)
	}
}

func TestNoSecrets(t *testing.T) {
	r := Record(t, func(tb testing.TB) {
		NoSecrets(tb, "the log", "user=bob password=Hunter-2 ok", "Hunter-2", "absent", "")
	})
	if len(r.Errors) != 1 || strings.Contains(r.Errors[0], "Hunter") || !strings.Contains(r.Errors[0], "8 bytes") ||
		!strings.Contains(r.Errors[0], "the log") {
		t.Errorf("NoSecrets: %q", r.Errors)
	}
}

func TestTLSPairHandshake(t *testing.T) {
	server, client := TLSPair(t)
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), client)
	if err != nil {
		t.Fatalf("a client trusting the pair's certificate: %v", err)
	}
	c.Close()
	// Another pair's client does not trust this server.
	_, other := TLSPair(t)
	if c, err := tls.Dial("tcp", ln.Addr().String(), other); err == nil {
		c.Close()
		t.Fatal("a client trusting another certificate accepted this one")
	}
}

func TestCertFiles(t *testing.T) {
	cf, kf, c := CertFiles(t)
	pair, err := tls.LoadX509KeyPair(cf, kf)
	if err != nil {
		t.Fatal(err)
	}
	if string(pair.Certificate[0]) != string(c.DER) {
		t.Error("files hold another certificate")
	}
	if err := c.Leaf.VerifyHostname("localhost"); err != nil {
		t.Error(err)
	}
	if err := Cert(t, "svc.test").Leaf.VerifyHostname("localhost"); err == nil {
		t.Error("a certificate for svc.test verifies for localhost")
	}
}

func TestFreeAddr(t *testing.T) {
	a := FreeAddr(t)
	ln, err := net.Listen("tcp", a)
	if err != nil {
		t.Fatalf("FreeAddr's %s: %v", a, err)
	}
	defer ln.Close()
	_, err = net.Listen("tcp", a)
	if !IsAddrInUse(err) {
		t.Errorf("IsAddrInUse(%v) = false", err)
	}
	if IsAddrInUse(nil) || IsAddrInUse(os.ErrNotExist) {
		t.Error("IsAddrInUse of other errors")
	}
}

// child is testdata/child, built once by TestMain.
var child string

func TestMain(m *testing.M) {
	path, cleanup, err := BuildBinary("./testdata/child", "child", false)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	child = path
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func TestProcessReadyAndStop(t *testing.T) {
	p := MustStart(t, Spec{Path: child, Args: []string{"ready"}, Env: []string{"CHILD_VALUE=42"},
		Ready: "child ready", ReadyOn: Stderr})
	// The two streams are copied separately: stdout's line may come after
	// stderr's ready line.
	p.WaitOutput(t, Stdout, 30*time.Second, "the first line", func(s string) bool { return strings.Contains(s, "starting") })
	if !p.Stderr.Contains("env=42") {
		t.Fatalf("output: %q %q", p.Stdout, p.Stderr)
	}
	r := Record(t, func(tb testing.TB) { p.Stop(tb) })
	if len(r.Errors) != 0 || !p.Stderr.Contains("stopping") {
		t.Fatalf("Stop of a process that exits cleanly on SIGTERM: %q; stderr %q", r.Errors, p.Stderr)
	}
	// Stopping again (the test's cleanup does) finds it exited and clean.
	if r := Record(t, func(tb testing.TB) { p.Stop(tb) }); len(r.Errors) != 0 {
		t.Errorf("second Stop: %q", r.Errors)
	}
}

func TestProcessReadyOnTheOtherStream(t *testing.T) {
	// "child ready" appears on stdout only: waiting on stderr times out
	// and kills it.
	_, err := Start(t, Spec{Path: child, Args: []string{"crash"}, Ready: "child ready", ReadyOn: Stderr, Timeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "was not ready after") {
		t.Fatalf("Start: %v", err)
	}
}

func TestProcessExitsBeforeReady(t *testing.T) {
	_, err := Start(t, Spec{Path: child, Args: []string{"exit"}, Ready: "child ready", ReadyOn: Stderr})
	if err == nil || !strings.Contains(err.Error(), "exited (exit status 3)") || !strings.Contains(err.Error(), "bad configuration") {
		t.Fatalf("Start: %v", err)
	}
}

func TestProcessNotReadyIsKilled(t *testing.T) {
	start := time.Now()
	_, err := Start(t, Spec{Path: child, Args: []string{"slow"}, Ready: "child ready", Timeout: 200 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "was not ready after 200ms") || !strings.Contains(err.Error(), "starting") {
		t.Fatalf("Start: %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Error("the slow process was not killed")
	}
}

func TestProcessFailedExitIsReported(t *testing.T) {
	p := MustStart(t, Spec{Path: child, Args: []string{"crash"}, Ready: "child ready"})
	r := Record(t, func(tb testing.TB) { p.Stop(tb) })
	if len(r.Errors) != 1 || !strings.Contains(r.Errors[0], "exit status 2") {
		t.Fatalf("Stop of a process that fails: %q", r.Errors)
	}
	// The cleanup registered by Start would report it again: clear it.
	p.Err = nil
}

func TestWaitOutput(t *testing.T) {
	p := MustStart(t, Spec{Path: child, Args: []string{"ready"}, Ready: "starting"})
	p.WaitOutput(t, Stderr, 30*time.Second, "the ready line", func(s string) bool { return strings.Contains(s, "child ready") })
	if r := Record(t, func(tb testing.TB) {
		p.WaitOutput(tb, Stdout, 50*time.Millisecond, "a line never written", func(s string) bool { return strings.Contains(s, "never") })
	}); !r.Stopped || !strings.Contains(r.Errors[0], "no a line never written within 50ms") {
		t.Errorf("WaitOutput for a missing line: %q", r.Errors)
	}
	// Once the process has exited, WaitOutput fails at once.
	_ = p.Cmd.Process.Signal(syscall.SIGTERM)
	<-p.Done
	if r := Record(t, func(tb testing.TB) {
		p.WaitOutput(tb, Stdout, time.Hour, "more output", func(string) bool { return false })
	}); !r.Stopped || !strings.Contains(r.Errors[0], "exited") {
		t.Errorf("WaitOutput after exit: %q", r.Errors)
	}
}

func TestReplaceAndReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	ReplaceFile(t, path, "one")
	ReplaceFile(t, path, "two")
	if got := ReadFile(t, path); got != "two" {
		t.Fatalf("ReadFile = %q", got)
	}
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v (%v)", fi.Mode(), err)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the directory holds %d files, want only the replaced one", len(entries))
	}
	if r := Record(t, func(tb testing.TB) { ReadFile(tb, path+".missing") }); !r.Stopped {
		t.Error("ReadFile of a missing file did not fail")
	}
}
