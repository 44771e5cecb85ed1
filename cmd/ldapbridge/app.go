package main

import (
	"context"
	"crypto/tls"
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
	"github.com/ldapbridge/ldapbridge/generation"
	"github.com/ldapbridge/ldapbridge/internal/confkit"
	"github.com/ldapbridge/ldapbridge/ldapfront"
	"github.com/ldapbridge/ldapbridge/metrics"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

var serveHelp = cmdHelp{
	usage: "ldapbridge serve [--config FILE]",
	text: `Runs the bridge: the LDAP listeners, the backends and routes, and the admin
listener (/metrics, /healthz, /readyz) that the configuration file describes.
SIGHUP reloads the file (routes, backends, accounts, log level, audit file);
SIGINT or SIGTERM stops accepting connections and drains within
limits.drain_timeout. Every listener address that cannot be opened is
reported, all at once, and the process exits 1.
`,
}

func cmdServe(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("serve", stderr)
	path := configFlag(fs)
	pos, code, ok := parseFlags(fs, serveHelp, args, stdout)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(stderr, "serve", fmt.Sprintf("unexpected argument %q (the file goes after --config)", pos[0]))
	}
	if *path == "" {
		return usageError(stderr, "serve", "no configuration file: give --config FILE or set "+envConfig)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "ldapbridge serve: %v\n", err)
		return 1
	}
	return serveConfig(cfg, *path, stdout, stderr, nil)
}

var checkConfigHelp = cmdHelp{
	usage: "ldapbridge check-config [--offline] [FILE | --config FILE]",
	text: `Validates a configuration file without serving: prints "ok" and exits 0, or
prints every problem (with its line, its path in the file and, where it can,
a suggestion) and exits 1. Secret files and certificates the file names must
be readable, and every backend must build from its section.

With --offline, nothing the file names on disk is read (certificates, CA
files, secret files, the audit file's directory): for a file written for
another machine, such as a Kubernetes ConfigMap whose secrets are mounted
only in the pod. Each check left out is listed after "ok".
`,
}

func cmdCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("check-config", stderr)
	path := configFlag(fs)
	offline := fs.Bool("offline", false, "read no file the configuration names (certificates, CA and secret files); list what was skipped")
	pos, code, ok := parseFlags(fs, checkConfigHelp, args, stdout)
	if !ok {
		return code
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "config" })
	switch {
	case len(pos) > 1:
		return usageError(stderr, "check-config", "give one configuration file")
	case len(pos) == 1 && given && pos[0] != *path:
		return usageError(stderr, "check-config", fmt.Sprintf("two configuration files: %q and --config %q", pos[0], *path))
	case len(pos) == 1:
		*path = pos[0]
	}
	if *path == "" {
		return usageError(stderr, "check-config", "no configuration file: give FILE, --config FILE or set "+envConfig)
	}
	var skipped []string
	cfg, err := config.LoadWithOptions(*path, config.ParseOptions{
		SkipFileChecks: *offline,
		Skipped:        func(at, what string) { skipped = append(skipped, at+": "+what) },
	})
	switch {
	case err != nil:
	case *offline:
		// A backend cannot be built without the secrets and CA files
		// that were not read; the file itself has been validated.
		skipped = append(skipped, "backends: not built (their secret and CA files were not read)")
	default:
		// What the config names must also build: backends and routes.
		var backends map[string]bridge.Backend
		if backends, err = buildBackends(cfg, slog.New(slog.DiscardHandler)); err == nil {
			_, err = generation.Build(cfg, backends)
		}
	}
	if err != nil {
		fmt.Fprintf(stdout, "%s:\n%v\n", *path, err)
		return 1
	}
	if len(skipped) == 0 {
		fmt.Fprintln(stdout, "ok")
		return 0
	}
	fmt.Fprintf(stdout, "ok (offline: %d checks skipped)\n", len(skipped))
	for _, s := range skipped {
		fmt.Fprintf(stdout, "  skipped %s\n", s)
	}
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
		// Each client adds "backend" to its own log lines: adding it here
		// too would write the key twice in every JSON line.
		env := confkit.Env{Name: b.Name, Timeout: time.Duration(b.Timeout), CAFile: b.CAFile, Logger: log}
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

		MaxMessageBytesAnonymous: l.MaxMessageBytesAnonymous,
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

// openListeners provisions TLS and binds every listener and the admin
// listener (nil when admin.address is ""). It tries them all, so that an
// operator learns of every busy address and unreadable certificate at
// once; on failure it closes what it opened and returns every problem.
// m, when not nil, is told each listener's certificate expiry.
func openListeners(cfg *config.Config, log *slog.Logger, m *metrics.Metrics) ([]boundListener, net.Listener, error) {
	var out []boundListener
	var errs []error
	for _, l := range cfg.Listeners {
		fl := ldapfront.Listener{Name: l.Name, Mode: modes[l.TLS], Cleartext: cleartextPolicies[l.Cleartext]}
		if l.TLS != config.TLSNone {
			var onLoad func(*tls.Certificate)
			if m != nil {
				name := l.Name
				onLoad = func(c *tls.Certificate) { m.CertificateLoaded(name, certNotAfter(c)) }
			}
			r, err := newCertReloader(l.CertFile, l.KeyFile, log, onLoad)
			if err != nil {
				errs = append(errs, fmt.Errorf("listener %q: %w", l.Name, err))
				continue
			}
			fl.TLS = serverTLS(r, l.TLSMinVersion())
		}
		ln, err := net.Listen("tcp", l.Address)
		if err != nil {
			errs = append(errs, fmt.Errorf("listener %q: %w", l.Name, err))
			continue
		}
		scheme := "ldap"
		if l.TLS == config.TLSLDAPS {
			scheme = "ldaps"
		}
		out = append(out, boundListener{ln: ln, cfg: fl, url: scheme + "://" + ln.Addr().String()})
	}
	var adminLn net.Listener
	if cfg.Admin.Address != "" {
		var err error
		if adminLn, err = net.Listen("tcp", cfg.Admin.Address); err != nil {
			errs = append(errs, fmt.Errorf("admin listener: %w", err))
		}
	}
	if len(errs) == 0 {
		return out, adminLn, nil
	}
	for _, b := range out {
		b.ln.Close()
	}
	if adminLn != nil {
		adminLn.Close()
	}
	if len(errs) == 1 {
		return nil, nil, errs[0]
	}
	msg := fmt.Sprintf("%d listeners could not be opened:", len(errs))
	for _, e := range errs {
		msg += "\n  " + e.Error()
	}
	return nil, nil, &listenError{msg: msg, errs: errs}
}

// listenError is every listener that could not be opened, one per line.
type listenError struct {
	msg  string
	errs []error
}

func (e *listenError) Error() string   { return e.msg }
func (e *listenError) Unwrap() []error { return e.errs }

// settings are what one configuration gives the process besides the
// core's generation (routes, backends, accounts, bind cache and naming
// contexts, which the core holds behind its one pointer): the
// configuration itself, for the settings a reload reads, and the readiness
// checks of the generation's backends.
type settings struct {
	cfg    *config.Config
	checks []backendCheck
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
	set     atomic.Pointer[settings]
	// bindCacheMetrics follows the verified-bind cache across reloads.
	bindCacheMetrics *bindCacheCollector
}

// build makes a generation from cfg without installing it.
func (a *app) build(cfg *config.Config) (*bridge.State, *settings, error) {
	backends, checks, err := buildBackendsWith(cfg, a.log, a.metrics)
	if err != nil {
		return nil, nil, err
	}
	st, err := generation.Build(cfg, backends)
	if err != nil {
		return nil, nil, err
	}
	return st, &settings{cfg: cfg, checks: checks}, nil
}

// install makes st and set the configuration in force for operations that
// start from now on. The previous generation's backends are closed once
// the operations that started on it are done; the channel closes then.
func (a *app) install(st *bridge.State, set *settings) <-chan struct{} {
	var closed <-chan struct{}
	if a.core == nil {
		a.core = bridge.New(st, a.log)
		c := make(chan struct{})
		close(c)
		closed = c
	} else {
		closed = a.core.Swap(st)
	}
	a.set.Store(set)
	a.bindCacheMetrics.install(st.BindCache())
	a.ready.setChecks(set.checks)
	a.level.Set(logLevel(set.cfg.Log.Level))
	return closed
}

// buildInfo labels ldapbridge_build_info.
func buildInfo() metrics.BuildInfo {
	return metrics.BuildInfo{Version: buildVersion(), Revision: buildRevision(), GoVersion: runtime.Version()}
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
	st, set, err := a.build(cfg)
	if err != nil {
		return fail(err)
	}
	a.install(st, set)
	m.ConfigLoaded(true, false)

	front := ldapfront.NewServer(a.core, ldapfront.Options{
		Limits: frontLimits(cfg.Limits), Logger: a.log, Version: buildVersion(),
		Observer: &observer{Metrics: m, trail: a.trail},
	})
	lns, adminLn, err := openListeners(cfg, a.log, m)
	if err != nil {
		return fail(err)
	}
	admin := startAdmin(adminLn, adminHandler(reg, a.ready, a.log), a.log)

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
	drain := time.Duration(a.set.Load().cfg.Limits.DrainTimeout)
	a.log.Info("draining", "timeout_ms", drain.Milliseconds())
	dctx, cancel := context.WithTimeout(context.Background(), drain)
	defer cancel()
	if err := front.Shutdown(dctx); err != nil {
		a.log.Warn("drain deadline passed; closed the remaining connections", "err", err)
		front.Close()
		// The operations still in flight were cancelled; each still
		// returns its Decision ("outcome unknown (shutdown)" for a change
		// cut short) and its audit record is written. Wait for that, a
		// bounded time: a backend call that ignores its cancellation must
		// not hold the exit for ever.
		gctx, gcancel := context.WithTimeout(context.Background(), shutdownGrace)
		if err := front.Wait(gctx); err != nil {
			a.log.Error("operations still running after the drain deadline; their audit records may be lost", "err", err)
		}
		gcancel()
	}
	wg.Wait()
	// Close the backends of the last generation (idle connections, token
	// refreshers) once the operations still on it are done; they were
	// cancelled, so that is soon, but a stuck one must not hold the exit.
	select {
	case <-a.core.Close():
	case <-time.After(5 * time.Second):
		a.log.Warn("operations still running at exit; backends left open")
	}
	if admin != nil {
		actx, acancel := context.WithTimeout(context.Background(), 2*time.Second)
		admin.Shutdown(actx)
		acancel()
	}
	// Every operation has been audited: sync and close the audit file
	// before saying "stopped" (the deferred Close is then a no-op).
	if err := aw.Close(); err != nil {
		a.log.Error("audit file not closed cleanly; records may be lost", "err", err)
		code = 1
	}
	a.log.Info("stopped")
	return code
}

// shutdownGrace is how long, beyond limits.drain_timeout, the process
// waits for the operations the drain deadline cancelled to report their
// outcome and write their audit records.
const shutdownGrace = 5 * time.Second
