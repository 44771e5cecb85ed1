// Command ldapsim serves the PingDirectory and PingOne simulators as a
// process of their own, for benchmarks: N generated users each (names and
// passwords from bench/users), an optional latency per call, and
// GET /_sim/requests on either port for the request counts and service
// times. With -out it writes an ldapbridge configuration in front of them
// (bridge.yaml), a certificate for the bridge's StartTLS listener and
// sim.json with the URLs; it then runs until SIGINT or SIGTERM.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/simenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// Info is sim.json.
type Info struct {
	PingDirectoryURL string  `json:"pingdirectory_url"`
	PingOneURL       string  `json:"pingone_url"`
	BridgeConfig     string  `json:"bridge_config,omitempty"`
	Users            int     `json:"users"`
	LatencyMS        float64 `json:"latency_ms"`
	JitterMS         float64 `json:"jitter_ms"`
	PID              int     `json:"pid"`
	// BridgeLDAPAddr is the bridge's plain listener as written in
	// bridge.yaml (a free port when -ldap-addr had port 0).
	BridgeLDAPAddr string `json:"bridge_ldap_addr,omitempty"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ldapsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("users", 1000, "users generated in each simulator")
	latency := fs.Duration("latency", 0, "delay added to every backend request")
	jitter := fs.Duration("jitter", 0, "random extra delay, uniform in [0, jitter]")
	pdAddr := fs.String("pd-addr", "127.0.0.1:0", "PingDirectory simulator listen address")
	p1Addr := fs.String("p1-addr", "127.0.0.1:0", "PingOne simulator listen address")
	useTLS := fs.Bool("tls", false, "serve HTTPS (HTTP/2 offered) with a generated certificate")
	out := fs.String("out", "", "directory to write bridge.yaml, sim.json and the certificate into")
	ldapAddr := fs.String("ldap-addr", "127.0.0.1:3390", "bridge.yaml: the bridge's plain LDAP listener")
	stlsAddr := fs.String("starttls-addr", "127.0.0.1:3391", "bridge.yaml: the bridge's StartTLS listener (\"\" for none)")
	adminAddr := fs.String("admin-addr", "", "bridge.yaml: the bridge's admin listener (\"\" for none)")
	maxConns := fs.Int("max-connections", 20000, "bridge.yaml: limits.max_connections")
	extra := fs.String("bridge-extra", "", "bridge.yaml: YAML appended verbatim (e.g. a bind_cache section)")
	ldif := fs.String("ldif", "", "write the PingDirectory users as LDIF for slapadd to this file and exit")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ldapsim: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	if *ldif != "" {
		if err := writeLDIF(*ldif, *n); err != nil {
			fmt.Fprintf(stderr, "ldapsim: %v\n", err)
			return 1
		}
		return 0
	}
	if (*useTLS || *stlsAddr != "") && *out == "" {
		if *useTLS {
			fmt.Fprintln(stderr, "ldapsim: -tls needs -out for the certificate")
			return 2
		}
		*stlsAddr = ""
	}
	code, err := serve(ctx, options{
		users: *n, latency: *latency, jitter: *jitter, pdAddr: *pdAddr, p1Addr: *p1Addr,
		tls: *useTLS, out: *out, bridge: simenv.BridgeOptions{
			LDAPAddr: *ldapAddr, StartTLSAddr: *stlsAddr, AdminAddr: *adminAddr,
			MaxConnections: *maxConns, Users: *n, Extra: *extra,
		},
	}, stdout)
	if err != nil {
		fmt.Fprintf(stderr, "ldapsim: %v\n", err)
	}
	return code
}

type options struct {
	users           int
	latency, jitter time.Duration
	pdAddr, p1Addr  string
	tls             bool
	out             string
	bridge          simenv.BridgeOptions
}

func serve(ctx context.Context, o options, stdout io.Writer) (int, error) {
	so := simenv.Options{Users: o.users, Latency: o.latency, Jitter: o.jitter, PDAddr: o.pdAddr, P1Addr: o.p1Addr}
	info := Info{Users: o.users, LatencyMS: ms(o.latency), JitterMS: ms(o.jitter), PID: os.Getpid()}
	if o.out != "" {
		// The bridge resolves relative paths against its own working
		// directory: write absolute ones.
		abs, err := filepath.Abs(o.out)
		if err != nil {
			return 1, fmt.Errorf("output directory: %w", err)
		}
		o.out = abs
		if err := os.MkdirAll(o.out, 0o755); err != nil {
			return 1, fmt.Errorf("output directory: %w", err)
		}
		cert, key, tc, err := simenv.WriteCert(o.out)
		if err != nil {
			return 1, err
		}
		o.bridge.CertFile, o.bridge.KeyFile = cert, key
		if o.tls {
			so.TLS = tc
			o.bridge.CAFile = cert
		}
	}
	env, err := simenv.Start(so)
	if err != nil {
		return 1, err
	}
	defer env.Close()
	info.PingDirectoryURL, info.PingOneURL = env.PDURL, env.P1URL
	if o.out != "" {
		for _, a := range []*string{&o.bridge.LDAPAddr, &o.bridge.StartTLSAddr} {
			if *a, err = freePort(*a); err != nil {
				return 1, err
			}
		}
		info.BridgeLDAPAddr = o.bridge.LDAPAddr
		yml, err := env.BridgeConfig(o.bridge)
		if err != nil {
			return 1, err
		}
		info.BridgeConfig = filepath.Join(o.out, "bridge.yaml")
		if err := os.WriteFile(info.BridgeConfig, yml, 0o600); err != nil {
			return 1, fmt.Errorf("write bridge configuration: %w", err)
		}
		j, _ := json.MarshalIndent(info, "", "  ")
		// Written last: its presence tells a script that everything is up.
		tmp := filepath.Join(o.out, "sim.json.tmp")
		if err := os.WriteFile(tmp, append(j, '\n'), 0o644); err != nil {
			return 1, fmt.Errorf("write sim.json: %w", err)
		}
		if err := os.Rename(tmp, filepath.Join(o.out, "sim.json")); err != nil {
			return 1, fmt.Errorf("write sim.json: %w", err)
		}
	}
	fmt.Fprintf(stdout, "ldapsim ready: pingdirectory %s  pingone %s  users %d  latency %v+%v\n",
		env.PDURL, env.P1URL, o.users, o.latency, o.jitter)
	<-ctx.Done()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return 1, err
	}
	return 0, nil
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func writeLDIF(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("LDIF: %w", err)
	}
	err = simenv.WriteLDIF(f, n)
	if cerr := f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("LDIF: %w", cerr)
	}
	return err
}

// freePort turns host:0 into host:N for a port that was free a moment
// ago, so that a script can start the bridge there and know where.
func freePort(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if addr == "" || err != nil || port != "0" {
		return addr, nil
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return "", fmt.Errorf("find a free port on %s: %w", host, err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
