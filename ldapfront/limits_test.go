package ldapfront

import (
	"context"
	"errors"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/ldapbridge/ldapbridge/bridge"
)

// stillServing checks that a fresh client is served.
func stillServing(t *testing.T, addr string) {
	t.Helper()
	l := dialLDAP(t, addr)
	if err := l.Bind(userDN, userPass); err != nil {
		t.Fatalf("the next client is not served: %v", err)
	}
}

func TestMalformedInputDisconnects(t *testing.T) {
	core, _ := testCore(t)
	lim := testLimits()
	lim.MaxMessageBytes = 1024
	ts := startServer(t, core, Options{Limits: lim}, Listener{Name: "t"})

	cases := []struct {
		name  string
		input string // hex
		limit string // LimitHit expected
	}{
		{"not a SEQUENCE", hexBytes([]byte("hello world\r\n")), ""},
		{"100 MiB length prefix", "308406400000", "max_message_bytes"},
		{"length over the limit by one", "30820401", "max_message_bytes"},
		{"nine length octets", "3089010000000000000000", ""},
		{"indefinite length", "30800201010000", ""},
		{"indefinite length inside", "3007020101778000 00", ""},
		{"high tag number", "300602010 17f0100", ""},
		{"messageID 0", "3005020100 4200", ""},
		{"negative messageID", "30050201ff4200", ""},
		{"no protocolOp", "3003020101", ""},
		{"universal protocolOp", "30050201010400", ""},
		{"unknown protocolOp", "300502010 15e00", ""},
		{"a response PDU", "300c02010161070a0100040004 00", ""},
		{"bind without credentials", "300c020101600702010304 020000", ""},
		{"bind with a bad version", "300b0201016006020004008000", ""},
		{"extended without a name", "3007020101770281 00", ""},
		{"extended with a constructed value", "300f020101770a8001 31a105040300 0000", ""},
		{"search with 7 elements", "3018020101 6313 0400 0a0100 0a0100 020100 020100 010100 8700", ""},
		{"bad controls", "300a0201014200a003040100", ""},
		{"control criticality not boolean", "300e 020101 4200 a007 3005 0400 020101", ""},
		{"abandon with an empty id", "300502010150 00", ""},
		{"trailing element", "30080201014200 020100", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, ts.addr)
			r.send(mustHex(t, tc.input))
			r.expectNotice(bridge.ProtocolError)
			if tc.limit != "" && !slices.Contains(ts.ev.limitHits(), tc.limit) {
				t.Fatalf("limit hits %v, want %s", ts.ev.limitHits(), tc.limit)
			}
			stillServing(t, ts.addr)
		})
	}
}

func TestAbandon(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	started, cancelled := make(chan struct{}), make(chan error, 1)
	sc.setOnChange(func(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
		close(started)
		<-ctx.Done()
		cancelled <- ctx.Err()
		return bridge.Fail(bridge.Other, "outcome unknown")
	})
	r := dialRaw(t, ts.addr)
	r.bind(1, userDN, userPass)
	r.send(envelope(2, extOp(oidPasswordModify, nil, false)))
	<-started
	r.send(envelope(3, abandonOp(2)))
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("the abandoned operation's context ended with %v", err)
	}
	waitFor(t, "the abandoned operation to finish", func() bool { return len(ts.ev.opCodes("passwordModify")) == 1 })
	if got := ts.ev.opCodes("passwordModify"); got[0] != bridge.Canceled {
		t.Fatalf("abandoned operation reported %v", got)
	}
	// Abandoning an unknown or finished operation is silently ignored.
	r.send(envelope(4, abandonOp(99)))
	r.send(envelope(5, extOp(oidWhoAmI, nil, false)))
	if rs := parseResponse(t, r.read()); rs.id != 5 {
		t.Fatalf("next message after an abandon is %+v, want the WhoAmI response", rs)
	}
	stillServing(t, ts.addr)
}

func TestPanicIsContained(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	r := dialRaw(t, ts.addr)
	r.send(envelope(1, bindOp(3, panicDN, userPass)))
	if rs := parseResponse(t, r.read()); rs.id != 1 || rs.opTag != appBindResponse || rs.code != bridge.Other {
		t.Fatalf("panicking bind answered %+v, want other", rs)
	}
	r.bind(2, userDN, userPass) // same connection
	stillServing(t, ts.addr)    // and a new one

	// A panic in an operation running in its own goroutine.
	sc.setOnChange(func(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
		var none []bridge.Outcome
		return none[len(req.Target)] // a runtime error
	})
	r.send(envelope(3, extOp(oidPasswordModify, nil, false)))
	if rs := parseResponse(t, r.read()); rs.id != 3 || rs.opTag != appExtendedResp || rs.code != bridge.Other {
		t.Fatalf("panicking password change answered %+v, want other", rs)
	}
	r.send(envelope(4, extOp(oidWhoAmI, nil, false)))
	if rs := parseResponse(t, r.read()); rs.id != 4 || string(rs.value) != "dn:"+userDN {
		t.Fatalf("after the panic: %+v", rs)
	}
	logs := ts.logs.String()
	if !strings.Contains(logs, "operation panicked") || !strings.Contains(logs, "conn=") || !strings.Contains(logs, "msgid=1") ||
		!strings.Contains(logs, "index out of range") {
		t.Fatalf("panic not logged with its ids:\n%s", logs)
	}
	if strings.Contains(logs, "scripted panic") {
		t.Fatal("the panic value reached the log")
	}
}

func TestMaxOpsPerConn(t *testing.T) {
	core, sc := testCore(t)
	lim := testLimits()
	lim.MaxOpsPerConn = 2
	ts := startServer(t, core, Options{Limits: lim}, Listener{Name: "t"})
	var startedN sync.WaitGroup
	startedN.Add(2)
	release := make(chan struct{})
	sc.setOnChange(func(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
		startedN.Done()
		<-release
		return bridge.Outcome{Code: bridge.Success}
	})
	r := dialRaw(t, ts.addr)
	r.bind(1, userDN, userPass)
	for id := int64(2); id <= 4; id++ {
		r.send(envelope(id, extOp(oidPasswordModify, nil, false)))
	}
	rs := parseResponse(t, r.read())
	if rs.id != 4 || rs.code != bridge.Busy {
		t.Fatalf("third operation: %+v, want busy", rs)
	}
	startedN.Wait()
	close(release)
	got := map[int64]bridge.ResultCode{}
	for range 2 {
		rs := parseResponse(t, r.read())
		got[rs.id] = rs.code
	}
	if got[2] != bridge.Success || got[3] != bridge.Success {
		t.Fatalf("responses %v", got)
	}
	if !slices.Contains(ts.ev.limitHits(), "max_ops_per_conn") {
		t.Fatalf("limit hits %v", ts.ev.limitHits())
	}
}

func TestIdleTimeout(t *testing.T) {
	core, sc := testCore(t)
	lim := testLimits()
	lim.IdleTimeout = 150 * time.Millisecond
	ts := startServer(t, core, Options{Limits: lim}, Listener{Name: "t"})

	t.Run("idle connection gets the notice", func(t *testing.T) {
		r := dialRaw(t, ts.addr)
		r.bind(1, userDN, userPass)
		r.expectNotice(bridge.Unavailable)
		if !slices.Contains(ts.ev.limitHits(), "idle_timeout") {
			t.Fatalf("limit hits %v", ts.ev.limitHits())
		}
	})
	t.Run("a connection waiting for an answer is not idle", func(t *testing.T) {
		release := make(chan struct{})
		sc.setOnChange(func(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
			<-release
			return bridge.Outcome{Code: bridge.Success}
		})
		defer sc.setOnChange(nil)
		r := dialRaw(t, ts.addr)
		r.bind(1, userDN, userPass)
		r.send(envelope(2, extOp(oidPasswordModify, nil, false)))
		time.Sleep(4 * lim.IdleTimeout)
		close(release)
		if rs := parseResponse(t, r.read()); rs.id != 2 || rs.code != bridge.Success {
			t.Fatalf("got %+v, want the password change's response", rs)
		}
	})
}

func TestSlowMessage(t *testing.T) {
	core, _ := testCore(t)
	lim := testLimits()
	lim.MessageTimeout = 200 * time.Millisecond
	ts := startServer(t, core, Options{Limits: lim}, Listener{Name: "t"})

	// A dribbles a bind one byte every 40 ms: about 4 s for the message,
	// far past MessageTimeout.
	slow := dialRaw(t, ts.addr)
	msg := envelope(1, bindOp(3, userDN+strings.Repeat(" ", 40), userPass))
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for _, b := range msg {
			select {
			case <-stop:
				return
			case <-time.After(40 * time.Millisecond):
			}
			if _, err := slow.c.Write([]byte{b}); err != nil {
				return
			}
		}
	}()

	// Meanwhile B is served.
	l := dialLDAP(t, ts.addr)
	if err := l.Bind(userDN, userPass); err != nil {
		t.Fatal(err)
	}
	if _, err := l.WhoAmI(nil); err != nil {
		t.Fatal(err)
	}

	b, err := slow.next()
	if err == nil {
		rs := parseResponse(t, b)
		if rs.id != 0 || rs.code != bridge.Unavailable {
			t.Fatalf("the slow client got %+v, want the notice", rs)
		}
		slow.expectClosed()
	}
	waitFor(t, "the message timeout to be reported", func() bool { return slices.Contains(ts.ev.limitHits(), "message_timeout") })
}

func TestMaxConnections(t *testing.T) {
	core, _ := testCore(t)
	lim := testLimits()
	lim.MaxConnections = 3
	ts := startServer(t, core, Options{Limits: lim}, Listener{Name: "t"})

	const dialers = 2 * 3
	var wg sync.WaitGroup
	results := make(chan bool, dialers)
	hold := make(chan struct{})
	for range dialers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", ts.addr)
			if err != nil {
				results <- false
				return
			}
			defer c.Close()
			r := &rawClient{t: t, c: c, br: newReader(c)}
			if _, err := c.Write(envelope(1, extOp(oidWhoAmI, nil, false))); err != nil {
				results <- false
				return
			}
			b, err := r.next()
			results <- err == nil && len(b) > 4 && b[4] == 1 // messageID 1: answered
			<-hold
		}()
	}
	served := 0
	for range dialers {
		if <-results {
			served++
		}
	}
	if served != lim.MaxConnections {
		close(hold)
		wg.Wait()
		t.Fatalf("%d connections served at once, limit %d", served, lim.MaxConnections)
	}
	// Still full: one more gets the notice.
	r := dialRaw(t, ts.addr)
	r.expectNotice(bridge.Busy)
	close(hold)
	wg.Wait()
	if !slices.Contains(ts.ev.limitHits(), "max_connections") {
		t.Fatalf("limit hits %v", ts.ev.limitHits())
	}
	waitFor(t, "connections to be released", func() bool {
		ts.srv.mu.Lock()
		defer ts.srv.mu.Unlock()
		return len(ts.srv.conns) == 0
	})
	stillServing(t, ts.addr)
}

func TestMaxConnsPerIP(t *testing.T) {
	core, _ := testCore(t)
	lim := testLimits()
	lim.MaxConnsPerIP = 2
	ts := startServer(t, core, Options{Limits: lim}, Listener{Name: "t"})
	a, b := dialLDAP(t, ts.addr), dialLDAP(t, ts.addr)
	for _, l := range []*ldap.Conn{a, b} {
		if _, err := l.WhoAmI(nil); err != nil {
			t.Fatal(err)
		}
	}
	dialRaw(t, ts.addr).expectNotice(bridge.Busy)
	if !slices.Contains(ts.ev.limitHits(), "max_conns_per_ip") {
		t.Fatalf("limit hits %v", ts.ev.limitHits())
	}
	a.Close()
	waitFor(t, "a slot to free up", func() bool {
		ts.srv.mu.Lock()
		defer ts.srv.mu.Unlock()
		return len(ts.srv.conns) < 2
	})
	stillServing(t, ts.addr)
}

func TestCleartextPolicy(t *testing.T) {
	core, sc := testCore(t)
	cases := []struct {
		policy CleartextPolicy
		allow  bool
	}{
		{CleartextRefuse, false},
		{CleartextLoopback, true},
		{CleartextAllow, true},
	}
	for _, tc := range cases {
		t.Run(fmtPolicy(tc.policy), func(t *testing.T) {
			ts := startServer(t, core, Options{}, Listener{Name: "t", Cleartext: tc.policy})
			before := sc.bindCount()
			r := dialRaw(t, ts.addr)
			r.send(envelope(1, bindOp(3, userDN, userPass)))
			rs := parseResponse(t, r.read())
			switch {
			case tc.allow && rs.code != bridge.Success:
				t.Fatalf("bind: %+v", rs)
			case !tc.allow && (rs.code != bridge.ConfidentialityRequired || sc.bindCount() != before):
				t.Fatalf("bind: %+v, backend binds %d -> %d", rs, before, sc.bindCount())
			}
			// An anonymous bind carries no password and is always allowed.
			r.send(envelope(2, bindOp(3, "", "")))
			if rs := parseResponse(t, r.read()); rs.code != bridge.Success {
				t.Fatalf("anonymous bind: %+v", rs)
			}
			changes := len(sc.seen())
			r.send(envelope(3, extOp(oidPasswordModify, mustHex(t, seq(hexTLV(0x80, []byte(userDN))+hexTLV(0x81, []byte(userPass)))), true)))
			rs = parseResponse(t, r.read())
			want := bridge.StrongerAuthRequired // anonymous, as the core decides
			if !tc.allow {
				want = bridge.ConfidentialityRequired
			}
			if rs.code != want || len(sc.seen()) != changes {
				t.Fatalf("password change: %+v, want %v without reaching the backend", rs, want)
			}
		})
	}
}

func fmtPolicy(p CleartextPolicy) string {
	return [...]string{"loopback", "allow", "refuse"}[p]
}

func TestPeer(t *testing.T) {
	cases := []struct {
		addr  net.Addr
		ip    string
		local bool
	}{
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, "127.0.0.1", true},
		{&net.TCPAddr{IP: net.ParseIP("::1"), Port: 1}, "::1", true},
		{&net.TCPAddr{IP: net.ParseIP("::ffff:127.0.0.2"), Port: 1}, "127.0.0.2", true},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 1}, "192.0.2.7", false},
		{&net.UnixAddr{Name: "@", Net: "unix"}, "invalid IP", true},
	}
	for _, tc := range cases {
		ip, local := peer(addrConn{remote: tc.addr})
		if ip.String() != tc.ip || local != tc.local {
			t.Errorf("peer(%v) = %v, %v; want %s, %v", tc.addr, ip, local, tc.ip, tc.local)
		}
	}
}

type addrConn struct {
	net.Conn
	remote net.Addr
}

func (a addrConn) RemoteAddr() net.Addr { return a.remote }

func TestShutdownDrains(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	started, release := make(chan struct{}), make(chan struct{})
	sc.setOnChange(func(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
		close(started)
		<-release
		return bridge.Outcome{Code: bridge.Success}
	})
	busy := dialRaw(t, ts.addr)
	busy.bind(1, userDN, userPass)
	busy.send(envelope(2, extOp(oidPasswordModify, nil, false)))
	<-started
	idle := dialRaw(t, ts.addr)
	idle.bind(1, userDN, userPass)

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		shut <- ts.srv.Shutdown(ctx)
	}()
	idle.expectNotice(bridge.Unavailable)
	ts.waitServed(t)
	if c, err := net.Dial("tcp", ts.addr); err == nil {
		c.Close()
		t.Fatal("still accepting after Shutdown")
	}
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with an operation in flight", err)
	default:
	}
	close(release)
	if rs := parseResponse(t, busy.read()); rs.id != 2 || rs.code != bridge.Success {
		t.Fatalf("in-flight operation: %+v", rs)
	}
	busy.expectNotice(bridge.Unavailable)
	if err := <-shut; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

func TestShutdownDeadline(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	started, cancelled := make(chan struct{}), make(chan struct{})
	sc.setOnChange(func(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
		close(started)
		<-ctx.Done()
		close(cancelled)
		return bridge.Fail(bridge.Other, "outcome unknown")
	})
	r := dialRaw(t, ts.addr)
	r.bind(1, userDN, userPass)
	r.send(envelope(2, extOp(oidPasswordModify, nil, false)))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the context's error", err)
	}
	<-cancelled
	r.expectClosed()
}

// TestRequestsAfterSearchOp checks that a search request with every field
// decodes and is answered (regression guard for the SearchRequest decoder).
func TestSearchRequestBytes(t *testing.T) {
	core, _ := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	r := dialRaw(t, ts.addr)
	r.send(rootDSESearch(1, "vendorName"))
	e := parseResponse(t, r.read())
	if e.opTag != appSearchEntry {
		t.Fatalf("got %+v", e)
	}
	attrs := e.op.Children[1].Children
	if len(attrs) != 1 || attrs[0].Children[0].Data.String() != "vendorName" ||
		attrs[0].Children[1].Children[0].Data.String() != "ldapbridge" {
		t.Fatalf("entry % x", e.op.Bytes())
	}
	if d := parseResponse(t, r.read()); d.opTag != appSearchDone || d.code != bridge.Success {
		t.Fatalf("done %+v", d)
	}
	_ = ber.TagSequence
}
