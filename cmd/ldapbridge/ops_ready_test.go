package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
)

// /readyz fails while a backend is unreachable, passes once it answers,
// and fails again as soon as a drain begins, while an operation still
// holds the process; /healthz passes throughout.
func TestOpsReadinessAndDrain(t *testing.T) {
	pdAddr := freeAddr(t) // nothing listens there yet
	_, p1URL := opsPingOne(t)
	e := newOpsEnv(t)
	e.pdURL, e.p1URL = "http://"+pdAddr, p1URL
	e.write(t)
	p := opsServe(t, e)
	healthz, readyz := "http://"+e.admin+"/healthz", "http://"+e.admin+"/readyz"

	if code, body := opsGet(t, healthz); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz with a backend down: %d %q", code, body)
	}
	code, body := opsGet(t, readyz)
	if code != 503 || !strings.Contains(body, "[-]backend pd: ") || !strings.Contains(body, "[+]backend p1 ok") ||
		!strings.Contains(body, "[+]listeners ok") || !strings.HasSuffix(body, "not ready\n") {
		t.Fatalf("/readyz with PingDirectory down: %d\n%s", code, body)
	}

	// The backend comes up.
	pd := directorysim.New(directorysim.Config{})
	if err := pd.AddUser(demoBobDN, demoBobPW); err != nil {
		t.Fatal(err)
	}
	if _, err := pd.Start(pdAddr); err != nil {
		t.Fatal(err)
	}
	defer pd.Close()
	body = opsWaitStatus(t, readyz, 200)
	if body != "[+]listeners ok\n[+]backend pd ok\n[+]backend p1 ok\nok\n" {
		t.Fatalf("/readyz once ready:\n%s", body)
	}
	opsWaitLog(t, p, 1, "backends not ready")
	opsWaitLog(t, p, 1, "backends ready")

	// A bind that hangs in the backend keeps the drain going.
	pd.SetFault(directorysim.Fault{Kind: directorysim.FaultHang, PathSuffix: "/me"})
	before := pd.Requests()
	c := opsDial(t, e.ldap)
	bound := make(chan error, 1)
	go func() { bound <- c.Bind(demoBobDN, demoBobPW) }()
	for deadline := time.Now().Add(20 * time.Second); pd.Requests() == before; {
		if time.Now().After(deadline) {
			t.Fatal("the bind never reached the backend")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	body = opsWaitStatus(t, readyz, 503)
	if !strings.Contains(body, "[-]draining") {
		t.Fatalf("/readyz during the drain:\n%s", body)
	}
	if code, _ := opsGet(t, healthz); code != 200 {
		t.Fatalf("/healthz during the drain: %d", code)
	}
	select {
	case <-p.Done:
		t.Fatalf("the process exited with an operation in flight:\n%s", p.Stderr)
	default:
	}

	// The backend lets go; the operation ends and so does the process.
	pd.Close()
	if err := <-bound; err == nil {
		t.Error("the bind succeeded against a backend that never answered")
	}
	select {
	case <-p.Done:
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit after the last operation ended:\n%s", p.Stderr)
	}
	if p.Err != nil {
		t.Fatalf("exit: %v\n%s", p.Err, p.Stderr)
	}
}
