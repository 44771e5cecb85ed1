package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ldapbridge/ldapbridge/audit"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/confkit"
	"github.com/ldapbridge/ldapbridge/ldapfront"
	"github.com/ldapbridge/ldapbridge/metrics"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "ldapbridge serve: --config FILE is required")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "ldapbridge serve: %v\n", err)
		return 1
	}
	return serveConfig(cfg, *path, stdout, stderr, nil)
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "configuration file (YAML)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "ldapbridge check-config: --config FILE is required")
		return 2
	}
	cfg, err := config.Load(*path)
	if err == nil {
		// What the config names must also build: backends and routes.
		_, err = buildState(cfg, slog.New(slog.DiscardHandler))
	}
	if err != nil {
		fmt.Fprintf(stdout, "%s:\n%v\n", *path, err)
		return 1
	}
	fmt.Fprintln(stdout, "ok")
	return 0
}

// newLogger makes the process log; a reload can change level.
func newLogger(cfg config.Log, w io.Writer, level *slog.LevelVar) *slog.Logger {
	level.Set(logLevel(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == config.FormatText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func logLevel(name string) slog.Level {
	switch name {
	case config.LevelDebug:
		return slog.LevelDebug
	case config.LevelWarn:
		return slog.LevelWarn
	case config.LevelError:
		return slog.LevelError
	}
	return slog.LevelInfo
}

// buildBackends makes one client per configured backend.
func buildBackends(cfg *config.Config, log *slog.Logger) (map[string]bridge.Backend, error) {
	backends, _, err := buildBackendsWith(cfg, log, nil)
	return backends, err
}

// buildBackendsWith makes one client per configured backend, instrumented
// for m when m is not nil, and their readiness checks. Each backend's
// package builds it from its own configuration block; every value of the
// map is a confkit.Instance (Close releases its connections).
func buildBackendsWith(cfg *config.Config, log *slog.Logger, m *metrics.Metrics) (map[string]bridge.Backend, []backendCheck, error) {
	out := make(map[string]bridge.Backend, len(cfg.Backends))
	var checks []backendCheck
	var errs []error
	for _, b := range cfg.Backends {
		env := confkit.Env{Name: b.Name, Timeout: time.Duration(b.Timeout), CAFile: b.CAFile, Logger: log.With("backend", b.Name)}
		if m != nil {
			name := b.Name
			// The clients name their calls in each request's context.
			env.Wrap = func(rt http.RoundTripper) http.RoundTripper { return m.Transport(name, transport.CallName, rt) }
			env.CacheObserver = func(cache string, hit bool) { m.CacheLookup(name, cache, hit) }
			m.Backend(name)
		}
		blk := b.Settings()
		if blk == nil {
			errs = append(errs, fmt.Errorf("backend %q: unknown type %q", b.Name, b.Type))
			continue
		}
		c, err := blk.Build(env)
		if err != nil {
			errs = append(errs, fmt.Errorf("backend %q: %w", b.Name, err))
			continue
		}
		out[b.Name] = c
		checks = append(checks, backendCheck{name: b.Name, check: c.Check})
	}
	return out, checks, errors.Join(errs...)
}

// buildState turns a configuration into the core's immutable state.
func buildState(cfg *config.Config, log *slog.Logger) (*bridge.State, error) {
	backends, err := buildBackends(cfg, log)
	if err != nil {
		return nil, err
	}
	return bridge.NewState(cfg.BridgeRoutes(), backends, cfg.LocalAccounts())
}

func frontLimits(l config.Limits) ldapfront.Limits {
	return ldapfront.Limits{
		MaxMessageBytes:  l.MaxMessageBytes,
		MaxConnections:   l.MaxConnections,
		MaxConnsPerIP:    l.MaxConnectionsPerIP,
		MaxOpsPerConn:    l.MaxOpsPerConnection,
		IdleTimeout:      time.Duration(l.IdleTimeout),
		MessageTimeout:   time.Duration(l.MessageTimeout),
		WriteTimeout:     time.Duration(l.WriteTimeout),
		OperationTimeout: time.Duration(l.OperationTimeout),
		RatePerIP:        l.RatePerIP,
		FailedBindsPerDN: l.FailedBindsPerDN,
	}
}

var cleartextPolicies = map[string]ldapfront.CleartextPolicy{
	config.CleartextLoopback: ldapfront.CleartextLoopback,
	config.CleartextAllow:    ldapfront.CleartextAllow,
	config.CleartextRefuse:   ldapfront.CleartextRefuse,
}

var modes = map[string]ldapfront.Mode{
	config.TLSNone: ldapfront.Plain, config.TLSStartTLS: ldapfront.StartTLS, config.TLSLDAPS: ldapfront.LDAPS,
}

// boundListener is a listening socket and how to serve it.
type boundListener struct {
	ln  net.Listener
	cfg ldapfront.Listener
	url string
}

// openListeners provisions TLS and binds every listener; on failure it
// closes what it opened.
func openListeners(cfg *config.Config, log *slog.Logger) ([]boundListener, error) {
	var out []boundListener
	fail := func(err error) ([]boundListener, error) {
		for _, b := range out {
			b.ln.Close()
		}
		return nil, err
	}
	for _, l := range cfg.Listeners {
		fl := ldapfront.Listener{Name: l.Name, Mode: modes[l.TLS], Cleartext: cleartextPolicies[l.Cleartext]}
		if l.TLS != config.TLSNone {
			r, err := newCertReloader(l.CertFile, l.KeyFile, log)
			if err != nil {
				return fail(fmt.Errorf("listener %q: %w", l.Name, err))
			}
			fl.TLS = serverTLS(r, l.TLSMinVersion())
		}
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			return fail(fmt.Errorf("listener %q: %w", l.Name, err))
		}
		scheme := "ldap"
		if l.TLS == config.TLSLDAPS {
			scheme = "ldaps"
		}
		out = append(out, boundListener{ln: ln, cfg: fl, url: scheme + "://" + ln.Addr().String()})
	}
	return out, nil
}

// generation is what one configuration builds; a reload replaces it whole.
type generation struct {
	cfg    *config.Config
	state  *bridge.State
	checks []backendCheck
	index  *backendIndex
	// bindCache is nil unless bind_cache.enabled.
	bindCache *bridge.BindCache
}

// app is a serving bridge: what a reload reads and replaces.
type app struct {
	path    string // the configuration file; "" = no reloads (demo)
	log     *slog.Logger
	level   *slog.LevelVar
	metrics *metrics.Metrics
	ready   *readiness
	trail   *auditTrail
	core    *bridge.Bridge
	gen     atomic.Pointer[generation]
	// bindCacheMetrics follows the verified-bind cache across reloads.
	bindCacheMetrics *bindCacheCollector
}

// build makes a generation from cfg without installing it.
func (a *app) build(cfg *config.Config) (*generation, error) {
	backends, checks, err := buildBackendsWith(cfg, a.log, a.metrics)
	if err != nil {
		return nil, err
	}
	st, err := bridge.NewState(cfg.BridgeRoutes(), backends, cfg.LocalAccounts())
	if err != nil {
		return nil, err
	}
	ix, err := newBackendIndex(cfg.BridgeRoutes(), cfg.LocalAccounts())
	if err != nil {
		return nil, err
	}
	g := &generation{cfg: cfg, state: st, checks: checks, index: ix}
	if bc := cfg.BindCache; bc.Enabled {
		// A new cache per configuration: a reload forgets every cached bind.
		if g.bindCache, err = bridge.NewBindCache(bridge.BindCacheConfig{TTL: bc.TTL.Duration(), Size: bc.Size}); err != nil {
			return nil, err
		}
	}
	return g, nil
}

// install makes g the configuration in force for operations that start
// from now on.
func (a *app) install(g *generation) {
	a.gen.Store(g)
	a.core.Swap(g.state)
	a.core.SetBindCache(g.bindCache)
	a.bindCacheMetrics.install(g.bindCache)
	a.ready.setChecks(g.checks)
	a.level.Set(logLevel(g.cfg.Log.Level))
}

func (a *app) backendOf(dn string) string { return a.gen.Load().index.backend(dn) }

// buildInfo labels ldapbridge_build_info.
func buildInfo() metrics.BuildInfo {
	bi := metrics.BuildInfo{Version: buildVersion(), GoVersion: runtime.Version()}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				bi.Revision = s.Value
			}
		}
	}
	return bi
}

// serveConfig runs the bridge until SIGINT or SIGTERM, then drains. path,
// when not empty, is re-read on SIGHUP (and when it changes, if the
// configuration says so). banner, when set, is printed once every
// listener is up.
func serveConfig(cfg *config.Config, path string, stdout, stderr io.Writer, banner func(io.Writer)) int {
	fail := func(err error) int {
		fmt.Fprintf(stderr, "ldapbridge: %v\n", err)
		return 1
	}
	a := &app{path: path, level: new(slog.LevelVar)}
	a.log = newLogger(cfg.Log, stderr, a.level)
	reg := prometheus.NewRegistry()
	a.bindCacheMetrics = newBindCacheCollector()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), a.bindCacheMetrics)
	m, err := metrics.New(reg, buildInfo())
	if err != nil {
		return fail(err)
	}
	a.metrics = m
	aw, err := audit.New(a.log.Handler(), cfg.Log.AuditFile)
	if err != nil {
		return fail(err)
	}
	defer aw.Close()
	a.trail = &auditTrail{w: aw, m: m, log: a.log}
	a.ready = newReadiness(a.log)
	g, err := a.build(cfg)
	if err != nil {
		return fail(err)
	}
	a.core = bridge.New(g.state, a.log)
	a.install(g)
	m.ConfigLoaded(true, false)

	var bases []string
	for _, r := range cfg.Routes {
		bases = append(bases, r.Base)
	}
	front := ldapfront.NewServer(a.core, ldapfront.Options{
		Limits: frontLimits(cfg.Limits), Logger: a.log, Version: buildVersion(), NamingContexts: bases,
		Observer: &observer{Metrics: m, trail: a.trail, backendOf: a.backendOf},
	})
	lns, err := openListeners(cfg, a.log)
	if err != nil {
		return fail(err)
	}
	admin, err := startAdmin(cfg.Admin.Address, adminHandler(reg, a.ready, a.log), a.log)
	if err != nil {
		for _, b := range lns {
			b.ln.Close()
		}
		return fail(err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	// SIGHUP is caught before anything says "serving": a supervisor that
	// reloads right after readiness must not kill the process.
	hup := make(chan os.Signal, 1)
	if path != "" {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	var wg sync.WaitGroup
	serveErr := make(chan error, len(lns))
	for _, b := range lns {
		m.Listener(b.cfg.Name)
		wg.Add(1)
		go func(b boundListener) {
			defer wg.Done()
			if err := front.Serve(b.ln, b.cfg); err != nil && !errors.Is(err, ldapfront.ErrServerClosed) {
				serveErr <- fmt.Errorf("listener %q: %w", b.cfg.Name, err)
			}
		}(b)
	}
	a.ready.serving.Store(true)
	var urls []string
	for _, b := range lns {
		urls = append(urls, b.url)
	}
	a.log.Info("ldapbridge serving", "version", buildVersion(), "listeners", strings.Join(urls, " "), "admin", cfg.Admin.Address)
	if banner != nil {
		banner(stdout)
	}

	changed := make(chan struct{}, 1)
	if path != "" {
		wctx, wcancel := context.WithCancel(ctx)
		defer wcancel()
		go a.watch(wctx, configWatchInterval, changed)
	}
	code := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-serveErr:
			a.log.Error("listener failed", "err", err)
			code = 1
			break loop
		case <-hup:
			a.reload("SIGHUP")
		case <-changed:
			a.reload("file changed")
		}
	}

	// Drain: readiness fails first so a load balancer stops sending new
	// clients, then in-flight operations finish within the drain timeout.
	a.ready.draining.Store(true)
	drain := time.Duration(a.gen.Load().cfg.Limits.DrainTimeout)
	a.log.Info("draining", "timeout", drain.String())
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := front.Shutdown(dctx); err != nil {
		a.log.Warn("drain deadline passed; closed the remaining connections", "err", err)
		front.Close()
	}
	wg.Wait()
	if admin != nil {
		actx, acancel := context.WithTimeout(context.Background(), 2*time.Second)
		admin.Shutdown(actx)
		acancel()
	}
	a.log.Info("stopped")
	return code
}
