package main

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/simenv"
	"github.com/ldapbridge/ldapbridge/bench/users"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/ldapfront"
	"github.com/ldapbridge/ldapbridge/restback/pingdirectory"
	"github.com/ldapbridge/ldapbridge/restback/pingone"
)

// stack is the bridge wired in-process in front of the simulators, as
// cmd/ldapbridge wires it, listening on a loopback port.
type stack struct {
	env  *simenv.Env
	url  string
	core *bridge.Bridge
	// routes and backends rebuild the core's state (with a bind cache).
	routes   []bridge.Route
	backends map[string]bridge.Backend
}

func startStack(tb testing.TB, nUsers int) *stack {
	tb.Helper()
	return startStackWith(tb, simenv.Options{Users: nUsers})
}

// startStackWith is startStack with the simulators' options (latency)
// and changes to the PingOne client's configuration.
func startStackWith(tb testing.TB, o simenv.Options, p1opts ...func(*pingone.Config)) *stack {
	tb.Helper()
	env, err := simenv.Start(o)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(env.Close)
	// The service account searches PingDirectory for the bridge's local
	// accounts (the benchmark configuration's service_account).
	pd, err := pingdirectory.New(pingdirectory.Config{Name: "pingdirectory", BaseURL: env.PDURL,
		AdminDN: simenv.ServiceDN, AdminPassword: bridge.SecretString(simenv.ServicePassword)})
	if err != nil {
		tb.Fatal(err)
	}
	p1cfg := pingone.Config{
		Name: "pingone", EnvironmentID: simenv.EnvironmentID, AuthURL: env.P1URL, APIURL: env.P1URL + "/v1",
		ClientID: simenv.ClientID, ClientSecret: bridge.SecretString(simenv.ClientSecret),
	}
	for _, f := range p1opts {
		f(&p1cfg)
	}
	p1, err := pingone.New(p1cfg)
	if err != nil {
		tb.Fatal(err)
	}
	routes := []bridge.Route{
		{Base: users.PingDirectoryBase, Backend: "pingdirectory", BackendAuthorizes: true, ServiceCredential: true,
			Searchers: []string{simenv.SearcherDN}},
		{Base: users.PingOneBase, Backend: "pingone", Admins: []string{simenv.AdminDN}, ServiceCredential: true,
			Searchers: []string{simenv.SearcherDN}},
	}
	backends := map[string]bridge.Backend{"pingdirectory": pd, "pingone": p1}
	// The searcher, a local account, as the benchmark configuration has
	// it (there with a bcrypt hash).
	searcher := bridge.LocalAccount{DN: simenv.SearcherDN, Verify: func(pw []byte) bool {
		return subtle.ConstantTimeCompare(pw, []byte(simenv.SearcherPassword)) == 1
	}}
	st, err := bridge.NewState(routes, backends, []bridge.LocalAccount{searcher})
	if err != nil {
		tb.Fatal(err)
	}
	core := bridge.New(st, nil)
	srv := ldapfront.NewServer(core, ldapfront.Options{Limits: ldapfront.Limits{MaxConnections: 5000}})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = srv.Serve(ln, ldapfront.Listener{Name: "ldap", Mode: ldapfront.Plain}) }()
	tb.Cleanup(func() { srv.Close() })
	return &stack{env: env, url: "ldap://" + ln.Addr().String(), core: core, routes: routes, backends: backends}
}

// runTool runs the command line as a user would and decodes its JSON.
func runTool(t *testing.T, args ...string) *Report {
	rep, _ := runToolFile(t, args...)
	return rep
}

// runToolFile is runTool that also returns the JSON file's path.
func runToolFile(t *testing.T, args ...string) (*Report, string) {
	t.Helper()
	out := filepath.Join(t.TempDir(), "report.json")
	var stdout, stderr bytes.Buffer
	if code := cli(context.Background(), append(args, "-json", out), &stdout, &stderr); code != 0 {
		t.Fatalf("ldapbench %v: exit %d\n%s%s", args, code, stdout.String(), stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(stdout.Bytes(), []byte("ldapbench "+rep.Mode)) {
		t.Errorf("text report missing:\n%s", stdout.String())
	}
	return &rep, out
}

// TestLoadToolAgainstBridge runs every mode briefly against the real
// bridge over real sockets and checks the figures the benchmark relies on:
// operations succeed, the error table is empty, the process and
// simulator figures are filled in, and a bind costs one backend request.
func TestLoadToolAgainstBridge(t *testing.T) {
	s := startStack(t, 64)
	pid := strconv.Itoa(os.Getpid())
	common := []string{"-url", s.url, "-users", "64", "-warmup", "200ms", "-pid", pid, "-sim", s.env.PDURL, "-label", "pd/0ms"}
	var paths []string
	run := func(args ...string) *Report {
		rep, path := runToolFile(t, args...)
		paths = append(paths, path)
		return rep
	}

	rep := run(append(common, "-mode", "bind", "-c", "4", "-d", "800ms")...)
	if rep.Ops == 0 || len(rep.Errors) != 0 {
		t.Fatalf("bind: %d ops, errors %v %v", rep.Ops, rep.Errors, rep.ErrorSamples)
	}
	if rep.Server == nil || rep.Server.PeakRSSKiB <= 0 || rep.Backend == nil {
		t.Fatalf("bind: no server or backend figures: %+v %+v", rep.Server, rep.Backend)
	}
	if rpo := rep.Backend.RequestsPerOp; rpo < 0.9 || rpo > 1.1 {
		t.Errorf("bind: %.2f backend requests per bind, want 1 (%+v, %d ops)", rpo, rep.Backend, rep.Ops)
	}
	if rep.Latency.P50 <= 0 || rep.Latency.P99 < rep.Latency.P50 || rep.Latency.Max < rep.Latency.P99 {
		t.Errorf("bind: latency %+v", rep.Latency)
	}

	rep = run(append(common, "-mode", "connbind", "-c", "2", "-d", "300ms")...)
	if rep.Ops == 0 || len(rep.Errors) != 0 {
		t.Fatalf("connbind: %d ops, errors %v %v", rep.Ops, rep.Errors, rep.ErrorSamples)
	}

	// Before the password changes below, while every user has its first password.
	rep = run("-url", s.url, "-mode", "idle", "-c", "50", "-d", "100ms", "-idle-bind", "-users", "64", "-pid", pid, "-label", "idle")
	if rep.Idle == nil || rep.Idle.Held != 50 || rep.Idle.RSSHeldKiB <= 0 || len(rep.Notes) != 0 {
		t.Fatalf("idle: %+v notes %v setup %v", rep.Idle, rep.Notes, rep.SetupErrors)
	}

	// PingOne's Standard policy keeps 6 old passwords: cycle through 8.
	rep = run(append(common, "-mode", "passwd", "-c", "4", "-d", "500ms", "-passwords", "8", "-dn", users.PingOneDN)...)
	if rep.Ops == 0 || len(rep.Errors) != 0 || len(rep.SetupErrors) != 0 {
		t.Fatalf("passwd: %d ops, errors %v %v %v", rep.Ops, rep.Errors, rep.SetupErrors, rep.ErrorSamples)
	}

	rep = run(append(common, "-mode", "mixed", "-c", "4", "-d", "500ms", "-passwd-share", "0.5")...)
	if rep.PerOp["bind"].Ops == 0 || rep.PerOp["passwd"].Ops == 0 || len(rep.Errors) != 0 {
		t.Fatalf("mixed: %+v errors %v %v", rep.PerOp, rep.Errors, rep.ErrorSamples)
	}

	// The summary has a row per load run and a row per idle run.
	var stdout, stderr bytes.Buffer
	if code := cli(context.Background(), append([]string{"summarize"}, paths...), &stdout, &stderr); code != 0 {
		t.Fatalf("summarize: exit %d: %s", code, stderr.String())
	}
	sum := stdout.String()
	for _, row := range []string{"| pd/0ms | bind | 4 |", "| pd/0ms | connbind | 2 |", "| pd/0ms | passwd | 4 |", "| pd/0ms | mixed | 4 |", "| 50 | true |"} {
		if !strings.Contains(sum, row) {
			t.Errorf("summary lacks %q:\n%s", row, sum)
		}
	}

}

// Wrong passwords show up in the error table by result name, and do not
// count as operations.
func TestErrorsByResultCode(t *testing.T) {
	s := startStack(t, 8)
	rep := runTool(t, "-url", s.url, "-users", "8", "-mode", "bind", "-c", "2", "-d", "300ms", "-warmup", "0", "-password", "not-the-password")
	if rep.Ops != 0 || rep.Errors["invalidCredentials"] == 0 {
		t.Fatalf("ops %d errors %v", rep.Ops, rep.Errors)
	}
}

func TestRefusesBadSettings(t *testing.T) {
	for _, args := range [][]string{
		{"-url", "ldap://192.0.2.1:389"},
		{"-url", "http://127.0.0.1:389"},
		{"-url", "ldap://127.0.0.1:389/dc=x"},
		{"-mode", "search"},
		{"-c", "0"},
		{"-d", "0s"},
		{"-mode", "passwd", "-c", "10", "-users", "5"},
		{"-mode", "passwd", "-password", "x"},
		{"-mode", "passwd", "-passwords", "1"},
		{"-dn", "uid=%s,dc=x"},
		{"-mode", "searchbind", "-dn", "uid=pd%d"},
		{"-mode", "searchbind", "-service-dn", ""},
		{"-mode", "searchbind", "-search-base", "ou=elsewhere,dc=x"},
		{"stray"},
	} {
		var stdout, stderr bytes.Buffer
		if code := cli(context.Background(), args, &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

// A server that accepts and never answers costs the tool one -timeout per
// connection, not a hang.
func TestBoundedAgainstSilentServer(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	start := time.Now()
	var stdout, stderr bytes.Buffer
	code := cli(context.Background(), []string{"-url", "ldap://" + ln.Addr().String(), "-mode", "bind", "-c", "2", "-d", "600ms", "-warmup", "0", "-warmup-max", "0", "-timeout", "200ms", "-json", "-"}, &stdout, &stderr)
	var rep Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil || code != 0 {
		t.Fatalf("exit %d, %v: %s %s", code, err, stdout.String(), stderr.String())
	}
	if rep.Ops != 0 || rep.Errors["timeout"] == 0 && rep.SetupErrors["timeout"] == 0 {
		t.Errorf("ops %d errors %v setup %v", rep.Ops, rep.Errors, rep.SetupErrors)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("took %v", el)
	}
}

// BenchmarkBridgeBind measures a bind through the whole in-process stack
// (client, ldapfront, core, PingDirectory client, simulator) on 4
// connections; run with -cpuprofile to see where the bridge spends.
func BenchmarkBridgeBind(b *testing.B) {
	benchBind(b, startStack(b, 64))
}

// BenchmarkBridgeBindCached is BenchmarkBridgeBind with the verified-bind
// cache on: in steady state no bind reaches the backend.
func BenchmarkBridgeBindCached(b *testing.B) {
	s := startStack(b, 64)
	c, err := bridge.NewBindCache(bridge.BindCacheConfig{TTL: time.Minute})
	if err != nil {
		b.Fatal(err)
	}
	st, err := bridge.NewState(s.routes, s.backends, nil, bridge.WithBindCache(c))
	if err != nil {
		b.Fatal(err)
	}
	// The same backends: the swap closes none of them.
	s.core.Swap(st)
	before := s.env.Stats().PingDirectory.Requests
	benchBind(b, s)
	b.ReportMetric(float64(s.env.Stats().PingDirectory.Requests-before)/float64(b.N), "backend-requests/op")
}

func benchBind(b *testing.B, s *stack) {
	t, err := parseTarget(s.url, false)
	if err != nil {
		b.Fatal(err)
	}
	t.timeout = 10 * time.Second
	b.ReportAllocs()
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		c, err := dial(context.Background(), &t)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.close()
		i := 0
		for pb.Next() {
			i = (i + 1) % 64
			if err := c.bind(users.DN(users.PingDirectoryDN, i), users.Password(i, 0)); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkBridgePasswd measures a self change (RFC 3062) through the
// whole in-process stack against the PingDirectory simulator, 4 users
// each alternating two passwords.
func BenchmarkBridgePasswd(b *testing.B) {
	s := startStack(b, 64)
	t, err := parseTarget(s.url, false)
	if err != nil {
		b.Fatal(err)
	}
	t.timeout = 10 * time.Second
	var next atomic.Int32
	b.ReportAllocs()
	b.SetParallelism(2)
	b.RunParallel(func(pb *testing.PB) {
		u := int(next.Add(1)) - 1
		c, err := dial(context.Background(), &t)
		if err != nil {
			b.Error(err)
			return
		}
		defer c.close()
		dn := users.DN(users.PingDirectoryDN, u)
		if err := c.bind(dn, users.Password(u, 0)); err != nil {
			b.Error(err)
			return
		}
		k := 0
		for pb.Next() {
			if err := c.passwordModify(users.Password(u, k), users.Password(u, (k+1)%2)); err != nil {
				b.Error(err)
				return
			}
			k = (k + 1) % 2
		}
	})
}
