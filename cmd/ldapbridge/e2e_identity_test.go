package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/internal/testkit/simkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// The identity rule (issue 10 items 2 and 3) against the real binary and
// both simulators: a user is who the backend says, not how the client
// spells the DN.

const (
	idCarolP1DN  = "uid=carol,ou=people,dc=example,dc=com"
	idCarolPW    = "Carol-Passw0rd!"
	idDaveDN     = "uid=dave,ou=staff,dc=example,dc=com"
	idDavePW     = "Dave-Passw0rd!1"
	idFakeAdmin  = "cn=ad\u017fmin,dc=example,dc=com" // ſ: folds to s under Unicode case folding
	idFakeAdmPW  = "Fake-Adm1n-Passw0rd"
	idAdsminDN   = "cn=adsmin,dc=example,dc=com"
	idWrongPW    = "Wrong-Passw0rd9"
	idAlicePWNew = "Alice-Changed-Passw0rd1"
)

type idEnv struct {
	addr string
	p1   *pingonesim.Server
	pd   *directorysim.Server
}

// idServe runs the binary with both simulators (PingOne: alice, carol;
// PingDirectory: bob, dave, the admin and cn=adſmin, locking after 3
// failures), the bind cache on, the PingOne route's admins extended with
// cn=adsmin, and extra appended to the configuration.
func idServe(t *testing.T, extra string) *idEnv {
	t.Helper()
	pd, pdURL := simkit.Directory(t, directorysim.Config{
		Policy: directorysim.Policy{MinLength: 8, MinDigits: 1, History: 3, LockoutFailures: 3},
		Admins: []string{demoAdminDN},
	}, map[string]string{demoBobDN: demoBobPW, demoAdminDN: demoAdminPW, idDaveDN: idDavePW, idFakeAdmin: idFakeAdmPW})
	p1, p1URL, _ := simkit.PingOne(t, pingonesim.Config{EnvironmentID: demoEnvID, ClientID: demoClientID, ClientSecret: demoClientSecret},
		simkit.User{Name: "alice", Email: "alice@example.com", Password: demoAlicePW},
		simkit.User{Name: "carol", Email: "carol@example.com", Password: idCarolPW})
	e := newOpsEnv(t)
	e.pdURL, e.p1URL = pdURL, p1URL
	e.extra = "bind_cache:\n  enabled: true\n  ttl: 5m\n" + extra
	e.write(t)
	y := opsRead(t, e.cfgPath)
	y = strings.Replace(y, `admins: ["`+demoAdminDN+`"]`, `admins: ["`+demoAdminDN+`", "`+idAdsminDN+`"]`, 1)
	opsWriteFile(t, e.cfgPath, y)
	opsServe(t, e)
	return &idEnv{addr: e.ldap, p1: p1, pd: pd}
}

func (e *idEnv) dial(t *testing.T) *ldap.Conn {
	t.Helper()
	return opsDialFrom(t, e.addr, "")
}

func (e *idEnv) bind(t *testing.T, dn, pw string) error {
	t.Helper()
	c := e.dial(t)
	defer c.Close()
	return c.Bind(dn, pw)
}

// rawBind sends one simple bind (message id 1, the ppolicy request
// control when asked) and returns the BindResponse message as sent.
func (e *idEnv) rawBind(t *testing.T, dn, pw string, ppolicy bool) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", e.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(1), ""))
	br := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 0, nil, "")
	br.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, int64(3), ""))
	br.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	br.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, pw, ""))
	env.AppendChild(br)
	if ppolicy {
		ctls := ber.Encode(ber.ClassContext, ber.TypeConstructed, 0, nil, "")
		ctl := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
		ctl.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, ldap.ControlTypeBeheraPasswordPolicy, ""))
		ctls.AppendChild(ctl)
		env.AppendChild(ctls)
	}
	if _, err := conn.Write(env.Bytes()); err != nil {
		t.Fatal(err)
	}
	p, err := ber.ReadPacket(conn)
	if err != nil {
		t.Fatal(err)
	}
	return p.Bytes()
}

// (a) Only the canonical DN names a PingOne user; WhoAmI shows it however
// the client spelled it. (d) The admin check does not fold ſ to s.
func TestIdentityCanonicalDN(t *testing.T) {
	e := idServe(t, "")
	wrong := e.bind(t, demoAliceDN, idWrongPW)
	if resultCode(wrong) != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("wrong password: %v", wrong)
	}
	for _, tc := range []struct {
		dn string
		// asks: the spelling has the canonical shape, so only the user
		// PingOne finds can tell (here: alice, whose username is not
		// alice@example.com).
		asks bool
	}{
		{"uid=alice,ou=x,ou=people,dc=example,dc=com", false},
		{"uid=alice+cn=x,ou=people,dc=example,dc=com", false},
		{"cn=alice,ou=people,dc=example,dc=com", false},
		{"uid=alice,ou=people,dc=example,dc=org", false},
		{"uid=alice@example.com,ou=people,dc=example,dc=com", true},
	} {
		before := e.p1.Requests()
		err := e.bind(t, tc.dn, demoAlicePW)
		if resultCode(err) != ldap.LDAPResultInvalidCredentials || err.Error() != wrong.Error() {
			t.Errorf("bind as %q with alice's password: %v, want %v", tc.dn, err, wrong)
		}
		if n := e.p1.Requests() - before; !tc.asks && n != 0 {
			t.Errorf("bind as %q made %d PingOne requests, want none", tc.dn, n)
		}
	}
	c := e.dial(t)
	defer c.Close()
	if err := c.Bind("UID=Alice , ou=People,dc=example,dc=com", demoAlicePW); err != nil {
		t.Fatalf("canonical DN up to ASCII case: %v", err)
	}
	who, err := c.WhoAmI(nil)
	if err != nil || who.AuthzID != "dn:"+demoAliceDN {
		t.Fatalf("WhoAmI: %+v %v, want dn:%s", who, err, demoAliceDN)
	}
	// PingDirectory names the entry by its own DN.
	if err := c.Bind("UID=Bob, OU=Staff, DC=Example, DC=Com", demoBobPW); err != nil {
		t.Fatal(err)
	}
	if who, err := c.WhoAmI(nil); err != nil || who.AuthzID != "dn:"+demoBobDN {
		t.Fatalf("WhoAmI: %+v %v, want dn:%s", who, err, demoBobDN)
	}

	// cn=adſmin is not cn=adsmin, an admin of the PingOne route.
	if err := c.Bind(idFakeAdmin, idFakeAdmPW); err != nil {
		t.Fatal(err)
	}
	_, err = c.PasswordModify(ldap.NewPasswordModifyRequest(demoAliceDN, "", "Hijacked-Passw0rd1"))
	if resultCode(err) != ldap.LDAPResultInsufficientAccessRights {
		t.Fatalf("reset by cn=adſmin: %v, want insufficientAccessRights", err)
	}
	if err := e.bind(t, demoAliceDN, demoAlicePW); err != nil {
		t.Fatalf("alice's password changed: %v", err)
	}
}

// (b) After a self change through the bridge, the old password binds
// under no spelling, with the bind cache on, on either route.
func TestIdentityOldPasswordAfterChange(t *testing.T) {
	e := idServe(t, "")
	for _, tc := range []struct {
		dn, old, nw string
		spellings   []string
	}{
		{demoAliceDN, demoAlicePW, idAlicePWNew, []string{demoAliceDN, "UID=ALICE,OU=PEOPLE,DC=EXAMPLE,DC=COM", "uid=alice, ou=people, dc=example, dc=com",
			"uid=alice,ou=x,ou=people,dc=example,dc=com", "uid=alice+cn=x,ou=people,dc=example,dc=com"}},
		{demoBobDN, demoBobPW, "Bob-Changed-Passw0rd1", []string{demoBobDN, "UID=BOB,OU=STAFF,DC=EXAMPLE,DC=COM", "uid=bob, ou=staff, dc=example, dc=com"}},
	} {
		// Fill the cache under every spelling that binds.
		for _, s := range tc.spellings {
			e.bind(t, s, tc.old)
		}
		c := e.dial(t)
		if err := c.Bind(tc.spellings[1], tc.old); err != nil {
			t.Fatal(err)
		}
		if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("", tc.old, tc.nw)); err != nil {
			t.Fatalf("self change of %s: %v", tc.dn, err)
		}
		c.Close()
		// The new one first: the old one, tried under every spelling,
		// counts failures against the account (PingDirectory locks it).
		if err := e.bind(t, tc.dn, tc.nw); err != nil {
			t.Errorf("new password as %s: %v", tc.dn, err)
		}
		for _, s := range tc.spellings {
			if err := e.bind(t, s, tc.old); resultCode(err) != ldap.LDAPResultInvalidCredentials {
				t.Errorf("old password as %q: %v, want invalidCredentials", s, err)
			}
		}
	}
}

// (c) The failed-bind limit per DN cannot be bypassed by respelling.
func TestIdentityFailedBindLimit(t *testing.T) {
	e := idServe(t, "limits:\n  failed_binds_per_dn: 3\n")
	for i := 0; i < 3; i++ {
		if err := e.bind(t, demoAliceDN, idWrongPW); resultCode(err) != ldap.LDAPResultInvalidCredentials {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	before := e.p1.Requests()
	for _, dn := range []string{
		demoAliceDN,
		"UID=Alice,OU=People,DC=Example,DC=Com",
		"uid=alice,ou=x,ou=people,dc=example,dc=com",
		"uid=alice+cn=x,ou=people,dc=example,dc=com",
	} {
		if err := e.bind(t, dn, demoAlicePW); err == nil {
			t.Errorf("bind as %q with the right password succeeded past the limit", dn)
		}
	}
	if n := e.p1.Requests() - before; n != 0 {
		t.Errorf("%d PingOne requests past the limit, want none", n)
	}
}

// Item 3: unknown user, wrong password, locked account and a DN no route
// serves get byte-identical bind responses on both routes; accountLocked
// travels only in a requested ppolicy control.
func TestIdentityNoEnumeration(t *testing.T) {
	e := idServe(t, "limits:\n  failed_binds_per_dn: 0\n")
	// Lock carol (PingOne: 5 failures) and dave (PingDirectory: 3).
	for i := 0; i < 6; i++ {
		e.bind(t, idCarolP1DN, idWrongPW)
		e.bind(t, idDaveDN, idWrongPW)
	}
	want := e.rawBind(t, demoAliceDN, idWrongPW, false)
	for _, tc := range []struct{ name, dn, pw string }{
		{"pingone wrong password", demoAliceDN, idWrongPW},
		{"pingone unknown user", "uid=nobody,ou=people,dc=example,dc=com", idWrongPW},
		{"pingone locked, right password", idCarolP1DN, idCarolPW},
		{"pingone not the canonical DN", "uid=alice,ou=x,ou=people,dc=example,dc=com", demoAlicePW},
		{"pingdirectory wrong password", demoBobDN, idWrongPW},
		{"pingdirectory unknown user", "uid=nobody,ou=staff,dc=example,dc=com", idWrongPW},
		{"pingdirectory locked, right password", idDaveDN, idDavePW},
		{"no route", "uid=x,dc=other,dc=org", idWrongPW},
	} {
		if got := e.rawBind(t, tc.dn, tc.pw, false); !bytes.Equal(got, want) {
			t.Errorf("%s: response %x, want %x (the wrong-password answer)", tc.name, got, want)
		}
	}
	// With the ppolicy control, the locked PingOne account says so in the
	// control, and only there.
	wrongCtl := e.rawBind(t, demoAliceDN, idWrongPW, true)
	locked := e.rawBind(t, idCarolP1DN, idCarolPW, true)
	if bytes.Equal(locked, wrongCtl) {
		t.Errorf("locked with ppolicy requested: no accountLocked in the control (%x)", locked)
	}
	p := ber.DecodePacket(locked)
	if len(p.Children) < 3 || !bytes.Equal(ber.DecodePacket(want).Children[1].Bytes(), p.Children[1].Bytes()) {
		t.Errorf("locked with ppolicy: the BindResponse itself differs from a wrong password's")
	}
}
