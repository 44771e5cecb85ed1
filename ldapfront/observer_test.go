package ldapfront

import (
	"regexp"
	"strconv"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/ldapbridge/ldapbridge/bridge"
)

func saslBindOp(dn, mech string) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 0, nil, "bind")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(3), ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	auth := ber.Encode(ber.ClassContext, ber.TypeConstructed, 3, nil, "sasl")
	auth.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, mech, ""))
	op.AppendChild(auth)
	return op
}

// logIDs finds the one log line with message msg that carries op's
// connection and operation ids and message id, and fails the test unless
// there is exactly one.
func logIDs(t *testing.T, logs, msg string, op OpInfo) string {
	t.Helper()
	m := msg
	if strings.Contains(msg, " ") {
		m = strconv.Quote(msg)
	}
	re := regexp.MustCompile(`(^| )msg=` + regexp.QuoteMeta(m) + ` conn=` + strconv.FormatUint(op.Conn, 10) +
		` listener=` + regexp.QuoteMeta(op.Listener) + ` op=` + strconv.FormatUint(op.Op, 10) +
		` msgid=` + strconv.FormatInt(op.MsgID, 10) + `( |$)`)
	var found []string
	for _, l := range strings.Split(logs, "\n") {
		if re.MatchString(l) {
			found = append(found, l)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d log lines %q with conn=%d op=%d msgid=%d, want 1:\n%s", len(found), msg, op.Conn, op.Op, op.MsgID, logs)
	}
	return found[0]
}

// Every failed bind that names someone is reported once, before its
// response, with the ids its log line carries; the front end's own
// refusals too. Anonymous binds and successes are not.
func TestObserverBindFailed(t *testing.T) {
	core, _ := testCore(t)
	loop := startServer(t, core, Options{}, Listener{Name: "loop"})
	strict := startServer(t, core, Options{}, Listener{Name: "strict", Cleartext: CleartextRefuse})

	cases := []struct {
		name   string
		ts     *testServer
		bindAs bool // bind as userDN first: the failed bind replaces it
		op     *ber.Packet
		ctls   []*ber.Packet
		code   bridge.ResultCode // the response
		dn     string            // BindFailed's dn; "-" = no BindFailed
		diag   string            // in the reported outcome
	}{
		{"wrong password", loop, false, bindOp(3, userDN, "wrong"), nil, bridge.InvalidCredentials, userDN, "invalid credentials"},
		{"wrong password, rebind", loop, true, bindOp(3, adminDN, "wrong"), nil, bridge.InvalidCredentials, adminDN, ""},
		{"DN with no password", loop, false, bindOp(3, userDN, ""), nil, bridge.UnwillingToPerform, userDN, "unauthenticated bind"},
		{"no name with a password", loop, false, bindOp(3, "", "some-Pass1"), nil, bridge.UnwillingToPerform, "", ""},
		{"cleartext refused", strict, false, bindOp(3, userDN, userPass), nil, bridge.ConfidentialityRequired, userDN, "needs TLS"},
		{"SASL with a DN", loop, false, saslBindOp(userDN, "PLAIN"), nil, bridge.AuthMethodNotSupported, userDN, "SASL PLAIN is not supported"},
		{"SASL without a name", loop, true, saslBindOp("", "EXTERNAL"), nil, bridge.AuthMethodNotSupported, "", "SASL EXTERNAL"},
		{"protocol version 2", loop, false, bindOp(2, userDN, userPass), nil, bridge.ProtocolError, userDN, "protocol version"},
		{"unsupported critical control", loop, false, bindOp(3, userDN, userPass),
			[]*ber.Packet{reqControlPacket("1.2.3.4.5", true)}, bridge.UnavailableCriticalExtension, userDN, "1.2.3.4.5"},
		{"core panics", loop, false, bindOp(3, panicDN, userPass), nil, bridge.Other, panicDN, diagInternal},
		{"success", loop, false, bindOp(3, userDN, userPass), nil, bridge.Success, "-", ""},
		{"anonymous", loop, true, bindOp(3, "", ""), nil, bridge.Success, "-", ""},
		{"anonymous, version 2", loop, false, bindOp(2, "", ""), nil, bridge.ProtocolError, "-", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := tc.ts
			r := dialRaw(t, srv.addr)
			// Abandon (op 1, no response) and WhoAmI (op 2) come first, so
			// that op ids and message ids differ.
			r.send(envelope(1, abandonOp(42)))
			wantBound := ""
			if tc.bindAs {
				if srv == strict {
					t.Fatal("the strict listener cannot bind first")
				}
				r.bind(2, userDN, userPass)
				wantBound = userDN
			} else {
				r.whoAmI(2)
			}
			before := srv.ev.audited()
			r.send(envelope(7, tc.op, tc.ctls...))
			rs := parseResponse(t, r.read())
			if rs.id != 7 || rs.opTag != appBindResponse || rs.code != tc.code {
				t.Fatalf("response %+v, want %v", rs, tc.code)
			}
			// Reported before the response was written: no waiting.
			got := srv.ev.audited()[len(before):]
			if tc.dn == "-" {
				if len(got) != 0 {
					t.Fatalf("reported %+v, want nothing", got)
				}
				return
			}
			if len(got) != 1 || !got[0].bind {
				t.Fatalf("reported %+v, want one BindFailed", got)
			}
			a := got[0]
			if a.dn != tc.dn || a.out.Code != tc.code || !strings.Contains(a.out.Diagnostic, tc.diag) {
				t.Errorf("BindFailed(%q, %v %q), want (%q, %v, containing %q)", a.dn, a.out.Code, a.out.Diagnostic, tc.dn, tc.code, tc.diag)
			}
			want := OpInfo{Conn: a.op.Conn, Op: 3, MsgID: 7, Listener: srv.listener, Source: r.c.LocalAddr().String(), BoundDN: wantBound}
			if a.op != want || a.op.Conn == 0 {
				t.Errorf("OpInfo %+v, want %+v", a.op, want)
			}
			line := logIDs(t, srv.logs.String(), "bind", a.op)
			if !strings.Contains(line, " code="+strconv.Itoa(int(tc.code))) {
				t.Errorf("log line %q does not carry code %d", line, tc.code)
			}
		})
	}
	// Different connections have different ids.
	conns := map[uint64]bool{}
	for _, a := range loop.ev.bindFailures() {
		conns[a.op.Conn] = true
	}
	if len(conns) != 9 {
		t.Errorf("%d distinct connection ids over 9 failed binds on 9 connections", len(conns))
	}
}

// The rate limit's and the failed-binds limit's busy answers to a bind are
// audited as failed binds.
func TestObserverBindBusy(t *testing.T) {
	core, sc := testCore(t)
	clk := newFakeClock()
	lim := testLimits()
	lim.RatePerIP, lim.RateBurst, lim.FailedBindsPerDN = 1, 2, 1
	ts := startServerWith(t, core, Options{Limits: lim}, Listener{Name: "busy"}, withClock(clk))
	r := dialRaw(t, ts.addr)

	r.send(envelope(1, bindOp(3, userDN, "wrong")))
	if rs := parseResponse(t, r.read()); rs.code != bridge.InvalidCredentials {
		t.Fatalf("first bind: %+v", rs)
	}
	r.send(envelope(2, bindOp(3, userDN, userPass)))
	if rs := parseResponse(t, r.read()); rs.code != bridge.Busy || !strings.Contains(rs.diag, "failed binds") {
		t.Fatalf("bind over failed_binds_per_dn: %+v", rs)
	}
	r.send(envelope(3, bindOp(3, adminDN, adminPass)))
	if rs := parseResponse(t, r.read()); rs.code != bridge.Busy || !strings.Contains(rs.diag, "too many requests") {
		t.Fatalf("bind over rate_per_ip: %+v", rs)
	}
	if n := sc.bindCount(); n != 1 {
		t.Fatalf("%d binds reached the backend, want 1", n)
	}
	got := ts.ev.bindFailures()
	if len(got) != 3 {
		t.Fatalf("%d failed binds reported, want 3: %+v", len(got), got)
	}
	for i, want := range []struct {
		dn   string
		code bridge.ResultCode
		diag string
	}{
		{userDN, bridge.InvalidCredentials, ""},
		{userDN, bridge.Busy, "too many failed binds"},
		{adminDN, bridge.Busy, "too many requests"},
	} {
		a := got[i]
		if a.dn != want.dn || a.out.Code != want.code || !strings.Contains(a.out.Diagnostic, want.diag) ||
			a.op.Op != uint64(i+1) || a.op.MsgID != int64(i+1) || a.op.Conn != got[0].op.Conn || a.op.Source != r.c.LocalAddr().String() {
			t.Errorf("failed bind %d: %+v", i+1, a)
		}
		logIDs(t, ts.logs.String(), "bind", a.op)
	}
	logIDs(t, ts.logs.String(), "request over the rate limit", OpInfo{Conn: got[2].op.Conn, Op: 3, MsgID: 3, Listener: "busy"})
}

// Password changes carry the ids of their log lines, whichever way they
// come and whether or not the core saw them.
func TestObserverPasswordChangeIDs(t *testing.T) {
	core, _ := testCore(t)
	loop := startServer(t, core, Options{}, Listener{Name: "loop"})
	strict := startServer(t, core, Options{}, Listener{Name: "strict", Cleartext: CleartextRefuse})

	// Password Modify and a Modify of userPassword, bound.
	r := dialRaw(t, loop.addr)
	r.bind(1, userDN, userPass)
	r.send(envelope(5, extOp(oidPasswordModify, nil, false)))
	if rs := parseResponse(t, r.read()); rs.code != bridge.Success {
		t.Fatalf("password modify: %+v", rs)
	}
	l := dialLDAP(t, loop.addr)
	if err := l.Bind(adminDN, adminPass); err != nil {
		t.Fatal(err)
	}
	mr := ldap.NewModifyRequest(userDN, nil)
	mr.Replace("userPassword", []string{newPass})
	if err := l.Modify(mr); err != nil {
		t.Fatalf("modify: %v", err)
	}
	// Refused by the front end: no TLS.
	s := dialRaw(t, strict.addr)
	s.send(envelope(9, extOp(oidPasswordModify, nil, false)))
	if rs := parseResponse(t, s.read()); rs.code != bridge.ConfidentialityRequired {
		t.Fatalf("cleartext password modify: %+v", rs)
	}

	loopAudit := loop.ev.audited()
	strictAudit := strict.ev.audited()
	if len(loopAudit) != 2 || len(strictAudit) != 1 {
		t.Fatalf("reported %+v and %+v, want 2 and 1 password changes", loopAudit, strictAudit)
	}
	for _, tc := range []struct {
		name  string
		got   audited
		ts    *testServer
		op    uint64
		msgID int64
		bound string
		kind  bridge.ChangeKind
		msg   string
	}{
		{"password modify", loopAudit[0], loop, 2, 5, userDN, bridge.SelfChange, "password change"},
		{"modify", loopAudit[1], loop, 2, 2, adminDN, bridge.AdminReset, "password change"},
		{"refused", strictAudit[0], strict, 1, 9, "", 0, "password change refused"},
	} {
		a := tc.got
		if a.bind || a.op.Conn == 0 || a.op.Op != tc.op || a.op.MsgID != tc.msgID || a.op.Listener != tc.ts.listener ||
			a.op.BoundDN != tc.bound || a.info.Kind != tc.kind || !strings.HasPrefix(a.op.Source, "127.0.0.1:") {
			t.Errorf("%s: %+v", tc.name, a)
		}
		logIDs(t, tc.ts.logs.String(), tc.msg, a.op)
	}
	if loopAudit[0].op.Conn == loopAudit[1].op.Conn {
		t.Error("two connections share an id")
	}
}
