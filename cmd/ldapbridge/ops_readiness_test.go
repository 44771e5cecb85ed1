package main

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/pingone"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// The readiness handler against a real PingOne simulator: a worker that
// gets no token is not ready; results are cached and shared between
// concurrent probes; new checks (a reload) are not answered from the old
// cache; a drain fails it.
func TestReadinessHandler(t *testing.T) {
	sim := pingonesim.New(pingonesim.Config{EnvironmentID: demoEnvID, ClientID: demoClientID, ClientSecret: demoClientSecret})
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	check := func(secret string) []backendCheck {
		c, err := pingone.New(pingone.Config{
			Name: "p1", EnvironmentID: demoEnvID, AuthURL: url, APIURL: url, ClientID: demoClientID,
			ClientSecret: bridge.SecretString(secret), Timeout: 10 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		return []backendCheck{{name: "p1", check: c.Check}}
	}
	r := newReadiness(slog.New(slog.DiscardHandler))
	r.ttl = time.Hour // only new checks refresh the cache in this test
	srv := httptest.NewServer(r)
	defer srv.Close()
	get := func() (int, string) {
		t.Helper()
		resp, err := http.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	r.setChecks(check("not-the-secret"))
	if code, body := get(); code != 503 || !strings.Contains(body, "[-]listeners: not serving yet") {
		t.Fatalf("before serving: %d\n%s", code, body)
	}
	r.serving.Store(true)
	code, body := get()
	if code != 503 || !strings.Contains(body, "[-]backend p1: ") || !strings.Contains(body, "token") || strings.Contains(body, "not-the-secret") {
		t.Fatalf("wrong worker secret: %d\n%s", code, body)
	}
	n := sim.Requests()
	if code2, body2 := get(); code2 != code || body2 != body || sim.Requests() != n {
		t.Fatalf("a second probe was not answered from the cache (%d more requests)", sim.Requests()-n)
	}

	// New checks, as after a reload: checked afresh.
	r.setChecks(check(demoClientSecret))
	n = sim.Requests()
	if code, body := get(); code != 200 || body != "[+]listeners ok\n[+]backend p1 ok\nok\n" {
		t.Fatalf("after the fix: %d\n%s", code, body)
	}
	one := sim.Requests() - n
	if one == 0 {
		t.Fatal("the new checks were answered from the old cache")
	}
	// Probes that arrive together share one check.
	r.setChecks(check(demoClientSecret))
	n = sim.Requests()
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := http.Get(srv.URL)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i] = resp.StatusCode
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("probe %d: %d", i, c)
		}
	}
	if d := sim.Requests() - n; d != one {
		t.Fatalf("8 concurrent probes made %d backend requests; one check makes %d", d, one)
	}

	r.draining.Store(true)
	if code, body := get(); code != 503 || !strings.HasPrefix(body, "[-]draining") {
		t.Fatalf("draining: %d\n%s", code, body)
	}
}
