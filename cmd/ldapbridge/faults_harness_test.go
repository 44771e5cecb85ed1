package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/internal/testkit/simkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// Helpers for the tests that run "ldapbridge serve --config FILE" in
// front of simulators started in the test process, so that a test can
// break the backend and count what reached it.

// ftConfig is what varies between the served configurations.
type ftConfig struct {
	// LDAP is the plain/StartTLS listener; LDAPS, when set, an LDAPS one.
	LDAP, LDAPS string
	// TLS is the LDAP listener's mode: "none" (default) or "starttls".
	TLS       string
	Cert, Key string
	Cleartext string // default: loopback
	PD, P1    string // backend base URLs; "" leaves the backend out
	PDCA      string // ca_file of the PingDirectory backend
	Timeout   string // per backend; default 2s
	OpTimeout string // limits.operation_timeout; default 10s
	// ExtraBackends and ExtraRoutes are raw YAML list items appended to
	// backends and routes.
	ExtraBackends, ExtraRoutes string
}

func (c ftConfig) yaml() string {
	def := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	var b strings.Builder
	fmt.Fprintf(&b, "listeners:\n  - name: ldap\n    address: %q\n    tls: %s\n    cleartext: %s\n",
		c.LDAP, def(c.TLS, "none"), def(c.Cleartext, "loopback"))
	if c.TLS != "" && c.TLS != "none" {
		fmt.Fprintf(&b, "    cert_file: %q\n    key_file: %q\n", c.Cert, c.Key)
	}
	if c.LDAPS != "" {
		fmt.Fprintf(&b, "  - name: ldaps\n    address: %q\n    tls: ldaps\n    cert_file: %q\n    key_file: %q\n", c.LDAPS, c.Cert, c.Key)
	}
	fmt.Fprintf(&b, "limits:\n  operation_timeout: %s\n  drain_timeout: 5s\n", def(c.OpTimeout, "10s"))
	b.WriteString("backends:\n")
	if c.PD != "" {
		fmt.Fprintf(&b, "  - name: pd\n    type: pingdirectory\n    timeout: %s\n", def(c.Timeout, "2s"))
		if c.PDCA != "" {
			fmt.Fprintf(&b, "    ca_file: %q\n", c.PDCA)
		}
		fmt.Fprintf(&b, "    pingdirectory:\n      url: %q\n", c.PD)
	}
	if c.P1 != "" {
		fmt.Fprintf(&b, "  - name: p1\n    type: pingone\n    timeout: %s\n    pingone:\n", def(c.Timeout, "2s"))
		fmt.Fprintf(&b, "      environment_id: %q\n      auth_url: %q\n      api_url: %q\n      client_id: %q\n      client_secret: %q\n",
			demoEnvID, c.P1, c.P1+"/v1", demoClientID, demoClientSecret)
	}
	b.WriteString(c.ExtraBackends)
	b.WriteString("routes:\n")
	if c.PD != "" {
		fmt.Fprintf(&b, "  - base: %q\n    backend: pd\n", demoBase)
	}
	if c.P1 != "" {
		fmt.Fprintf(&b, "  - base: %q\n    backend: p1\n    admins: [%q]\n", demoPeopleBase, demoAdminDN)
	}
	b.WriteString(c.ExtraRoutes)
	b.WriteString("log:\n  level: debug\n  format: text\nadmin:\n  address: \"\"\n")
	return b.String()
}

// ftWrite writes a configuration (or anything) into the test's directory.
func ftWrite(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// ftServe runs "ldapbridge serve --config path" and waits for the log
// line that says it serves (slog writes it to stderr).
func ftServe(t *testing.T, path string) *proc {
	t.Helper()
	p, err := testkit.Start(t, testkit.Spec{Path: binPath, Args: []string{"serve", "--config", path},
		Ready: "ldapbridge serving", ReadyOn: testkit.Stderr})
	if err != nil {
		t.Fatalf("%v\nconfig:\n%s", err, ftRead(t, path))
	}
	return p
}

func ftRead(t *testing.T, path string) string { t.Helper(); return testkit.ReadFile(t, path) }

// ftWaitLog waits until the process has logged a line containing s.
func ftWaitLog(t *testing.T, p *proc, s string) {
	t.Helper()
	p.WaitOutput(t, testkit.Stderr, 20*time.Second, fmt.Sprintf("log line %q", s),
		func(text string) bool { return strings.Contains(text, s) })
}

// ftNoSecrets fails if any of the passwords reached the process's
// output.
func ftNoSecrets(t *testing.T, p *proc, secrets ...string) {
	t.Helper()
	testkit.NoSecrets(t, "ldapbridge's output", p.Stdout.String()+p.Stderr.String(), secrets...)
}

// ftCounter is an http.Handler in front of a simulator that counts the
// requests it passes on, by method and kind ("GET me", "POST
// changePassword", "PUT password", "POST token", "GET users"...), and
// can mangle the answers of one kind (for faults the simulator lacks).
type ftCounter struct {
	h  http.Handler
	mu sync.Mutex
	n  map[string]int
	// mangle, when set, answers requests of mangleKind instead of h.
	mangleKind string
	mangle     func(w http.ResponseWriter, r *http.Request, next http.Handler)
}

// setMangle installs (or, with nil, removes) a mangler for one kind.
func (c *ftCounter) setMangle(kind string, f func(w http.ResponseWriter, r *http.Request, next http.Handler)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.mangleKind, c.mangle = kind, f
}

func (c *ftCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	kind := segs[len(segs)-1]
	if len(segs) >= 2 && segs[len(segs)-2] == "users" {
		kind = "user"
	}
	key := r.Method + " " + kind
	c.mu.Lock()
	c.n[key]++
	mangle := c.mangle
	if c.mangleKind != key {
		mangle = nil
	}
	c.mu.Unlock()
	if mangle != nil {
		mangle(w, r, c.h)
		return
	}
	c.h.ServeHTTP(w, r)
}

// count is the number of requests of a kind so far.
func (c *ftCounter) count(kind string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[kind]
}

// snapshot is every count, for failure messages and deltas.
func (c *ftCounter) snapshot() map[string]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int, len(c.n))
	for k, v := range c.n {
		m[k] = v
	}
	return m
}

// delta is what was counted since an earlier snapshot.
func (c *ftCounter) delta(since map[string]int) map[string]int {
	m := map[string]int{}
	for k, v := range c.snapshot() {
		if d := v - since[k]; d != 0 {
			m[k] = d
		}
	}
	return m
}

// ftSim is a simulator served over real HTTP (or HTTPS) by the test.
type ftSim struct {
	*ftCounter
	srv *httptest.Server
	url string
}

func ftServeSim(t *testing.T, h http.Handler, useTLS bool) *ftSim {
	t.Helper()
	c := &ftCounter{h: h, n: map[string]int{}}
	srv := httptest.NewUnstartedServer(c)
	// Refused TLS handshakes are the point of some tests, not news.
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	if useTLS {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	// A closed httptest server waits for its handlers: the simulator's
	// Close, registered after and so run before, releases hung ones.
	t.Cleanup(srv.Close)
	return &ftSim{ftCounter: c, srv: srv, url: srv.URL}
}

// ftDirectory is the demo's PingDirectory simulator with bob and the
// administrator, served by the test.
func ftDirectory(t *testing.T, useTLS bool) (*directorysim.Server, *ftSim) {
	t.Helper()
	pd := simkit.NewDirectory(t, directorysim.Config{
		Policy: directorysim.Policy{MinLength: 8, MinDigits: 1, History: 3, LockoutFailures: 5, LockoutDuration: 15 * time.Minute},
		Admins: []string{demoAdminDN},
	}, map[string]string{demoBobDN: demoBobPW, demoAdminDN: demoAdminPW})
	b := ftServeSim(t, pd, useTLS)
	// Closed again (Close is idempotent) now, so that it runs before the
	// HTTP server's cleanup and releases hung handlers.
	t.Cleanup(func() { pd.Close() })
	return pd, b
}

// ftPingOne is the demo's PingOne simulator with alice, served by the test.
func ftPingOne(t *testing.T) (*pingonesim.Server, *ftSim) {
	t.Helper()
	p1, _ := simkit.NewPingOne(t, pingonesim.Config{EnvironmentID: demoEnvID, ClientID: demoClientID, ClientSecret: demoClientSecret},
		simkit.User{Name: "alice", Email: "alice@example.com", Password: demoAlicePW})
	b := ftServeSim(t, p1, false)
	t.Cleanup(func() { p1.Close() })
	return p1, b
}

// ftDial dials a plain LDAP listener with go-ldap.
func ftDial(t *testing.T, addr string) *ldap.Conn { t.Helper(); return opsDialFrom(t, addr, "") }

// ftErr renders a go-ldap error as "code: message", or "ok".
func ftErr(err error) string {
	if err == nil {
		return "ok"
	}
	if le, ok := err.(*ldap.Error); ok {
		return fmt.Sprintf("%d: %v", le.ResultCode, le.Err)
	}
	return "not an LDAP result: " + err.Error()
}

// ftCertPair writes a fresh self-signed certificate for 127.0.0.1 into a new
// directory and returns the file names and the certificate's DER bytes.
func ftCertPair(t *testing.T) (certFile, keyFile string, der []byte) {
	t.Helper()
	certFile, keyFile, c := testkit.CertFiles(t)
	return certFile, keyFile, c.DER
}

// ftCopy replaces dst's content with src's, through a rename so that a
// reader never sees half a file.
func ftCopy(t *testing.T, src, dst string) {
	t.Helper()
	testkit.ReplaceFile(t, dst, testkit.ReadFile(t, src))
}
