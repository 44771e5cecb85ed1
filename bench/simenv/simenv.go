// Package simenv runs the two simulators as the benchmark needs them: N
// generated users each (bench/users), a policy that lets a user cycle
// through its passwords, an optional latency per call, and a control
// endpoint, GET /_sim/requests, that reports how many HTTP requests each
// simulator served and their service-time percentiles. cmd/ldapsim serves
// it as a process of its own; the load tool's test uses it in-process.
package simenv

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/hist"
	"github.com/ldapbridge/ldapbridge/bench/users"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// The PingOne simulator's fixed identity; it protects nothing but the
// benchmark.
const (
	EnvironmentID = "0b7e3c55-3c77-4f7e-9e0b-6be5c2b1e001"
	ClientID      = "ldapbench-worker"
	ClientSecret  = "ldapbench-worker-secret"
	// AdminDN may reset any PingDirectory user's password.
	AdminDN       = "cn=admin," + users.PingDirectoryBase
	AdminPassword = "Admin-Passw0rd!"
	// SearcherDN is the bridge's local service account that may search
	// both routes (the demo's): search-then-bind applications bind as it
	// to look users up (ldapbench -mode searchbind).
	SearcherDN       = "cn=app,ou=services," + users.PingDirectoryBase
	SearcherPassword = "App-Passw0rd!"
	// ServiceDN is the PingDirectory account the bridge searches with on
	// behalf of its local accounts (the backend's service_account): a
	// simulator administrator, so that its access control lets it see
	// every entry.
	ServiceDN       = "cn=ldapbridge,ou=services," + users.PingDirectoryBase
	ServicePassword = "Service-Passw0rd!7"
)

// Options configure the simulators.
type Options struct {
	// Users is the number of users generated in each simulator.
	Users int
	// Latency and Jitter delay every request by Latency plus a uniformly
	// random share of Jitter.
	Latency, Jitter time.Duration
	// PDAddr and P1Addr are the listen addresses ("127.0.0.1:0": any port).
	PDAddr, P1Addr string
	// TLS, when set, serves HTTPS (HTTP/2 offered) with this config.
	TLS *tls.Config
}

// Env is a running pair of simulators.
type Env struct {
	PDURL, P1URL string

	pd    *directorysim.Server
	p1    *pingonesim.Server
	pdSt  *counter
	p1St  *counter
	srvs  []*http.Server
	close sync.Once
}

// maxUsers bounds generation: PingOne's simulator checks username
// uniqueness with a scan, so creation is quadratic.
const maxUsers = 50000

// Start generates the users and serves both simulators.
func Start(o Options) (*Env, error) {
	if o.Users < 1 || o.Users > maxUsers {
		return nil, fmt.Errorf("simenv: users must be 1 to %d, not %d", maxUsers, o.Users)
	}
	if o.Latency < 0 || o.Jitter < 0 {
		return nil, errors.New("simenv: latency and jitter must not be negative")
	}
	// No history, minimum age or lockout: the load tool alternates
	// passwords as fast as it can, and a typo must not lock users out.
	pd := directorysim.New(directorysim.Config{
		Policy: directorysim.Policy{MinLength: 8, MinDigits: 1},
		Admins: []string{AdminDN, ServiceDN},
	})
	for _, u := range [][2]string{{AdminDN, AdminPassword}, {ServiceDN, ServicePassword}} {
		if err := pd.AddUser(u[0], u[1]); err != nil {
			return nil, fmt.Errorf("simenv: %w", err)
		}
	}
	p1 := pingonesim.New(pingonesim.Config{EnvironmentID: EnvironmentID, ClientID: ClientID, ClientSecret: ClientSecret})
	for i := 0; i < o.Users; i++ {
		if err := pd.AddUser(users.DN(users.PingDirectoryDN, i), users.Password(i, 0)); err != nil {
			return nil, fmt.Errorf("simenv: %w", err)
		}
		name := users.PingOneUsername(i)
		if _, err := p1.AddUser(name, name+"@example.com", users.Password(i, 0)); err != nil {
			return nil, fmt.Errorf("simenv: %w", err)
		}
	}
	pd.SetLatency(o.Latency, o.Jitter)
	p1.SetLatency(o.Latency, o.Jitter)

	e := &Env{pd: pd, p1: p1, pdSt: &counter{h: pd}, p1St: &counter{h: p1}}
	var err error
	if e.PDURL, err = e.serve(o.PDAddr, o.TLS, e.pdSt); err == nil {
		e.P1URL, err = e.serve(o.P1Addr, o.TLS, e.p1St)
	}
	if err != nil {
		e.Close()
		return nil, err
	}
	return e, nil
}

func (e *Env) serve(addr string, tc *tls.Config, c *counter) (string, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("simenv: listen %s: %w", addr, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /_sim/requests", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(e.Stats())
	})
	mux.HandleFunc("POST /_sim/reset", func(w http.ResponseWriter, r *http.Request) {
		e.ResetLatency()
		w.WriteHeader(http.StatusNoContent)
	})
	mux.Handle("/", c)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		ConnState: func(_ net.Conn, st http.ConnState) {
			if st == http.StateNew {
				c.conns.Add(1)
			}
		}}
	scheme := "http"
	if tc != nil {
		srv.TLSConfig = tc.Clone()
		srv.TLSConfig.NextProtos = []string{"h2", "http/1.1"}
		ln = tls.NewListener(ln, srv.TLSConfig)
		scheme = "https"
	}
	e.srvs = append(e.srvs, srv)
	go func() { _ = srv.Serve(ln) }()
	return scheme + "://" + ln.Addr().String(), nil
}

// Close stops both simulators.
func (e *Env) Close() {
	e.close.Do(func() {
		e.pd.Close()
		e.p1.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, s := range e.srvs {
			if s.Shutdown(ctx) != nil {
				_ = s.Close()
			}
		}
	})
}

// SimStats is what one simulator reports.
type SimStats struct {
	// Requests counts every HTTP request, token requests included.
	Requests int64 `json:"requests"`
	// Connections counts the TCP connections accepted: requests per
	// connection shows whether the bridge's HTTP pool keeps them alive.
	Connections int64 `json:"connections"`
	// TokenGrants is the number of access tokens issued (PingOne only).
	TokenGrants int64 `json:"token_grants,omitempty"`
	// Latency is the service time (the configured delay included) of
	// the requests since the last reset.
	Latency Percentiles `json:"latency"`
}

// Percentiles are in milliseconds.
type Percentiles struct {
	Count uint64  `json:"count"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p999_ms"`
	Max   float64 `json:"max_ms"`
}

// FromHist summarises h.
func FromHist(h *hist.H) Percentiles {
	ms := func(d time.Duration) float64 { return float64(d) / 1e6 }
	return Percentiles{Count: h.Count(), P50: ms(h.Quantile(0.5)), P90: ms(h.Quantile(0.9)),
		P99: ms(h.Quantile(0.99)), P999: ms(h.Quantile(0.999)), Max: ms(h.Max())}
}

// Stats is the body of GET /_sim/requests.
type Stats struct {
	PingDirectory SimStats `json:"pingdirectory"`
	PingOne       SimStats `json:"pingone"`
}

// Stats reads both simulators' counters.
func (e *Env) Stats() Stats {
	pd, p1 := e.pdSt.stats(), e.p1St.stats()
	p1.TokenGrants = e.p1.TokenGrants()
	return Stats{PingDirectory: pd, PingOne: p1}
}

// ResetLatency starts new service-time percentiles (the request counts
// keep counting).
func (e *Env) ResetLatency() {
	e.pdSt.reset()
	e.p1St.reset()
}

// counter counts the requests a simulator serves and the connections
// they come on, and times the requests.
type counter struct {
	h     http.Handler
	n     atomic.Int64
	conns atomic.Int64
	mu    sync.Mutex
	lat   hist.H
}

func (c *counter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.n.Add(1)
	start := time.Now()
	defer func() {
		d := time.Since(start)
		c.mu.Lock()
		c.lat.Record(d)
		c.mu.Unlock()
	}()
	c.h.ServeHTTP(w, r)
}

func (c *counter) stats() SimStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return SimStats{Requests: c.n.Load(), Connections: c.conns.Load(), Latency: FromHist(&c.lat)}
}

func (c *counter) reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lat.Reset()
}
