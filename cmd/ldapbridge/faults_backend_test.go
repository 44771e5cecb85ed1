package main

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// Backend faults, end to end: the real binary in front of simulators that
// misbehave. What a client must see: an outage is never invalidCredentials,
// only what the backend certainly did not act on is retried (and only
// within the deadline), and a password change whose fate is unknown is
// "other" with a diagnostic that says so, sent exactly once.

// The LDAP result codes these tests expect.
const (
	ftOK          = 0
	ftBusy        = 51
	ftUnavailable = 52
	ftOther       = 80
)

// ftTimeout is the backends' timeout in these tests: what a hung
// request costs.
const ftTimeout = "1500ms"

// ftWant is what an operation may answer: one of codes, with a
// diagnostic containing diag unless it succeeded. With anyButCreds, any
// answer but invalidCredentials will do (and success too with okToo).
type ftWant struct {
	codes       []int
	diag        string
	anyButCreds bool
	okToo       bool
}

func ftW(code int, diag string) ftWant { return ftWant{codes: []int{code}, diag: diag} }

var (
	ftSuccess = ftW(ftOK, "")
	// ftFailNotCreds: what the issue asks of a bind that got an
	// unreadable answer: not success, and not invalidCredentials.
	ftFailNotCreds = ftWant{anyButCreds: true}
	// ftNotCreds: a readable answer in a wrong wrapping may be believed,
	// but it is no reason to call the password wrong.
	ftNotCreds = ftWant{anyButCreds: true, okToo: true}
	// ftOKOrUnknown: a 2xx status with a spoilt body; whether the
	// status alone proves the change is the backend client's call, but
	// it must not claim a definite failure.
	ftOKOrUnknown = ftWant{codes: []int{ftOK, ftOther}, diag: "outcome unknown"}
)

func (w ftWant) String() string {
	if w.anyButCreds && w.okToo {
		return "anything but invalidCredentials (49)"
	}
	if w.anyButCreds {
		return "a failure other than invalidCredentials (49)"
	}
	return fmt.Sprintf("one of %v with a diagnostic containing %q", w.codes, w.diag)
}

// ftCase is one misbehaviour, tried on a bind and on a password change.
// changeCount is how many change requests one password change makes.
func (tc ftCase) changeCount() int {
	if tc.changeSends != 0 {
		return tc.changeSends
	}
	return tc.sends
}

type ftCase struct {
	name string
	// set installs the fault (after the client has bound, for a change).
	set          func()
	bind, change ftWant
	// sends is how many requests of the faulted kind one operation makes:
	// 2 when the bridge retried, 1 when it must not have.
	sends int
	// changeSends, when not 0, is sends for the password change, which
	// is re-sent only when it certainly never left (restback/transport).
	changeSends int
	// bindResent, when true, accepts a second bind request: net/http
	// itself re-sends a GET whose reused connection broke (see the
	// report on restback/pingdirectory).
	bindResent bool
}

// ftWithSims serves both simulators over HTTP and a bridge in front of
// them.
func ftWithSims(t *testing.T) (*directorysim.Server, *ftSim, *pingonesim.Server, *ftSim, *proc, string) {
	t.Helper()
	pd, pdb := ftDirectory(t, false)
	p1, p1b := ftPingOne(t)
	cfg := ftConfig{LDAP: freeAddr(t), PD: pdb.url, P1: p1b.url, Timeout: ftTimeout}
	p := ftServe(t, ftWrite(t, filepath.Join(t.TempDir(), "ldapbridge.yaml"), cfg.yaml()))
	return pd, pdb, p1, p1b, p, cfg.LDAP
}

// ftCheck compares a go-ldap result with what is allowed.
func ftCheck(t *testing.T, op string, err error, w ftWant) {
	t.Helper()
	got, msg := ftOK, ""
	if err != nil {
		got = -1
		if le, ok := err.(*ldap.Error); ok {
			got, msg = int(le.ResultCode), le.Err.Error()
		}
	}
	if got == int(ldap.LDAPResultInvalidCredentials) || strings.Contains(strings.ToLower(msg), "invalid credentials") {
		t.Errorf("%s: a backend fault reads as bad credentials: %s", op, ftErr(err))
		return
	}
	if w.anyButCreds {
		if got == ftOK && !w.okToo {
			t.Errorf("%s: got success, want %v", op, w)
		}
		return
	}
	if !slices.Contains(w.codes, got) || (got != ftOK && !strings.Contains(msg, w.diag)) {
		t.Errorf("%s: got %s, want %v", op, ftErr(err), w)
	}
}

// ftMangled answers a request after the simulator has processed it, as a
// proxy that spoils the answer would.
func ftMangled(kind string) func(w http.ResponseWriter, r *http.Request, next http.Handler) {
	return func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		switch kind {
		case "html":
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.WriteHeader(http.StatusOK)
			w.Write([]byte("<html><body><h1>Gateway</h1></body></html>\n"))
		case "truncated":
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
			w.WriteHeader(rec.Code)
			w.Write(body[:len(body)/2])
			w.(http.Flusher).Flush()
			panic(http.ErrAbortHandler)
		case "text/plain":
			for k, v := range rec.Header() {
				w.Header()[k] = v
			}
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(rec.Code)
			w.Write(body)
		}
	}
}

func TestFaultsPingDirectory(t *testing.T) {
	pd, pdb, _, _, p, addr := ftWithSims(t)
	set := func(f directorysim.Fault) func() { return func() { pd.SetFault(f) } }
	const (
		busy    = `PingDirectory backend "pd" is busy (HTTP 429)`
		down    = `PingDirectory backend "pd" unavailable: `
		unread  = `PingDirectory backend "pd" answered HTTP 200 without a readable JSON entry`
		unknown = `PingDirectory backend "pd": outcome unknown: `
	)
	unreadable := ftW(ftOther, unknown+"it answered HTTP 200 but the answer could not be read")
	cases := []ftCase{
		// A bind is repeated after the wait; a change is not (the answer
		// does not prove that nothing was changed).
		{name: "429 with Retry-After 1s, once", set: set(directorysim.Fault{Kind: directorysim.FaultStatus, Status: 429, RetryAfter: time.Second, Count: 1}),
			bind: ftSuccess, change: ftW(ftBusy, busy), sends: 2, changeSends: 1},
		{name: "503 with Retry-After 1s, once", set: set(directorysim.Fault{Kind: directorysim.FaultStatus, Status: 503, RetryAfter: time.Second, Count: 1}),
			bind: ftSuccess, change: ftW(ftUnavailable, down+"HTTP 503"), sends: 2, changeSends: 1},
		{name: "429 with Retry-After beyond the deadline", set: set(directorysim.Fault{Kind: directorysim.FaultStatus, Status: 429, RetryAfter: 2 * time.Minute}),
			bind: ftW(ftBusy, busy), change: ftW(ftBusy, busy), sends: 1},
		{name: "500", set: set(directorysim.Fault{Kind: directorysim.FaultStatus, Status: 500}),
			bind: ftW(ftUnavailable, down+"HTTP 500"), change: ftW(ftUnavailable, down+"HTTP 500"), sends: 1},
		{name: "503 without Retry-After", set: set(directorysim.Fault{Kind: directorysim.FaultStatus, Status: 503}),
			bind: ftW(ftUnavailable, down+"HTTP 503"), change: ftW(ftUnavailable, down+"HTTP 503"), sends: 1},
		{name: "HTML page with 200 after acting", set: set(directorysim.Fault{Kind: directorysim.FaultNonJSON, Process: true}),
			bind: ftW(ftUnavailable, unread), change: unreadable, sends: 1},
		{name: "truncated body", set: set(directorysim.Fault{Kind: directorysim.FaultTruncatedBody}),
			bind: ftW(ftUnavailable, unread), change: unreadable, sends: 1},
		{name: "JSON labelled text/plain", set: set(directorysim.Fault{Kind: directorysim.FaultWrongContentType}),
			bind: ftW(ftUnavailable, unread), change: unreadable, sends: 1},
		{name: "connection dropped after acting", set: set(directorysim.Fault{Kind: directorysim.FaultCloseConn, Process: true}),
			bind:   ftW(ftUnavailable, down+"connection closed by the server"),
			change: ftW(ftOther, unknown+"connection closed by the server after the request was sent"), sends: 1, bindResent: true},
		{name: "no answer", set: set(directorysim.Fault{Kind: directorysim.FaultHang}),
			bind:   ftW(ftUnavailable, down+"timed out"),
			change: ftW(ftOther, unknown+"timed out after the request was sent; the password may have been changed"), sends: 1},
		{name: "slow but in time", set: set(directorysim.Fault{Kind: directorysim.FaultDelay, Delay: 300 * time.Millisecond}),
			bind: ftSuccess, change: ftSuccess, sends: 1},
	}
	var secrets []string
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dn := fmt.Sprintf("uid=f%d,ou=staff,dc=example,dc=com", i)
			oldPW, newPW := fmt.Sprintf("Fault-Old-%d-pw", i), fmt.Sprintf("Fault-New-%d-pw", i)
			secrets = append(secrets, oldPW, newPW)
			if err := pd.AddUser(dn, oldPW); err != nil {
				t.Fatal(err)
			}
			defer pd.SetFault(directorysim.Fault{})

			before := pdb.snapshot()
			tc.set()
			err := ftDial(t, addr).Bind(dn, oldPW)
			pd.SetFault(directorysim.Fault{})
			ftCheck(t, "bind", err, tc.bind)
			if d := pdb.delta(before); (d["GET me"] != tc.sends && !(tc.bindResent && d["GET me"] == 2)) || len(d) != 1 {
				t.Errorf("bind: the directory saw %v, want %d GET me", d, tc.sends)
			}

			c := ftDial(t, addr)
			if err := c.Bind(dn, oldPW); err != nil {
				t.Fatalf("bind without a fault: %v", err)
			}
			before = pdb.snapshot()
			tc.set()
			_, err = c.PasswordModify(ldap.NewPasswordModifyRequest("", oldPW, newPW))
			pd.SetFault(directorysim.Fault{})
			ftCheck(t, "password change", err, tc.change)
			if d := pdb.delta(before); d["POST changePassword"] != tc.changeCount() || len(d) != 1 {
				t.Errorf("password change: the directory saw %v, want %d POST changePassword", d, tc.changeCount())
			}
			if err == nil && !pd.CheckPassword(dn, newPW) {
				t.Errorf("the change reported success but the directory does not hold the new password")
			}
		})
	}
	ftNoSecrets(t, p, secrets...)
}

func TestFaultsPingOne(t *testing.T) {
	_, _, p1, p1b, p, addr := ftWithSims(t)
	set := func(f pingonesim.Fault) func() { return func() { p1.SetFault(f) } }
	var mangleKind string // the request kind being faulted, set per operation
	mangle := func(how string) func() {
		return func() { p1b.setMangle(mangleKind, ftMangled(how)) }
	}
	const (
		busy    = "PingOne is rate limiting requests; try again later"
		down    = "PingOne is unavailable"
		unknown = "outcome unknown: PingOne did not answer the password change, which may or may not have been applied"
	)
	pw := pingonesim.TargetPassword
	cases := []ftCase{
		// A bind is repeated after the wait; a change is not (the answer
		// does not prove that nothing was changed).
		{name: "429 with Retry-After 1s, once", set: set(pingonesim.Fault{Target: pw, Status: 429, RetryAfter: time.Second, Times: 1}),
			bind: ftSuccess, change: ftW(ftBusy, busy), sends: 2, changeSends: 1},
		{name: "503 with Retry-After 1s, once", set: set(pingonesim.Fault{Target: pw, Status: 503, RetryAfter: time.Second, Times: 1}),
			bind: ftSuccess, change: ftW(ftUnavailable, down), sends: 2, changeSends: 1},
		{name: "429 with Retry-After beyond the deadline", set: set(pingonesim.Fault{Target: pw, Status: 429, RetryAfter: 2 * time.Minute}),
			bind: ftW(ftBusy, busy), change: ftW(ftBusy, busy), sends: 1},
		{name: "500", set: set(pingonesim.Fault{Target: pw, Status: 500}),
			bind: ftW(ftUnavailable, down), change: ftW(ftUnavailable, down), sends: 1},
		{name: "503 without Retry-After", set: set(pingonesim.Fault{Target: pw, Status: 503}),
			bind: ftW(ftUnavailable, down), change: ftW(ftUnavailable, down), sends: 1},
		// A 200 with a page instead of PingOne's JSON is what a proxy or a
		// captive portal answers: it proves nothing, so a change may or
		// may not have been made.
		{name: "HTML page with 200 after acting", set: mangle("html"),
			bind: ftFailNotCreds, change: ftW(ftOther, "outcome unknown"), sends: 1},
		{name: "truncated body", set: mangle("truncated"), bind: ftFailNotCreds, change: ftOKOrUnknown, sends: 1},
		{name: "JSON labelled text/plain", set: mangle("text/plain"), bind: ftNotCreds, change: ftOKOrUnknown, sends: 1},
		{name: "no answer", set: set(pingonesim.Fault{Target: pw, Hang: true}),
			bind: ftW(ftUnavailable, "PingOne did not answer in time: timed out"), change: ftW(ftOther, unknown), sends: 1},
	}
	var secrets []string
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("f%d", i)
			dn := "uid=" + name + "," + demoPeopleBase
			oldPW, newPW := fmt.Sprintf("Fault-Old-%d-pw!", i), fmt.Sprintf("Totally-New-%d-pw#", i)
			secrets = append(secrets, oldPW, newPW)
			if _, err := p1.AddUser(name, name+"@example.com", oldPW); err != nil {
				t.Fatal(err)
			}
			clear := func() { p1.SetFault(pingonesim.Fault{}); p1b.setMangle("", nil) }
			defer clear()

			mangleKind = "POST password"
			before := p1b.snapshot()
			tc.set()
			err := ftDial(t, addr).Bind(dn, oldPW)
			clear()
			ftCheck(t, "bind", err, tc.bind)
			if d := p1b.delta(before); d["POST password"] != tc.sends {
				t.Errorf("bind: PingOne saw %v, want %d POST password", d, tc.sends)
			}

			c := ftDial(t, addr)
			if err := c.Bind(dn, oldPW); err != nil {
				t.Fatalf("bind without a fault: %v", err)
			}
			mangleKind = "PUT password"
			before = p1b.snapshot()
			tc.set()
			_, err = c.PasswordModify(ldap.NewPasswordModifyRequest("", oldPW, newPW))
			clear()
			ftCheck(t, "password change", err, tc.change)
			if d := p1b.delta(before); d["PUT password"] != tc.changeCount() || d["POST password"] != 0 {
				t.Errorf("password change: PingOne saw %v, want %d PUT password", d, tc.changeCount())
			}
			if err == nil {
				if err := ftDial(t, addr).Bind(dn, newPW); err != nil {
					t.Errorf("the change reported success but the new password does not bind: %v", err)
				}
			}
		})
	}
	ftNoSecrets(t, p, secrets...)
}

// TestFaultsOutcomeUnknownOpenLDAP is the row as a user meets it:
// ldappasswd against a backend that takes the change and never answers.
func TestFaultsOutcomeUnknownOpenLDAP(t *testing.T) {
	pd, pdb, _, p1b, _, addr := ftWithSims(t)
	pd.SetFault(directorysim.Fault{Kind: directorysim.FaultHang, Process: true, PathSuffix: "/changePassword"})
	// PingOne takes the change and never answers.
	stop := t.Context()
	p1b.setMangle("PUT password", func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		next.ServeHTTP(httptest.NewRecorder(), r)
		select {
		case <-r.Context().Done():
		case <-stop.Done():
		}
		panic(http.ErrAbortHandler)
	})

	for _, tc := range []struct {
		name, dn, pw string
		sim          *ftSim
		kind         string
		info         string
	}{
		{"pingdirectory", demoBobDN, demoBobPW, pdb, "POST changePassword",
			`Additional info: PingDirectory backend "pd": outcome unknown: timed out after the request was sent; the password may have been changed`},
		{"pingone", demoAliceDN, demoAlicePW, p1b, "PUT password",
			"Additional info: outcome unknown: PingOne did not answer the password change, which may or may not have been applied: timed out"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.sim.count(tc.kind)
			out, errOut, code := tool(t, nil, "ldappasswd", "-x", "-H", "ldap://"+addr, "-D", tc.dn, "-w", tc.pw, "-s", "Unknown-Fate-9#")
			want := "Result: Other (e.g., implementation specific) error (80)\n" + tc.info + "\n"
			if code != 1 || out != want || errOut != "" {
				t.Errorf("ldappasswd: exit %d\nstdout %q\nstderr %q\nwant exit 1, stdout %q", code, out, errOut, want)
			}
			if n := tc.sim.count(tc.kind) - before; n != 1 {
				t.Errorf("the backend saw %d %s requests, want exactly 1 (no retry of a change that may have been applied)", n, tc.kind)
			}
		})
	}
}

// TestFaultsBackendDown: a backend that is not there (stopped, or a name
// that does not resolve) is unavailable (52) for binds and changes, never
// invalidCredentials.
func TestFaultsBackendDown(t *testing.T) {
	_, pdb := ftDirectory(t, false)
	_, p1b := ftPingOne(t)
	addr := freeAddr(t)
	cfg := ftConfig{LDAP: addr, PD: pdb.url, P1: p1b.url, Timeout: ftTimeout,
		ExtraBackends: "  - name: nxdomain\n    type: pingdirectory\n    timeout: 1500ms\n    pingdirectory:\n      url: https://pd.invalid:1443\n",
		ExtraRoutes:   "  - base: ou=elsewhere,dc=example,dc=com\n    backend: nxdomain\n",
	}
	p := ftServe(t, ftWrite(t, filepath.Join(t.TempDir(), "ldapbridge.yaml"), cfg.yaml()))

	// Sessions bound while the backends were up, to change passwords
	// after they are gone.
	bob, alice := ftDial(t, addr), ftDial(t, addr)
	if err := bob.Bind(demoBobDN, demoBobPW); err != nil {
		t.Fatal(err)
	}
	if err := alice.Bind(demoAliceDN, demoAlicePW); err != nil {
		t.Fatal(err)
	}
	pdb.srv.Close()
	p1b.srv.Close()
	pdHost := strings.TrimPrefix(pdb.url, "http://")
	p1Host := strings.TrimPrefix(p1b.url, "http://")

	for _, tc := range []struct {
		name, dn, pw string
		info         string // a regular expression for the diagnostic
	}{
		// The backend's address and the dial error stay out of the
		// client's diagnostic (issue 10); the log keeps them.
		{"pingdirectory stopped", demoBobDN, demoBobPW,
			regexp.QuoteMeta(`PingDirectory backend "pd" unavailable: could not connect`)},
		{"pingone stopped", demoAliceDN, demoAlicePW,
			`PingOne is unavailable: (token request: )?could not connect`},
		// Where no DNS server answers, the lookup times out instead.
		{"backend name does not resolve", "uid=carol,ou=elsewhere,dc=example,dc=com", "Carol-Passw0rd!",
			`PingDirectory backend "nxdomain" unavailable: (could not connect|timed out)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := regexp.MustCompile(`^ldap_bind: Server is unavailable \(52\)\n\tadditional info: ` + tc.info + `\n$`)
			for _, prog := range []string{"ldapwhoami", "ldappasswd"} {
				out, errOut, code := tool(t, nil, prog, "-x", "-H", "ldap://"+addr, "-D", tc.dn, "-w", tc.pw)
				if code != ftUnavailable || out != "" || !want.MatchString(errOut) {
					t.Errorf("%s: exit %d\nstdout %q\nstderr %q\nwant exit 52 and stderr matching %s", prog, code, out, errOut, want)
				}
			}
		})
	}
	_, err := bob.PasswordModify(ldap.NewPasswordModifyRequest("", demoBobPW, "Never-Passw0rd1"))
	ftCheck(t, "pingdirectory change", err, ftW(ftUnavailable, `PingDirectory backend "pd" unavailable: could not connect`))
	if strings.Contains(err.Error(), pdHost) {
		t.Errorf("the change's diagnostic shows the backend's address: %v", err)
	}
	// The log keeps what the client is not told.
	p.WaitOutput(t, testkit.Stderr, 10*time.Second, "the dial errors in the log", func(text string) bool {
		return strings.Contains(text, pdHost) && strings.Contains(text, p1Host) && strings.Contains(text, "connection refused")
	})
	_, err = alice.PasswordModify(ldap.NewPasswordModifyRequest("", demoAlicePW, "Never-Passw0rd1!"))
	ftCheck(t, "pingone change", err, ftW(ftUnavailable, "PingOne is unavailable"))
	ftNoSecrets(t, p, demoBobPW, demoAlicePW, "Never-Passw0rd1")
}

// TestFaultsBackendTLS: a backend whose certificate does not chain to the
// configured CA is unavailable; with the right CA the same server works.
func TestFaultsBackendTLS(t *testing.T) {
	pd, pdb := ftDirectory(t, true)
	const carol = "uid=carol,ou=trusted,dc=example,dc=com"
	if err := pd.AddUser(carol, "Carol-Passw0rd1"); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rightCA := ftWrite(t, filepath.Join(dir, "right-ca.pem"), string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: pdb.srv.Certificate().Raw})))
	wrongCA, _, _ := ftCertPair(t)
	addr := freeAddr(t)
	cfg := ftConfig{LDAP: addr, PD: pdb.url, PDCA: wrongCA, Timeout: ftTimeout,
		ExtraBackends: fmt.Sprintf("  - name: trusted\n    type: pingdirectory\n    ca_file: %q\n    pingdirectory:\n      url: %q\n", rightCA, pdb.url),
		ExtraRoutes:   "  - base: ou=trusted,dc=example,dc=com\n    backend: trusted\n",
	}
	ftServe(t, ftWrite(t, filepath.Join(dir, "ldapbridge.yaml"), cfg.yaml()))

	before := pdb.snapshot()
	out, errOut, code := tool(t, nil, "ldapwhoami", "-x", "-H", "ldap://"+addr, "-D", demoBobDN, "-w", demoBobPW)
	wantPrefix := "ldap_bind: Server is unavailable (52)\n\tadditional info: " + `PingDirectory backend "pd" unavailable: TLS certificate not trusted`
	if code != ftUnavailable || out != "" || !strings.HasPrefix(errOut, wantPrefix) {
		t.Errorf("wrong CA: exit %d\nstdout %q\nstderr %q\nwant exit 52 and stderr starting %q", code, out, errOut, wantPrefix)
	}
	if d := pdb.delta(before); len(d) != 0 {
		t.Errorf("a request reached the backend through an untrusted TLS connection: %v", d)
	}
	out, errOut, code = tool(t, nil, "ldapwhoami", "-x", "-H", "ldap://"+addr, "-D", carol, "-w", "Carol-Passw0rd1")
	if code != 0 || out != "dn:"+carol+"\n" {
		t.Errorf("right CA: exit %d stdout %q stderr %q", code, out, errOut)
	}
	// The simulator's certificate really is the one the trusted CA file holds.
	if !bytes.Equal(pdb.srv.Certificate().Raw, ftParsePEM(t, rightCA).Raw) {
		t.Fatal("the CA file does not hold the simulator's certificate")
	}
}

func ftParsePEM(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	b, _ := pem.Decode([]byte(ftRead(t, path)))
	if b == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
