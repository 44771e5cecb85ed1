package main

import (
	"errors"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// The Password Check page documents PASSWORD_LOCKED_OUT as a 400 of the
// check; the bridge answers it as it answers a wrong password (code and
// diagnostic), and says "locked" only in the ppolicy response control, only
// to a client that sent the ppolicy request control. Through the real
// binary, the demo's PingOne route and go-ldap.
func TestPingOneLockedAnswersAsWrongPassword(t *testing.T) {
	d := startDemo(t)
	bindErr := func(pw string, withPolicy bool) (*ldap.Error, *ldap.ControlBeheraPasswordPolicy) {
		t.Helper()
		c := dial(t, d)
		req := ldap.NewSimpleBindRequest(demoAliceDN, pw, nil)
		if withPolicy {
			req.Controls = append(req.Controls, ldap.NewControlBeheraPasswordPolicy())
		}
		res, err := c.SimpleBind(req)
		var le *ldap.Error
		if !errors.As(err, &le) {
			t.Fatalf("bind: %v, want an LDAP error", err)
		}
		var pp *ldap.ControlBeheraPasswordPolicy
		var ctls []ldap.Control
		if res != nil {
			ctls = res.Controls
		}
		if le.Packet != nil && len(le.Packet.Children) > 2 {
			if parsed, err := ldap.DecodeControl(le.Packet.Children[2].Children[0]); err == nil {
				ctls = append(ctls, parsed)
			}
		}
		for _, ctl := range ctls {
			if p, ok := ctl.(*ldap.ControlBeheraPasswordPolicy); ok {
				pp = p
			}
		}
		return le, pp
	}

	wrong, _ := bindErr("Wrong-Passw0rd!", false)
	if wrong.ResultCode != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("wrong password: %v", wrong)
	}
	for i := 0; i < 4; i++ { // five wrong passwords in all lock the demo's accounts
		bindErr("Wrong-Passw0rd!", false)
	}

	locked, pp := bindErr(demoAlicePW, false)
	if locked.ResultCode != wrong.ResultCode || locked.Err.Error() != wrong.Err.Error() {
		t.Errorf("locked account: %d %q; a wrong password: %d %q", locked.ResultCode, locked.Err, wrong.ResultCode, wrong.Err)
	}
	if pp != nil {
		t.Errorf("a ppolicy control (%v) to a client that did not ask for one", pp)
	}

	locked, pp = bindErr(demoAlicePW, true)
	if locked.ResultCode != wrong.ResultCode || locked.Err.Error() != wrong.Err.Error() {
		t.Errorf("locked account, ppolicy requested: %d %q; a wrong password: %d %q", locked.ResultCode, locked.Err, wrong.ResultCode, wrong.Err)
	}
	if pp == nil || pp.Error != 1 { // accountLocked
		t.Errorf("ppolicy control %+v, want error accountLocked (1)", pp)
	}
}
