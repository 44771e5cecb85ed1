package ldapfront

import (
	"context"
	"crypto/tls"
	"net"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
)

func TestStartTLS(t *testing.T) {
	core, sc := testCore(t)
	serverTLS, clientTLS := testkit.TLSPair(t)
	ts := startServer(t, core, Options{}, Listener{Name: "st", Mode: StartTLS, TLS: serverTLS, Cleartext: CleartextRefuse})

	t.Run("go-ldap", func(t *testing.T) {
		l := dialLDAP(t, ts.addr)
		if err := l.Bind(userDN, userPass); ldapCode(err) != uint16(bridge.ConfidentialityRequired) {
			t.Fatalf("cleartext bind: %v", err)
		}
		if err := l.StartTLS(clientTLS); err != nil {
			t.Fatal(err)
		}
		if err := l.Bind(userDN, userPass); err != nil {
			t.Fatalf("bind over TLS: %v", err)
		}
		who, err := l.WhoAmI(nil)
		if err != nil || who.AuthzID != "dn:"+userDN {
			t.Fatalf("WhoAmI %v %v", who, err)
		}
		// go-ldap refuses a second StartTLS itself; send the request raw.
		_, err = l.Extended(ldap.NewExtendedRequest(oidStartTLS, nil))
		if ldapCode(err) != uint16(bridge.OperationsError) || !strings.Contains(err.Error(), "TLS already started") {
			t.Fatalf("second StartTLS: %v", err)
		}
		if _, err := l.PasswordModify(ldap.NewPasswordModifyRequest("", "", "N3w-Passw0rd")); err != nil {
			t.Fatalf("password change over TLS: %v", err)
		}
	})

	t.Run("raw response has no responseName", func(t *testing.T) {
		r := dialRaw(t, ts.addr)
		r.send(envelope(1, extOp(oidStartTLS, nil, false)))
		rs := parseResponse(t, r.read())
		if rs.code != bridge.Success || rs.hasName || rs.hasValue || len(rs.controls) != 0 {
			t.Fatalf("StartTLS response %+v", rs)
		}
		tc := tls.Client(r.c, clientTLS)
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		tr := &rawClient{t: t, c: tc, br: newReader(tc)}
		tr.bind(2, userDN, userPass)
	})

	t.Run("with a value", func(t *testing.T) {
		r := dialRaw(t, ts.addr)
		r.send(envelope(1, extOp(oidStartTLS, []byte{0}, true)))
		if rs := parseResponse(t, r.read()); rs.code != bridge.ProtocolError {
			t.Fatalf("got %+v", rs)
		}
	})

	t.Run("failed handshake closes only that connection", func(t *testing.T) {
		r := dialRaw(t, ts.addr)
		r.send(envelope(1, extOp(oidStartTLS, nil, false)))
		if rs := parseResponse(t, r.read()); rs.code != bridge.Success {
			t.Fatalf("got %+v", rs)
		}
		r.send(envelope(2, extOp(oidWhoAmI, nil, false))) // LDAP where a ClientHello belongs
		r.expectClosed()
		l := dialLDAP(t, ts.addr)
		if _, err := l.WhoAmI(nil); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("outstanding operations", func(t *testing.T) {
		// A loopback-friendly listener, so that the slow password change
		// reaches the backend before StartTLS.
		lts := startServer(t, core, Options{}, Listener{Name: "st2", Mode: StartTLS, TLS: serverTLS})
		started, release := make(chan struct{}), make(chan struct{})
		sc.setOnChange(func(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
			close(started)
			<-release
			return bridge.Outcome{Code: bridge.Success}
		})
		defer sc.setOnChange(nil)
		r := dialRaw(t, lts.addr)
		r.bind(1, userDN, userPass)
		r.send(envelope(2, extOp(oidPasswordModify, nil, false)))
		<-started
		r.send(envelope(3, extOp(oidStartTLS, nil, false)))
		rs := parseResponse(t, r.read())
		if rs.id != 3 || rs.code != bridge.OperationsError || !strings.Contains(rs.diag, "outstanding") {
			t.Fatalf("StartTLS with an operation outstanding: %+v", rs)
		}
		close(release)
		if rs := parseResponse(t, r.read()); rs.id != 2 || rs.code != bridge.Success {
			t.Fatalf("password change: %+v", rs)
		}
	})

	t.Run("identity does not survive StartTLS", func(t *testing.T) {
		lts := startServer(t, core, Options{}, Listener{Name: "st3", Mode: StartTLS, TLS: serverTLS, Cleartext: CleartextAllow})
		l := dialLDAP(t, lts.addr)
		if err := l.Bind(userDN, userPass); err != nil {
			t.Fatal(err)
		}
		if err := l.StartTLS(clientTLS); err != nil {
			t.Fatal(err)
		}
		if who, err := l.WhoAmI(nil); err != nil || who.AuthzID != "" {
			t.Fatalf("WhoAmI after StartTLS = %v, %v; want anonymous", who, err)
		}
	})
}

func TestLDAPS(t *testing.T) {
	core, _ := testCore(t)
	serverTLS, clientTLS := testkit.TLSPair(t)
	ts := startServer(t, core, Options{}, Listener{Name: "ldaps", Mode: LDAPS, TLS: serverTLS, Cleartext: CleartextRefuse})

	l, err := ldap.DialURL("ldaps://"+ts.addr, ldap.DialWithTLSConfig(clientTLS))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind(userDN, userPass); err != nil {
		t.Fatalf("bind over LDAPS with cleartext refused: %v", err)
	}
	who, err := l.WhoAmI(nil)
	if err != nil || who.AuthzID != "dn:"+userDN {
		t.Fatalf("WhoAmI %v %v", who, err)
	}
	if _, err := l.Extended(ldap.NewExtendedRequest(oidStartTLS, nil)); ldapCode(err) != uint16(bridge.OperationsError) {
		t.Fatalf("StartTLS over LDAPS: %v", err)
	}

	// A cleartext client on the LDAPS port fails the handshake; the
	// server carries on.
	r := dialRaw(t, ts.addr)
	r.send(envelope(1, extOp(oidWhoAmI, nil, false)))
	if b, err := r.next(); err == nil && len(b) > 0 && b[0] == tagSequence {
		t.Fatalf("an LDAPS listener answered cleartext LDAP: % x", b)
	}
	if _, err := l.WhoAmI(nil); err != nil {
		t.Fatalf("existing connection after a failed handshake: %v", err)
	}
}

func TestServeChecksListener(t *testing.T) {
	core, _ := testCore(t)
	s := NewServer(core, Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	for _, l := range []Listener{
		{Name: "a", Mode: StartTLS},
		{Name: "b", Mode: LDAPS},
		{Name: "c", Mode: Mode(7)},
		{Name: "d", Cleartext: CleartextPolicy(9)},
	} {
		if err := s.Serve(ln, l); err == nil || !strings.Contains(err.Error(), l.Name) {
			t.Errorf("Serve(%+v) = %v, want an error naming the listener", l, err)
		}
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(ln, Listener{Name: "e"}); err != ErrServerClosed {
		t.Fatalf("Serve after Close = %v", err)
	}
}

// TestStartTLSAfterResponse: an operation is outstanding only until its
// response is written, so StartTLS sent as soon as a response has been
// read is never refused with "operations are outstanding" (ldap3's
// open(); start_tls(), python-ldap and Perl do exactly this).
func TestStartTLSAfterResponse(t *testing.T) {
	core, _ := testCore(t)
	serverTLS, clientTLS := testkit.TLSPair(t)
	ts := startServer(t, core, Options{}, Listener{Name: "st", Mode: StartTLS, TLS: serverTLS})
	ops := []struct {
		name string
		do   func(*ldap.Conn) error
	}{
		{"root DSE search", func(l *ldap.Conn) error {
			_, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
				"(objectClass=*)", []string{"supportedExtension"}, nil))
			return err
		}},
		{"WhoAmI", func(l *ldap.Conn) error { _, err := l.WhoAmI(nil); return err }},
		{"bind", func(l *ldap.Conn) error { return l.Bind(userDN, userPass) }},
	}
	const rounds = 400
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			refused := 0
			for range rounds {
				l := dialLDAP(t, ts.addr)
				if err := op.do(l); err != nil {
					t.Fatal(err)
				}
				if err := l.StartTLS(clientTLS); err != nil {
					if ldapCode(err) != uint16(bridge.OperationsError) {
						t.Fatal(err)
					}
					refused++
				}
				l.Close()
			}
			if refused > 0 {
				t.Fatalf("StartTLS right after a response refused %d times of %d", refused, rounds)
			}
		})
	}
}
