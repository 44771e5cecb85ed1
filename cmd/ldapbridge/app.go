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
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/ldapfront"
	"github.com/ldapbridge/ldapbridge/restback/pingdirectory"
	"github.com/ldapbridge/ldapbridge/restback/pingone"
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

func newLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	switch cfg.Level {
	case config.LevelDebug:
		level = slog.LevelDebug
	case config.LevelWarn:
		level = slog.LevelWarn
	case config.LevelError:
		level = slog.LevelError
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == config.FormatText {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// buildBackends makes one client per configured backend.
func buildBackends(cfg *config.Config, log *slog.Logger) (map[string]bridge.Backend, error) {
	out := make(map[string]bridge.Backend, len(cfg.Backends))
	var errs []error
	for _, b := range cfg.Backends {
		blog := log.With("backend", b.Name)
		switch b.Type {
		case config.TypePingDirectory:
			c, err := pingdirectory.New(pingdirectory.Config{
				Name: b.Name, BaseURL: b.PingDirectory.URL, CAFile: b.CAFile,
				Timeout: time.Duration(b.Timeout), Logger: blog,
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("backend %q: %w", b.Name, err))
				continue
			}
			out[b.Name] = c
		case config.TypePingOne:
			p := b.PingOne
			c, err := pingone.New(pingone.Config{
				Name: b.Name, EnvironmentID: p.EnvironmentID, Region: p.Region,
				AuthURL: p.AuthURL, APIURL: p.APIURL, ClientID: p.ClientID,
				ClientSecret: p.ClientSecret, AuthMethod: p.TokenAuthMethod,
				UserFilter: p.UserFilter, UserCacheSize: p.UserCache.Size,
				UserCacheTTL: time.Duration(p.UserCache.TTL), PolicyTTL: time.Duration(p.PolicyTTL),
				Timeout: time.Duration(b.Timeout), CAFile: b.CAFile, Logger: blog,
			})
			if err != nil {
				errs = append(errs, fmt.Errorf("backend %q: %w", b.Name, err))
				continue
			}
			out[b.Name] = c
		default:
			errs = append(errs, fmt.Errorf("backend %q: unknown type %q", b.Name, b.Type))
		}
	}
	return out, errors.Join(errs...)
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

// readiness is what /readyz reports.
type readiness struct {
	draining atomic.Bool
	serving  atomic.Bool
}

// serveConfig runs the bridge until SIGINT or SIGTERM, then drains. path,
// when not empty, is re-read on SIGHUP. banner, when set, is printed once
// every listener is up.
func serveConfig(cfg *config.Config, path string, stdout, stderr io.Writer, banner func(io.Writer)) int {
	log := newLogger(cfg.Log, stderr)
	st, err := buildState(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "ldapbridge: %v\n", err)
		return 1
	}
	core := bridge.New(st, log)
	var bases []string
	for _, r := range cfg.Routes {
		bases = append(bases, r.Base)
	}
	front := ldapfront.NewServer(core, ldapfront.Options{
		Limits: frontLimits(cfg.Limits), Logger: log, Version: buildVersion(), NamingContexts: bases,
	})
	lns, err := openListeners(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "ldapbridge: %v\n", err)
		return 1
	}
	var ready readiness
	admin, err := startAdmin(cfg.Admin.Address, &ready, log)
	if err != nil {
		for _, b := range lns {
			b.ln.Close()
		}
		fmt.Fprintf(stderr, "ldapbridge: %v\n", err)
		return 1
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var wg sync.WaitGroup
	serveErr := make(chan error, len(lns))
	for _, b := range lns {
		wg.Add(1)
		go func(b boundListener) {
			defer wg.Done()
			if err := front.Serve(b.ln, b.cfg); err != nil && !errors.Is(err, ldapfront.ErrServerClosed) {
				serveErr <- fmt.Errorf("listener %q: %w", b.cfg.Name, err)
			}
		}(b)
	}
	ready.serving.Store(true)
	var urls []string
	for _, b := range lns {
		urls = append(urls, b.url)
	}
	log.Info("ldapbridge serving", "version", buildVersion(), "listeners", strings.Join(urls, " "), "admin", cfg.Admin.Address)
	if banner != nil {
		banner(stdout)
	}

	hup := make(chan os.Signal, 1)
	if path != "" {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	code := 0
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-serveErr:
			log.Error("listener failed", "err", err)
			code = 1
			break loop
		case <-hup:
			reload(core, path, log)
		}
	}

	// Drain: readiness fails first so a load balancer stops sending new
	// clients, then in-flight operations finish within the drain timeout.
	ready.draining.Store(true)
	log.Info("draining", "timeout", time.Duration(cfg.Limits.DrainTimeout).String())
	dctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.Limits.DrainTimeout))
	defer cancel()
	if err := front.Shutdown(dctx); err != nil {
		log.Warn("drain deadline passed; closed the remaining connections", "err", err)
		front.Close()
	}
	wg.Wait()
	if admin != nil {
		actx, acancel := context.WithTimeout(context.Background(), 2*time.Second)
		admin.Shutdown(actx)
		acancel()
	}
	log.Info("stopped")
	return code
}

// reload re-reads the configuration file and swaps the new routes and
// backends in for new operations; a bad file changes nothing. Listener and
// limit changes need a restart.
func reload(core *bridge.Bridge, path string, log *slog.Logger) {
	cfg, err := config.Load(path)
	if err == nil {
		var st *bridge.State
		if st, err = buildState(cfg, log); err == nil {
			core.Swap(st)
			log.Info("configuration reloaded", "config", path)
			return
		}
	}
	log.Error("configuration reload failed; keeping the previous configuration", "config", path, "err", err)
}

// startAdmin serves /healthz and /readyz on addr ("" = off).
func startAdmin(addr string, ready *readiness, log *slog.Logger) (*http.Server, error) {
	if addr == "" {
		return nil, nil
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ready.draining.Load() || !ready.serving.Load() {
			http.Error(w, "not ready: draining", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin listener: %w", err)
	}
	srv := &http.Server{
		Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: 10 * time.Second, IdleTimeout: 60 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go srv.Serve(ln)
	return srv, nil
}
