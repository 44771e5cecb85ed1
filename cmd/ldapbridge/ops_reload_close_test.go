package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/internal/testkit/simkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
)

// connTracker counts a test server's open client connections.
type connTracker struct {
	mu   sync.Mutex
	open map[net.Conn]bool
}

func (c *connTracker) track(nc net.Conn, st http.ConnState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch st {
	case http.StateNew:
		c.open[nc] = true
	case http.StateClosed, http.StateHijacked:
		delete(c.open, nc)
	}
}

func (c *connTracker) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.open)
}

// A reload closes what the old generation owned: once it is swapped out,
// its backend clients' idle connections to the backend are gone (and the
// new generation has opened none yet).
func TestOpsReloadClosesOldBackends(t *testing.T) {
	sim := simkit.NewDirectory(t, directorysim.Config{
		Policy: directorysim.Policy{MinLength: 8, MinDigits: 1, History: 3},
		Admins: []string{demoAdminDN},
	}, map[string]string{demoBobDN: demoBobPW, demoAdminDN: demoAdminPW})
	conns := &connTracker{open: map[net.Conn]bool{}}
	srv := httptest.NewUnstartedServer(sim)
	srv.Config.ConnState = conns.track
	srv.Start()
	t.Cleanup(srv.Close)
	_, p1URL := opsPingOne(t)

	e := newOpsEnv(t)
	e.pdURL, e.p1URL = srv.URL, p1URL
	e.write(t)
	p := opsServe(t, e)

	// Two binds in parallel leave the client's keep-alive connections
	// to the directory idle in its pool.
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			l := opsDial(t, e.ldap)
			defer l.Close()
			if err := l.Bind(demoBobDN, demoBobPW); err != nil {
				t.Errorf("bind: %v", err)
			}
		}()
	}
	wg.Wait()
	if n := conns.count(); n == 0 {
		t.Fatal("the bridge holds no connection to the directory after two binds")
	}

	e.extraRoute = "  - base: \"o=added\"\n    backend: pd\n"
	e.write(t)
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	opsWaitLog(t, p, 1, "configuration reloaded", `"trigger":"SIGHUP"`)
	deadline := time.Now().Add(10 * time.Second)
	for conns.count() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections of the old generation still open 10s after the reload", conns.count())
		}
		time.Sleep(20 * time.Millisecond)
	}

	// The new generation serves.
	l := opsDial(t, e.ldap)
	defer l.Close()
	if err := l.Bind(demoBobDN, demoBobPW); err != nil {
		t.Fatalf("bind after the reload: %v", err)
	}
}
