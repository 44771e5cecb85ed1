package ldapfront

import (
	"bufio"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
)

var _ Core = (*bridge.Bridge)(nil)

const (
	userDN    = "uid=jdoe,ou=people,dc=example,dc=com"
	adminDN   = "uid=admin,ou=people,dc=example,dc=com"
	resetDN   = "uid=reset,ou=people,dc=example,dc=com"
	panicDN   = "uid=panic,ou=people,dc=example,dc=com"
	userPass  = "s3cret-Pass"
	adminPass = "adm1n-Pass"
	newPass   = "N3w-Passw0rd"
	genPass   = "Gen3rated!"
)

// script is the backend behind the test core: it scripts outcomes and
// records what reached it. Hooks, when set, replace the defaults.
type script struct {
	mu      sync.Mutex
	binds   int
	changes []seenChange

	onChange func(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome
}

// seenChange is a ChangeRequest as the backend saw it, passwords revealed
// for assertions.
type seenChange struct {
	target   string
	kind     bridge.ChangeKind
	old, new string
	actor    string // the password the backend would act with
	ctl      bridge.RequestControls
}

func (s *script) Bind(ctx context.Context, req bridge.BindRequest) bridge.Outcome {
	s.mu.Lock()
	s.binds++
	s.mu.Unlock()
	switch {
	case strings.EqualFold(req.DN, panicDN):
		panic("scripted panic")
	case strings.EqualFold(req.DN, adminDN) && req.Password.Reveal() == adminPass:
		return bridge.Outcome{Code: bridge.Success}
	case req.Password.Reveal() == "tooshort":
		return bridge.Outcome{Code: bridge.InvalidCredentials, Policy: bridge.PolicyErr(bridge.PasswordTooShort)}
	case req.Password.Reveal() != userPass:
		return bridge.Fail(bridge.InvalidCredentials, "")
	case strings.EqualFold(req.DN, resetDN):
		return bridge.Outcome{Code: bridge.Success, MustChange: true}
	}
	return bridge.Outcome{Code: bridge.Success}
}

func (s *script) ChangePassword(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
	s.mu.Lock()
	s.changes = append(s.changes, seenChange{target: req.Target, kind: req.Kind,
		old: req.OldPassword.Reveal(), new: req.NewPassword.Reveal(), actor: req.Actor.Password.Reveal(), ctl: req.Controls})
	hook := s.onChange
	s.mu.Unlock()
	if hook != nil {
		return hook(ctx, req)
	}
	if req.NewPassword.IsZero() {
		return bridge.Outcome{Code: bridge.Success, GeneratedPassword: bridge.SecretString(genPass)}
	}
	if req.NewPassword.Len() < 6 {
		return bridge.Outcome{Code: bridge.ConstraintViolation, Diagnostic: "password is too short",
			Policy: bridge.PolicyErr(bridge.PasswordTooShort),
			Validation: &bridge.ValidationDetails{ResponseType: bridge.ValidationPerformed,
				Results: []bridge.ValidationResult{{Requirement: bridge.Requirement{Description: "at least 6 characters"}}}}}
	}
	return bridge.Outcome{Code: bridge.Success}
}

func (s *script) seen() []seenChange {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]seenChange(nil), s.changes...)
}

func (s *script) bindCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.binds
}

func (s *script) setOnChange(f func(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome) {
	s.mu.Lock()
	s.onChange = f
	s.mu.Unlock()
}

// testCore is the Core the tests drive: the real bridge core over the
// scripted backend, so that principals, must-change and authorisation
// behave as in production while outcomes are scripted.
func testCore(t testing.TB) (*bridge.Bridge, *script) {
	t.Helper()
	s := &script{}
	st, err := bridge.NewState([]bridge.Route{{Base: "dc=example,dc=com", Backend: "script", Admins: []string{adminDN}}},
		map[string]bridge.Backend{"script": s}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return bridge.New(st, nil), s
}

// testLimits are short, so that the tests that wait on them stay fast.
func testLimits() Limits {
	return Limits{
		MaxMessageBytes:  64 << 10,
		MaxConnections:   64,
		MaxOpsPerConn:    8,
		IdleTimeout:      30 * time.Second,
		MessageTimeout:   10 * time.Second,
		WriteTimeout:     10 * time.Second,
		OperationTimeout: 10 * time.Second,
	}
}

// events records what the server reports to its Observer.
type events struct {
	mu      sync.Mutex
	limits  []string
	changes []changeEvent
	audits  []audited // failed binds and password changes, in order
	opened  int
	closed  int
	ops     map[string][]bridge.ResultCode
}

// audited is one Decided call about a failed bind or a password change.
type audited struct {
	bind bool // a failed bind; else a password change
	op   OpInfo
	dn   string // the bind's target DN
	info changeEvent
	out  bridge.Outcome
}

// changeEvent is what a password change Decision says of whom.
type changeEvent struct {
	Actor, Target, Backend string
	Kind                   bridge.ChangeKind
}

func (e *events) ConnOpened(string) { e.mu.Lock(); e.opened++; e.mu.Unlock() }
func (e *events) ConnClosed(string) { e.mu.Lock(); e.closed++; e.mu.Unlock() }
func (e *events) LimitHit(n string) { e.mu.Lock(); e.limits = append(e.limits, n); e.mu.Unlock() }
func (e *events) OpDone(op string, code bridge.ResultCode, _ time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ops == nil {
		e.ops = map[string][]bridge.ResultCode{}
	}
	e.ops[op] = append(e.ops[op], code)
}
func (e *events) Decided(op OpInfo, d bridge.Decision) {
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case d.Op == bridge.OpBind && !d.Outcome.OK():
		e.audits = append(e.audits, audited{bind: true, op: op, dn: d.Target.DN, out: d.Outcome})
	case d.ChangesPassword():
		info := changeEvent{Actor: d.Actor.DN, Target: d.Target.DN, Backend: d.Target.Backend, Kind: d.Kind}
		e.changes = append(e.changes, info)
		e.audits = append(e.audits, audited{op: op, info: info, out: d.Outcome})
	}
}

func (e *events) audited() []audited {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]audited(nil), e.audits...)
}

// bindFailures lists the BindFailed calls.
func (e *events) bindFailures() []audited {
	var out []audited
	for _, a := range e.audited() {
		if a.bind {
			out = append(out, a)
		}
	}
	return out
}

func (e *events) limitHits() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.limits...)
}

// testServer runs a server on 127.0.0.1 until the test ends.
type testServer struct {
	srv      *Server
	addr     string
	listener string // its name
	ev       *events
	served   chan struct{} // closed when Serve returns
	serveErr error
	logs     *testkit.LogBuffer
}

// waitServed waits for Serve to return and checks it said ErrServerClosed.
func (ts *testServer) waitServed(t testing.TB) {
	t.Helper()
	select {
	case <-ts.served:
		if !errors.Is(ts.serveErr, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", ts.serveErr)
		}
	case <-time.After(10 * time.Second):
		t.Error("Serve did not return")
	}
}

func startServer(t *testing.T, core Core, opts Options, l Listener) *testServer {
	t.Helper()
	return startServerWith(t, core, opts, l, nil)
}

// startServerWith is startServer with setup run on the server before it
// serves (to give it a test clock).
func startServerWith(t *testing.T, core Core, opts Options, l Listener, setup func(*Server)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{addr: ln.Addr().String(), listener: l.Name, ev: &events{}, served: make(chan struct{}), logs: &testkit.LogBuffer{}}
	if opts.Observer == nil {
		opts.Observer = ts.ev
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Limits == (Limits{}) {
		opts.Limits = testLimits()
	}
	ts.srv = NewServer(core, opts)
	if setup != nil {
		setup(ts.srv)
	}
	go func() {
		ts.serveErr = ts.srv.Serve(ln, l)
		close(ts.served)
	}()
	t.Cleanup(func() {
		_ = ts.srv.Close()
		ts.waitServed(t)
		testkit.NoSecrets(t, "the log", ts.logs.String(), userPass, adminPass, newPass)
	})
	return ts
}

// rawClient speaks LDAP bytes directly, for what go-ldap cannot send or
// does not show.
type rawClient struct {
	t  testing.TB
	c  net.Conn
	br *bufio.Reader
}

func dialRaw(t testing.TB, addr string) *rawClient {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c, br: bufio.NewReader(c)}
}

func (r *rawClient) send(b []byte) {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if _, err := r.c.Write(b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next reads one message's bytes, or returns the read error.
func (r *rawClient) next() ([]byte, error) {
	_ = r.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	tag, err := r.br.ReadByte()
	if err != nil {
		return nil, err
	}
	return readFrame(r.br, tag, 1<<20)
}

func (r *rawClient) read() []byte {
	r.t.Helper()
	b, err := r.next()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	return b
}

// expectNotice reads the Notice of Disconnection and then the close.
func (r *rawClient) expectNotice(code bridge.ResultCode) {
	r.t.Helper()
	b := r.read()
	rs := parseResponse(r.t, b)
	if rs.id != 0 || rs.opTag != appExtendedResp || rs.name != oidNotice || rs.code != code {
		r.t.Fatalf("want a Notice of Disconnection with %v, got %+v", code, rs)
	}
	r.expectClosed()
}

func (r *rawClient) expectClosed() {
	r.t.Helper()
	if b, err := r.next(); err == nil {
		r.t.Fatalf("want the connection closed, got message % x", b)
	} else if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !isReset(err) {
		r.t.Fatalf("want the connection closed, got %v", err)
	}
}

func isReset(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "connection reset") || strings.Contains(err.Error(), "broken pipe"))
}

// response is a decoded response message, for assertions.
type response struct {
	id        int64
	opTag     byte
	code      bridge.ResultCode
	matched   string
	diag      string
	name      string // responseName; "" when absent
	hasName   bool
	value     []byte // responseValue
	hasValue  bool
	controls  []*ber.Packet
	op        *ber.Packet
	rawCtlSeq []byte
}

func parseResponse(t testing.TB, b []byte) response {
	t.Helper()
	p, err := decodeBER(b)
	if err != nil {
		t.Fatalf("response does not decode: %v\n% x", err, b)
	}
	if len(p.Children) < 2 {
		t.Fatalf("response has %d elements", len(p.Children))
	}
	id, _ := parseInt(p.Children[0].Data.Bytes())
	op := p.Children[1]
	r := response{id: id, op: op, opTag: byte(op.ClassType) | byte(op.TagType) | byte(op.Tag)}
	if len(p.Children) == 3 {
		r.controls = p.Children[2].Children
		r.rawCtlSeq = p.Children[2].Bytes()
	}
	if r.opTag == appSearchEntry {
		return r
	}
	if len(op.Children) < 3 {
		t.Fatalf("LDAPResult has %d elements", len(op.Children))
	}
	code, _ := parseInt(op.Children[0].Data.Bytes())
	r.code = bridge.ResultCode(code)
	r.matched = op.Children[1].Data.String()
	r.diag = op.Children[2].Data.String()
	for _, c := range op.Children[3:] {
		switch {
		case c.ClassType == ber.ClassContext && c.Tag == 10:
			r.name, r.hasName = c.Data.String(), true
		case c.ClassType == ber.ClassContext && c.Tag == 11:
			r.value, r.hasValue = c.Data.Bytes(), true
		}
	}
	return r
}

// control returns the value of the response control oid, and whether the
// control is there. It fails the test if any control carries an explicit
// criticality.
func (r response) control(t testing.TB, oid string) ([]byte, bool) {
	t.Helper()
	for _, c := range r.controls {
		for _, e := range c.Children {
			if e.ClassType == ber.ClassUniversal && e.Tag == ber.TagBoolean {
				t.Fatalf("response control %s carries an explicit criticality", c.Children[0].Data.String())
			}
		}
		if c.Children[0].Data.String() == oid {
			if len(c.Children) < 2 {
				return nil, true
			}
			return c.Children[1].Data.Bytes(), true
		}
	}
	return nil, false
}

// Request builders, on asn1-ber so that they do not share code with the
// server's encoder.

func envelope(id int64, op *ber.Packet, ctls ...*ber.Packet) []byte {
	m := ber.NewSequence("LDAPMessage")
	m.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, "id"))
	m.AppendChild(op)
	if len(ctls) > 0 {
		cs := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "controls")
		for _, c := range ctls {
			cs.AppendChild(c)
		}
		m.AppendChild(cs)
	}
	return m.Bytes()
}

func reqControlPacket(oid string, critical bool) *ber.Packet {
	c := ber.NewSequence("control")
	c.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, oid, ""))
	if critical {
		c.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, true, ""))
	}
	return c
}

func bindOp(version int64, dn, password string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 0, nil, "bind")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, version, ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, password, ""))
	return op
}

func extOp(oid string, value []byte, hasValue bool) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 23, nil, "extended")
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, oid, ""))
	if hasValue {
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 1, string(value), ""))
	}
	return op
}

func abandonOp(id int64) *ber.Packet {
	return ber.NewInteger(ber.ClassApplication, ber.TypePrimitive, 16, id, "abandon")
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// readHexFile reads testdata/name: hex digits, whitespace, # comments.
func readHexFile(t testing.TB, name string) []byte {
	t.Helper()
	raw, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	for _, line := range strings.Split(string(raw), "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		sb.WriteString(line)
	}
	return mustHex(t, sb.String())
}

// bindRaw binds a raw client and checks success.
func (r *rawClient) bind(id int64, dn, password string) {
	r.t.Helper()
	r.send(envelope(id, bindOp(3, dn, password)))
	if rs := parseResponse(r.t, r.read()); rs.code != bridge.Success || rs.id != id {
		r.t.Fatalf("bind: %+v", rs)
	}
}

func newReader(c net.Conn) *bufio.Reader { return bufio.NewReader(c) }

// waitFor waits for an event (up to 10 s); see testkit.WaitFor.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, what, 10*time.Second, cond)
}

func (e *events) opCodes(op string) []bridge.ResultCode {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]bridge.ResultCode(nil), e.ops[op]...)
}

// newFakeClock is a hand-moved clock, so that rate limits are tested by
// the order of events, not by how fast the machine is.
func newFakeClock() *testkit.Clock { return testkit.NewClock(time.Unix(1_700_000_000, 0)) }

// withClock is a startServerWith setup that gives the server clk.
func withClock(clk *testkit.Clock) func(*Server) {
	return func(s *Server) { s.now = clk.Now }
}

func (e *events) passwordChanges() []changeEvent {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]changeEvent(nil), e.changes...)
}
