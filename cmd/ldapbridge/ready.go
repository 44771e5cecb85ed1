package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// backendCheck is one backend's readiness probe: PingDirectory answers,
// PingOne gives a token and answers.
type backendCheck struct {
	name  string
	check func(context.Context) error
}

// readiness is what /readyz reports: the listeners are up, the bridge is
// not draining, and every backend of the configuration in force answers.
// Backend results are cached for ttl so that frequent probes (several
// kubelets, a load balancer) do not each reach the backends.
type readiness struct {
	draining atomic.Bool
	serving  atomic.Bool
	checks   atomic.Pointer[[]backendCheck]

	ttl     time.Duration
	timeout time.Duration
	log     *slog.Logger

	mu      sync.Mutex // held while checking: concurrent probes share one check
	at      time.Time
	of      *[]backendCheck // the checks the cached results are for
	results []checkResult
	ok      bool // the last result, for logging changes only
	known   bool
}

type checkResult struct {
	name string
	err  error
}

func newReadiness(log *slog.Logger) *readiness {
	return &readiness{ttl: 2 * time.Second, timeout: 5 * time.Second, log: log}
}

// setChecks installs the checks of a new configuration.
func (r *readiness) setChecks(c []backendCheck) { r.checks.Store(&c) }

// backends returns the backends' results, from the cache when fresh.
func (r *readiness) backends(ctx context.Context) []checkResult {
	r.mu.Lock()
	defer r.mu.Unlock()
	checks := r.checks.Load()
	if checks == nil {
		return nil
	}
	if r.of == checks && time.Since(r.at) < r.ttl {
		return r.results
	}
	// One probe's client going away must not cut short the check that
	// other probes are waiting for.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
	defer cancel()
	res := make([]checkResult, len(*checks))
	var wg sync.WaitGroup
	for i, c := range *checks {
		res[i].name = c.name
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i].err = c.check(ctx)
		}()
	}
	wg.Wait()
	r.results, r.at, r.of = res, time.Now(), checks
	r.logChange(res)
	return res
}

// logChange logs when the backends' readiness changes, not on every probe.
func (r *readiness) logChange(res []checkResult) {
	var failed []any
	for _, c := range res {
		if c.err != nil {
			failed = append(failed, slog.String(c.name, c.err.Error()))
		}
	}
	ok := len(failed) == 0
	if r.known && ok == r.ok {
		return
	}
	r.known, r.ok = true, ok
	if ok {
		r.log.Info("backends ready")
	} else {
		r.log.Warn("backends not ready", slog.Group("failed", failed...))
	}
}

// ServeHTTP answers /readyz: 200 "ok" or 503 "not ready", after one line
// per check ("[+]name ok" or "[-]name: reason").
func (r *readiness) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	var b strings.Builder
	ok := true
	line := func(name string, err error) {
		if err != nil {
			ok = false
			fmt.Fprintf(&b, "[-]%s: %v\n", name, err)
		} else {
			fmt.Fprintf(&b, "[+]%s ok\n", name)
		}
	}
	switch {
	case r.draining.Load():
		line("draining", fmt.Errorf("shutting down; not taking new clients"))
	case !r.serving.Load():
		line("listeners", fmt.Errorf("not serving yet"))
	default:
		line("listeners", nil)
		for _, c := range r.backends(req.Context()) {
			line("backend "+c.name, c.err)
		}
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if ok {
		b.WriteString("ok\n")
	} else {
		w.WriteHeader(http.StatusServiceUnavailable)
		b.WriteString("not ready\n")
	}
	_, _ = w.Write([]byte(b.String()))
}
