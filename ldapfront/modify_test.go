package ldapfront

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

func change(op uint, attr string, vals ...string) ldap.Change {
	return ldap.Change{Operation: op, Modification: ldap.PartialAttribute{Type: attr, Vals: vals}}
}

func ldapDiag(err error) string {
	var le *ldap.Error
	if errors.As(err, &le) && le.Err != nil {
		return le.Err.Error()
	}
	return ""
}

// modifyOp builds a ModifyRequest on asn1-ber, for the raw client.
func modifyOp(dn string, changes ...ldap.Change) *ber.Packet {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 6, nil, "modify")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, dn, ""))
	cs := ber.NewSequence("changes")
	for _, c := range changes {
		ch := ber.NewSequence("change")
		ch.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, int64(c.Operation), ""))
		pa := ber.NewSequence("modification")
		pa.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, c.Modification.Type, ""))
		set := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSet, nil, "vals")
		for _, v := range c.Modification.Vals {
			set.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, v, ""))
		}
		pa.AppendChild(set)
		ch.AppendChild(pa)
		cs.AppendChild(ch)
	}
	op.AppendChild(cs)
	return op
}

func TestModifyUserPassword(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	const (
		add, del, repl, incr = ldap.AddAttribute, ldap.DeleteAttribute, ldap.ReplaceAttribute, ldap.IncrementAttribute
		otherDN              = "uid=other,ou=people,dc=example,dc=com"
	)
	pw := func(op uint, vals ...string) ldap.Change { return change(op, "userPassword", vals...) }

	cases := []struct {
		name    string
		as, pw  string // bound identity; "" = anonymous
		dn      string
		changes []ldap.Change
		code    bridge.ResultCode
		diag    string      // a substring of the diagnostic
		want    *seenChange // what the backend must see; nil = not called
		audited bool        // reported to Observer.Decided as a password change
	}{
		{name: "admin replace is a reset", as: adminDN, pw: adminPass, dn: userDN, changes: []ldap.Change{pw(repl, newPass)},
			want: &seenChange{target: userDN, kind: bridge.AdminReset, new: newPass, actor: adminPass}, audited: true},
		{name: "user replace is a self change with the session's password", as: userDN, pw: userPass, dn: userDN,
			changes: []ldap.Change{pw(repl, newPass)},
			want:    &seenChange{target: userDN, kind: bridge.SelfChange, new: newPass, actor: userPass}, audited: true},
		{name: "delete old and add new", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(del, userPass), pw(add, newPass)},
			want: &seenChange{target: userDN, kind: bridge.SelfChange, old: userPass, new: newPass, actor: userPass}, audited: true},
		{name: "attribute name in another case", as: userDN, pw: userPass, dn: strings.ToUpper(userDN),
			changes: []ldap.Change{change(repl, "USERPASSWORD", newPass)},
			want:    &seenChange{target: strings.ToUpper(userDN), kind: bridge.SelfChange, new: newPass, actor: userPass}, audited: true},
		{name: "attribute by OID", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{change(del, "2.5.4.35", userPass), change(add, "userpassword", newPass)},
			want: &seenChange{target: userDN, kind: bridge.SelfChange, old: userPass, new: newPass, actor: userPass}, audited: true},
		{name: "policy failure", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(repl, "abc")},
			code: bridge.ConstraintViolation, diag: "too short",
			want: &seenChange{target: userDN, kind: bridge.SelfChange, new: "abc", actor: userPass}, audited: true},
		{name: "user may not reset another", as: userDN, pw: userPass, dn: otherDN, changes: []ldap.Change{pw(repl, newPass)},
			code: bridge.InsufficientAccessRights, diag: "may not reset", audited: true},
		{name: "anonymous", dn: userDN, changes: []ldap.Change{pw(repl, newPass)},
			code: bridge.StrongerAuthRequired, diag: "only authenticated users", audited: true},
		{name: "wrong attribute", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{change(repl, "mail", "x@example.com")},
			code: bridge.UnwillingToPerform, diag: "userPassword attribute only"},
		{name: "no changes", as: userDN, pw: userPass, dn: userDN,
			code: bridge.UnwillingToPerform, diag: "userPassword attribute only"},
		{name: "two attributes", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(repl, newPass), change(repl, "mail", "x@example.com")},
			code: bridge.UnwillingToPerform, diag: "also modifies mail", audited: true},
		{name: "two values", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(repl, newPass, "An0ther-one")},
			code: bridge.UnwillingToPerform, diag: "exactly one value", audited: true},
		{name: "replace with no value", as: adminDN, pw: adminPass, dn: userDN, changes: []ldap.Change{pw(repl)},
			code: bridge.UnwillingToPerform, diag: "not removed", audited: true},
		{name: "add only", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(add, newPass)},
			code: bridge.UnwillingToPerform, diag: diagModifyShape, audited: true},
		{name: "delete only", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(del, userPass)},
			code: bridge.UnwillingToPerform, diag: diagModifyShape, audited: true},
		{name: "delete of every value", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(del)},
			code: bridge.UnwillingToPerform, diag: diagModifyShape, audited: true},
		{name: "add before delete", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(add, newPass), pw(del, userPass)},
			code: bridge.UnwillingToPerform, diag: diagModifyShape, audited: true},
		{name: "delete without a value, then add", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(del), pw(add, newPass)},
			code: bridge.UnwillingToPerform, diag: "exactly one value each", audited: true},
		{name: "three changes", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(del, userPass), pw(add, newPass), pw(add, "x")},
			code: bridge.UnwillingToPerform, diag: diagModifyShape, audited: true},
		{name: "increment", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(incr, "1")},
			code: bridge.UnwillingToPerform, diag: diagModifyShape, audited: true},
		{name: "empty new value", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(repl, "")},
			code: bridge.UnwillingToPerform, diag: "new password value is empty", audited: true},
		{name: "empty old value", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(del, ""), pw(add, newPass)},
			code: bridge.UnwillingToPerform, diag: "old password value is empty", audited: true},
		{name: "attribute options", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{change(repl, "userPassword;binary", newPass)},
			code: bridge.UnwillingToPerform, diag: "options", audited: true},
		{name: "unknown operation", as: userDN, pw: userPass, dn: userDN, changes: []ldap.Change{pw(7, newPass)},
			code: bridge.ProtocolError, diag: "unrecognized modify operation", audited: true},
		{name: "invalid DN", as: userDN, pw: userPass, dn: "uid=jdoe,,", changes: []ldap.Change{pw(repl, newPass)},
			code: bridge.InvalidDNSyntax, diag: "invalid DN", audited: true},
		{name: "root DSE", as: userDN, pw: userPass, dn: "", changes: []ldap.Change{pw(repl, newPass)},
			code: bridge.InvalidDNSyntax, diag: "invalid DN", audited: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := dialLDAP(t, ts.addr)
			if tc.as != "" {
				if err := l.Bind(tc.as, tc.pw); err != nil {
					t.Fatal(err)
				}
			}
			seenBefore, auditBefore := len(sc.seen()), len(ts.ev.passwordChanges())
			err := l.Modify(&ldap.ModifyRequest{DN: tc.dn, Changes: tc.changes})
			if got := bridge.ResultCode(ldapCode(err)); err == nil && tc.code != bridge.Success || err != nil && got != tc.code {
				t.Fatalf("modify: %v, want %v", err, tc.code)
			}
			if !strings.Contains(ldapDiag(err), tc.diag) {
				t.Fatalf("diagnostic %q, want it to contain %q", ldapDiag(err), tc.diag)
			}
			seen := sc.seen()[seenBefore:]
			switch {
			case tc.want == nil && len(seen) != 0:
				t.Fatalf("backend called: %+v", seen)
			case tc.want != nil && (len(seen) != 1 || seen[0].target != tc.want.target || seen[0].kind != tc.want.kind ||
				seen[0].old != tc.want.old || seen[0].new != tc.want.new || seen[0].actor != tc.want.actor):
				t.Fatalf("backend saw %+v, want %+v", seen, *tc.want)
			}
			audit := ts.ev.passwordChanges()[auditBefore:]
			if tc.audited != (len(audit) == 1) || len(audit) > 1 {
				t.Fatalf("audit events %+v, want audited=%v", audit, tc.audited)
			}
			// The audit record names the target as the core resolved it:
			// the DN in its normal form.
			if tc.audited && (audit[0].Target != canonDN(tc.dn) || audit[0].Actor != tc.as) {
				t.Fatalf("audit event %+v, want target %q actor %q", audit[0], tc.dn, tc.as)
			}
		})
	}
	// OpDone follows the response, so it is waited for.
	waitFor(t, "OpDone(modify) for every request", func() bool { return len(ts.ev.opCodes("modify")) == len(cases) })
}

func TestModifyControls(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	r := dialRaw(t, ts.addr)
	r.bind(1, userDN, userPass)
	replace := func(v string) *ber.Packet {
		return modifyOp(userDN, change(ldap.ReplaceAttribute, "userPassword", v))
	}

	// A policy failure, both controls requested, critical: they are
	// understood, so accepted, and answered as for Password Modify.
	r.send(envelope(2, replace("abc"),
		reqControlPacket(pwcontrol.OIDPasswordPolicy, true), reqControlPacket(pwcontrol.OIDValidationDetailsRequest, true)))
	b := r.read()
	rs := parseResponse(t, b)
	if rs.id != 2 || rs.opTag != appModifyResponse || rs.code != bridge.ConstraintViolation || rs.diag != "password is too short" || len(rs.op.Children) != 3 {
		t.Fatalf("got %+v, want a constraintViolation ModifyResponse\n% x", rs, b)
	}
	if v, ok := rs.control(t, pwcontrol.OIDPasswordPolicy); !ok || !bytes.Equal(v, mustHex(t, "3003810106")) {
		t.Fatalf("ppolicy control % x (present %v)", v, ok)
	}
	v, ok := rs.control(t, pwcontrol.OIDValidationDetailsResponse)
	if !ok {
		t.Fatalf("no validation details control in % x", b)
	}
	if got, err := pwcontrol.DecodeValidation(v); err != nil || got.ResponseType != bridge.ValidationPerformed || len(got.Results) != 1 ||
		got.Results[0].Requirement.Description != "at least 6 characters" {
		t.Fatalf("validation details %+v, %v", got, err)
	}
	if seen := sc.seen(); len(seen) != 1 || !seen[0].ctl.PasswordPolicy || !seen[0].ctl.ValidationDetails {
		t.Fatalf("the backend did not see the request controls: %+v", seen)
	}

	// Success with the critical ppolicy control: 30 00.
	r.send(envelope(3, replace(newPass), reqControlPacket(pwcontrol.OIDPasswordPolicy, true)))
	rs = parseResponse(t, r.read())
	if v, ok := rs.control(t, pwcontrol.OIDPasswordPolicy); rs.code != bridge.Success || !ok || !bytes.Equal(v, []byte{0x30, 0}) || len(rs.controls) != 1 {
		t.Fatalf("got %+v, ppolicy % x", rs, v)
	}
	// Without request controls, no response controls.
	r.send(envelope(4, replace("Th1rd-Passw0rd")))
	if rs := parseResponse(t, r.read()); rs.code != bridge.Success || len(rs.controls) != 0 {
		t.Fatalf("got %+v", rs)
	}
	// A critical control the bridge does not know is still refused.
	r.send(envelope(5, replace("F0urth-Passw0rd"), reqControlPacket("1.2.3.9", true)))
	if rs := parseResponse(t, r.read()); rs.code != bridge.UnavailableCriticalExtension || len(sc.seen()) != 3 {
		t.Fatalf("got %+v with %d backend calls", rs, len(sc.seen()))
	}
}

func TestModifyRestricted(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	r := dialRaw(t, ts.addr)
	r.bind(1, resetDN, userPass)
	ppolicy := reqControlPacket(pwcontrol.OIDPasswordPolicy, false)
	restricted := func(id int64, what string, op *ber.Packet) {
		t.Helper()
		r.send(envelope(id, op, ppolicy))
		rs := parseResponse(t, r.read())
		if v, _ := rs.control(t, pwcontrol.OIDPasswordPolicy); rs.opTag != appModifyResponse || rs.code != bridge.InsufficientAccessRights ||
			!strings.Contains(rs.diag, "restricted") || !bytes.Equal(v, mustHex(t, "3003810102")) {
			t.Fatalf("%s while must-change: %+v, ppolicy % x", what, rs, v)
		}
	}
	restricted(2, "another's userPassword", modifyOp(userDN, change(ldap.ReplaceAttribute, "userPassword", newPass)))
	restricted(3, "another attribute of its own", modifyOp(resetDN, change(ldap.ReplaceAttribute, "mail", "x@example.com")))
	restricted(4, "its userPassword and another attribute", modifyOp(resetDN,
		change(ldap.ReplaceAttribute, "userPassword", newPass), change(ldap.ReplaceAttribute, "mail", "x@example.com")))
	if n := len(sc.seen()); n != 0 {
		t.Fatalf("refused modifies reached the backend %d times", n)
	}
	if got := ts.ev.passwordChanges(); len(got) != 2 || got[0].Target != userDN || got[1].Target != resetDN {
		t.Fatalf("audit events %+v, want the two that touch userPassword", got)
	}

	// Its own userPassword: allowed, and the restriction ends.
	r.send(envelope(5, modifyOp(resetDN, change(ldap.ReplaceAttribute, "userPassword", newPass))))
	if rs := parseResponse(t, r.read()); rs.code != bridge.Success {
		t.Fatalf("own userPassword while must-change: %+v", rs)
	}
	if seen := sc.seen(); len(seen) != 1 || seen[0].kind != bridge.SelfChange || seen[0].new != newPass || seen[0].actor != userPass {
		t.Fatalf("backend saw %+v", seen)
	}
	r.send(envelope(6, modifyOp(resetDN, change(ldap.ReplaceAttribute, "mail", "x@example.com"))))
	if rs := parseResponse(t, r.read()); rs.code != bridge.UnwillingToPerform || !strings.Contains(rs.diag, "userPassword attribute only") {
		t.Fatalf("another attribute after the change: %+v", rs)
	}
}

func TestModifyCleartext(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t", Cleartext: CleartextRefuse})
	l := dialLDAP(t, ts.addr)
	err := l.Modify(&ldap.ModifyRequest{DN: userDN, Changes: []ldap.Change{change(ldap.ReplaceAttribute, "userPassword", newPass)}})
	if ldapCode(err) != uint16(bridge.ConfidentialityRequired) || !strings.Contains(ldapDiag(err), "TLS") {
		t.Fatalf("userPassword over cleartext: %v", err)
	}
	err = l.Modify(&ldap.ModifyRequest{DN: userDN, Changes: []ldap.Change{change(ldap.DeleteAttribute, "userPassword", userPass),
		change(ldap.AddAttribute, "userPassword", newPass)}})
	if ldapCode(err) != uint16(bridge.ConfidentialityRequired) {
		t.Fatalf("delete and add over cleartext: %v", err)
	}
	if len(sc.seen()) != 0 || len(ts.ev.passwordChanges()) != 2 {
		t.Fatalf("backend calls %d, audit events %d; want 0 and 2", len(sc.seen()), len(ts.ev.passwordChanges()))
	}
	// Not a password: refused for what it is.
	err = l.Modify(&ldap.ModifyRequest{DN: userDN, Changes: []ldap.Change{change(ldap.ReplaceAttribute, "mail", "x@example.com")}})
	if ldapCode(err) != uint16(bridge.UnwillingToPerform) {
		t.Fatalf("mail over cleartext: %v", err)
	}
}

// canonDN is dn as the core names it in a Decision: parsed and written
// back, or as given when it does not parse.
func canonDN(dn string) string {
	if d, err := ldap.ParseDN(dn); err == nil && len(d.RDNs) > 0 {
		return d.String()
	}
	return dn
}
