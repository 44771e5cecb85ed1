package pingdirectory

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/transport/transporttest"
)

// systemCA is the process's only system root during these tests (see
// TestMain), so that "only the ca_file's CAs" can be told from "the
// system roots plus the ca_file's".
var systemCA *transporttest.CA

func TestMain(m *testing.M) {
	transporttest.Main(m, func(ca *transporttest.CA) { systemCA = ca })
}

// The rule for "sent", against a server that closes the connection at
// each stage of a request: a bind that got no answer is unavailable; a
// change that may have reached the server has an unknown outcome; neither
// is sent twice.
func TestConnectionClosedAtEachStage(t *testing.T) {
	for _, stage := range transporttest.Stages {
		t.Run(stage.String(), func(t *testing.T) {
			sim := directorysim.New(directorysim.Config{Policy: simPolicy, Admins: []string{adminDN}})
			if err := sim.AddUser(aliceDN, alicePW); err != nil {
				t.Fatal(err)
			}
			srv := transporttest.NewStageServer(t, sim)
			c, _ := newClient(t, srv.URL, nil)
			srv.Set(stage)

			out := bind(c, aliceDN, alicePW, false)
			if out.Code != bridge.Unavailable || srv.Broken() != 1 {
				t.Errorf("bind: %v %q after %d requests, want unavailable after 1", out.Code, out.Diagnostic, srv.Broken())
			}
			before := srv.Broken()
			out = selfChange(c, aliceDN, alicePW, "", "New-Alice-2")
			if out.Code != bridge.Other || !strings.Contains(out.Diagnostic, "outcome unknown") {
				t.Errorf("change: %v %q, want other (outcome unknown)", out.Code, out.Diagnostic)
			}
			if n := srv.Broken() - before; n != 1 {
				t.Errorf("change: the server saw %d requests, want exactly 1", n)
			}
			// Only a request the server passed on can have changed it.
			if changed := sim.CheckPassword(aliceDN, "New-Alice-2"); changed != (stage == transporttest.ClosePartResponse) {
				t.Errorf("changed = %v at stage %v", changed, stage)
			}
		})
	}
}

// A change that could not connect certainly did not leave: it is sent
// again, and reaches the server once.
func TestChangeResentOnlyAfterDialError(t *testing.T) {
	s, u := startSim(t, simPolicy, nil)
	c, _ := newClient(t, u, nil)
	s.SetFault(directorysim.Fault{Kind: directorysim.FaultStatus, Status: 503, Count: 1})
	before := s.Requests()
	if out := selfChange(c, aliceDN, alicePW, "", "New-Alice-2"); out.Code != bridge.Unavailable || s.Requests()-before != 1 {
		t.Fatalf("503 without Retry-After: %v after %d requests", out.Code, s.Requests()-before)
	}
}

// ca_file means "only these CAs": a server signed by a system root is
// refused when a ca_file is set, one signed by the file's CA accepted.
func TestCAFileIsTheOnlyTrust(t *testing.T) {
	sim := directorysim.New(directorysim.Config{Policy: simPolicy})
	if err := sim.AddUser(aliceDN, alicePW); err != nil {
		t.Fatal(err)
	}
	transporttest.CheckCAFile(t, sim, systemCA, func(url, caFile string) (bool, string) {
		c, _ := newClient(t, url, func(cfg *Config) { cfg.CAFile = caFile })
		out := bind(c, aliceDN, alicePW, false)
		return out.OK(), out.Diagnostic
	})
}

// Close leaves no idle connection behind: the server sees it closed.
func TestCloseDropsIdleConnections(t *testing.T) {
	sim := directorysim.New(directorysim.Config{Policy: simPolicy})
	if err := sim.AddUser(aliceDN, alicePW); err != nil {
		t.Fatal(err)
	}
	url, open := transporttest.CountingServer(t, sim)
	c, _ := newClient(t, url, nil)
	if out := bind(c, aliceDN, alicePW, false); !out.OK() {
		t.Fatal(out.Code, out.Diagnostic)
	}
	if open() != 1 {
		t.Fatalf("%d connections open after a bind, want 1 (kept alive)", open())
	}
	c.Close()
	transporttest.WaitAllClosed(t, open)
}

// Wrong place is not wrong password: a base URL with the API path pasted
// in, or a proxy's HTML 404, makes binds unavailable, changes of unknown
// outcome and readiness fail; never invalidCredentials.
func TestWrongPlaceIsNotWrongPassword(t *testing.T) {
	_, u := startSim(t, simPolicy, nil)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("<html><body><h1>404 Not Found</h1></body></html>"))
	}))
	defer proxy.Close()
	for name, base := range map[string]string{
		"path pasted in":   u + "/directory/v1",
		"proxy's HTML 404": proxy.URL,
	} {
		c, _ := newClient(t, base, nil)
		if out := bind(c, aliceDN, alicePW, true); out.Code != bridge.Unavailable {
			t.Errorf("%s: bind %v %q, want unavailable", name, out.Code, out.Diagnostic)
		}
		if out := selfChange(c, aliceDN, alicePW, "", "New-Alice-2"); out.Code != bridge.Other || !strings.Contains(out.Diagnostic, "outcome unknown") {
			t.Errorf("%s: change %v %q, want other (outcome unknown)", name, out.Code, out.Diagnostic)
		}
		if err := c.Check(t.Context()); err == nil {
			t.Errorf("%s: readiness passed", name)
		}
	}
}
