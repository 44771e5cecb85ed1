package main

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// The same rows with go-ldap, plus what OpenLDAP's tools cannot send.

func dial(t *testing.T, d *demo) *ldap.Conn { t.Helper(); return opsDialFrom(t, d.ldap, "") }

func resultCode(err error) uint16 {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0xffff
}

func TestGoLDAPDemo(t *testing.T) {
	d := startDemo(t)
	c := dial(t, d)

	if err := c.Bind(demoBobDN, "wrong-Passw0rd"); resultCode(err) != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("wrong password: %v", err)
	}
	_, err := c.SimpleBind(&ldap.SimpleBindRequest{Username: demoBobDN, AllowEmptyPassword: true})
	if resultCode(err) != ldap.LDAPResultUnwillingToPerform {
		t.Fatalf("empty password: %v", err)
	}
	res, err := c.SimpleBind(&ldap.SimpleBindRequest{Username: demoBobDN, Password: demoBobPW, Controls: []ldap.Control{ldap.NewControlBeheraPasswordPolicy()}})
	if err != nil {
		t.Fatalf("bind: %v", err)
	}
	if pp, ok := ldap.FindControl(res.Controls, ldap.ControlTypeBeheraPasswordPolicy).(*ldap.ControlBeheraPasswordPolicy); !ok || pp.Error >= 0 {
		t.Fatalf("bind with ppolicy: control %v", res.Controls)
	}
	who, err := c.WhoAmI(nil)
	if err != nil || who.AuthzID != "dn:"+demoBobDN {
		t.Fatalf("whoami: %v %+v", err, who)
	}

	// Generated password, in the go-ldap way (empty new password).
	pm, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", demoBobPW, ""))
	if err != nil || pm.GeneratedPassword == "" {
		t.Fatalf("generated: %v %+v", err, pm)
	}
	if err := dial(t, d).Bind(demoBobDN, pm.GeneratedPassword); err != nil {
		t.Fatalf("bind with the generated password: %v", err)
	}
	// Too short: constraintViolation.
	_, err = c.PasswordModify(ldap.NewPasswordModifyRequest(demoBobDN, pm.GeneratedPassword, "ab1c"))
	if resultCode(err) != ldap.LDAPResultConstraintViolation {
		t.Fatalf("too short: %v", err)
	}

	// PingOne route.
	c2 := dial(t, d)
	if err := c2.Bind(demoAliceDN, demoAlicePW); err != nil {
		t.Fatalf("alice: %v", err)
	}
	if _, err := c2.PasswordModify(ldap.NewPasswordModifyRequest("", "", "Totally-Different-9#")); err != nil {
		t.Fatalf("alice self change without old password: %v", err)
	}
	if err := dial(t, d).Bind(demoAliceDN, "Totally-Different-9#"); err != nil {
		t.Fatalf("alice new password: %v", err)
	}
}

func TestGoLDAPTLS(t *testing.T) {
	d := startDemo(t)
	insecure := &tls.Config{InsecureSkipVerify: true} // the demo's certificate is self-signed
	c := dial(t, d)
	if err := c.StartTLS(insecure); err != nil {
		t.Fatalf("starttls: %v", err)
	}
	if err := c.Bind(demoBobDN, demoBobPW); err != nil {
		t.Fatalf("bind over starttls: %v", err)
	}
	if err := c.StartTLS(insecure); err == nil {
		t.Fatalf("a second StartTLS succeeded")
	}
	s, err := ldap.DialURL(d.urls(), ldap.DialWithTLSConfig(insecure))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Bind(demoAliceDN, demoAlicePW); err != nil {
		t.Fatalf("bind over ldaps: %v", err)
	}
}

// TestBadClientsLeaveTheServerServing sends what real clients should not,
// each on its own connection, and checks the next client is served.
func TestBadClientsLeaveTheServerServing(t *testing.T) {
	d := startDemo(t)
	raw := func(t *testing.T, b []byte) []byte {
		t.Helper()
		conn, err := net.DialTimeout("tcp", d.ldap, 5*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(b); err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(conn)
		return got
	}
	for _, tc := range []struct {
		name string
		send []byte
	}{
		{"malformed PDU", []byte{0x30, 0x05, 0x02, 0x01, 0x01, 0xff, 0x00}},
		{"100 MiB length prefix", []byte{0x30, 0x84, 0x06, 0x40, 0x00, 0x00, 0x02, 0x01, 0x01}},
		{"not BER at all", []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := raw(t, tc.send)
			p, err := ber.DecodePacketErr(got)
			if err != nil || len(p.Children) < 2 {
				t.Fatalf("no Notice of Disconnection: % x", got)
			}
			mustBind(t, d, demoBobDN, demoBobPW)
		})
	}

	c := dial(t, d)
	if err := c.Bind(demoBobDN, demoBobPW); err != nil {
		t.Fatal(err)
	}
	_, err := c.Extended(ldap.NewExtendedRequest("1.2.3.4.5.6", nil))
	if resultCode(err) == 0xffff || resultCode(err) == ldap.LDAPResultSuccess {
		t.Fatalf("unknown extended op: %v", err)
	}
	if _, err := c.Compare(demoBobDN, "uid", "bob"); resultCode(err) != ldap.LDAPResultUnwillingToPerform {
		t.Fatalf("compare: %v", err)
	}
	// An Abandon of a message that does not exist has no answer and harms nothing.
	abandon := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	abandon.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(99), ""))
	abandon.AppendChild(ber.NewInteger(ber.ClassApplication, ber.TypePrimitive, 16, int64(42), ""))
	conn, err := net.Dial("tcp", d.ldap)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.Write(abandon.Bytes()); err != nil {
		t.Fatal(err)
	}
	who, err := c.WhoAmI(nil)
	if err != nil || who.AuthzID != "dn:"+demoBobDN {
		t.Fatalf("the connection does not serve after the bad requests: %v", err)
	}
	mustBind(t, d, demoBobDN, demoBobPW)
}
