package ldapfront

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

func dialLDAP(t *testing.T, addr string) *ldap.Conn {
	t.Helper()
	l, err := ldap.DialURL("ldap://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func ldapCode(err error) uint16 {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode
	}
	return 0xffff
}

func TestBind(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})

	cases := []struct {
		name     string
		bind     func(l *ldap.Conn) error
		wantCode uint16
		wantWho  string
	}{
		{"good", func(l *ldap.Conn) error { return l.Bind(userDN, userPass) }, 0, "dn:" + userDN},
		{"bad password", func(l *ldap.Conn) error { return l.Bind(userDN, "wrong") }, 49, ""},
		{"anonymous", func(l *ldap.Conn) error { return l.UnauthenticatedBind("") }, 0, ""},
		{"DN with empty password", func(l *ldap.Conn) error { return l.UnauthenticatedBind(userDN) }, 53, ""},
		{"SASL EXTERNAL", func(l *ldap.Conn) error { return l.ExternalBind() }, 7, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := dialLDAP(t, ts.addr)
			err := tc.bind(l)
			if got := ldapCode(err); tc.wantCode == 0 && err != nil || tc.wantCode != 0 && got != tc.wantCode {
				t.Fatalf("bind: %v (code %d), want code %d", err, got, tc.wantCode)
			}
			who, err := l.WhoAmI(nil)
			if err != nil {
				t.Fatal(err)
			}
			if who.AuthzID != tc.wantWho {
				t.Fatalf("WhoAmI = %q, want %q", who.AuthzID, tc.wantWho)
			}
		})
	}

	t.Run("version 2", func(t *testing.T) {
		before := sc.bindCount()
		r := dialRaw(t, ts.addr)
		r.send(envelope(1, bindOp(2, userDN, userPass)))
		rs := parseResponse(t, r.read())
		if rs.opTag != appBindResponse || rs.code != bridge.ProtocolError {
			t.Fatalf("got %+v, want a protocolError BindResponse", rs)
		}
		if sc.bindCount() != before {
			t.Fatal("a version 2 bind reached the backend")
		}
	})

	t.Run("failed bind drops the previous identity", func(t *testing.T) {
		l := dialLDAP(t, ts.addr)
		if err := l.Bind(userDN, userPass); err != nil {
			t.Fatal(err)
		}
		if err := l.Bind(userDN, "wrong"); ldapCode(err) != 49 {
			t.Fatalf("second bind: %v", err)
		}
		who, err := l.WhoAmI(nil)
		if err != nil || who.AuthzID != "" {
			t.Fatalf("WhoAmI after a failed rebind = %v, %v; want anonymous", who, err)
		}
	})
}

func TestBindPasswordPolicyControl(t *testing.T) {
	core, _ := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	ppolicy := func() *ber.Packet { return reqControlPacket(pwcontrol.OIDPasswordPolicy, false) }

	cases := []struct {
		name      string
		password  string
		ctl       bool
		wantCode  bridge.ResultCode
		wantValue string // hex; "" = no control expected
	}{
		{"requested, nothing to report", userPass, true, bridge.Success, "3000"},
		{"not requested", userPass, false, bridge.Success, ""},
		{"requested, error", "tooshort", true, bridge.InvalidCredentials, "3003810106"},
		{"not requested, error", "tooshort", false, bridge.InvalidCredentials, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, ts.addr)
			var ctls []*ber.Packet
			if tc.ctl {
				ctls = append(ctls, ppolicy())
			}
			r.send(envelope(1, bindOp(3, userDN, tc.password), ctls...))
			b := r.read()
			rs := parseResponse(t, b)
			if rs.code != tc.wantCode {
				t.Fatalf("code %v, want %v", rs.code, tc.wantCode)
			}
			v, ok := rs.control(t, pwcontrol.OIDPasswordPolicy)
			if tc.wantValue == "" {
				if len(rs.controls) != 0 {
					t.Fatalf("unexpected controls in % x", b)
				}
				return
			}
			if !ok || !bytes.Equal(v, mustHex(t, tc.wantValue)) {
				t.Fatalf("ppolicy control value % x, want %s (message % x)", v, tc.wantValue, b)
			}
			// The whole control, byte for byte: OID and value only.
			want := append(append([]byte{0x30, byte(2 + len(pwcontrol.OIDPasswordPolicy) + 2 + len(v)), 0x04, byte(len(pwcontrol.OIDPasswordPolicy))},
				pwcontrol.OIDPasswordPolicy...), append([]byte{0x04, byte(len(v))}, v...)...)
			if !bytes.HasSuffix(b, want) {
				t.Fatalf("control encoding: message % x does not end with % x", b, want)
			}
		})
	}
}

// pmValue builds a PasswdModifyRequestValue from hex.
func TestPasswordModifyForms(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	s := func(tag byte, v string) string { return hexTLV(tag, []byte(v)) }

	cases := []struct {
		name     string
		value    string // hex of the request value
		absent   bool
		wantCode bridge.ResultCode
		wantDiag string
		want     *seenChange // what the backend must see; nil = not called
		wantGen  bool
	}{
		{name: "value absent", absent: true, wantCode: bridge.Success, wantGen: true,
			want: &seenChange{target: userDN, kind: bridge.SelfChange}},
		{name: "empty sequence", value: "3000", wantCode: bridge.Success, wantGen: true,
			want: &seenChange{target: userDN, kind: bridge.SelfChange}},
		{name: "userIdentity only (self)", value: seq(s(0x80, userDN)), wantCode: bridge.Success, wantGen: true,
			want: &seenChange{target: userDN, kind: bridge.SelfChange}},
		{name: "authzId userIdentity", value: seq(s(0x80, "dn:"+userDN)), wantCode: bridge.Success, wantGen: true,
			want: &seenChange{target: userDN, kind: bridge.SelfChange}},
		{name: "empty userIdentity means self", value: seq(s(0x80, "")), wantCode: bridge.Success, wantGen: true,
			want: &seenChange{target: userDN, kind: bridge.SelfChange}},
		{name: "oldPasswd only", value: seq(s(0x81, userPass)), wantCode: bridge.Success, wantGen: true,
			want: &seenChange{target: userDN, kind: bridge.SelfChange, old: userPass}},
		{name: "newPasswd only", value: seq(s(0x82, "N3w-Passw0rd")), wantCode: bridge.Success,
			want: &seenChange{target: userDN, kind: bridge.SelfChange, new: "N3w-Passw0rd"}},
		{name: "old and new", value: seq(s(0x81, userPass) + s(0x82, "N3w-Passw0rd")), wantCode: bridge.Success,
			want: &seenChange{target: userDN, kind: bridge.SelfChange, old: userPass, new: "N3w-Passw0rd"}},
		{name: "all three", value: seq(s(0x80, userDN) + s(0x81, userPass) + s(0x82, "N3w-Passw0rd")), wantCode: bridge.Success,
			want: &seenChange{target: userDN, kind: bridge.SelfChange, old: userPass, new: "N3w-Passw0rd"}},
		{name: "policy failure", value: seq(s(0x82, "abc")), wantCode: bridge.ConstraintViolation,
			want: &seenChange{target: userDN, kind: bridge.SelfChange, new: "abc"}},
		{name: "oldPasswd present but empty", value: seq(s(0x81, "") + s(0x82, "N3w-Passw0rd")),
			wantCode: bridge.UnwillingToPerform, wantDiag: "old password value is empty"},
		{name: "newPasswd present but empty", value: seq(s(0x81, userPass) + s(0x82, "")),
			wantCode: bridge.UnwillingToPerform, wantDiag: "new password value is empty"},
		{name: "not a sequence", value: "0400", wantCode: bridge.ProtocolError},
		{name: "truncated", value: "30038001", wantCode: bridge.ProtocolError},
		{name: "unknown element", value: "30028300", wantCode: bridge.ProtocolError},
		{name: "out of order", value: seq(s(0x82, "N3w-Passw0rd") + s(0x81, userPass)), wantCode: bridge.ProtocolError},
		{name: "repeated element", value: seq(s(0x82, "N3w-Passw0rd") + s(0x82, "N3w-Passw0rd")), wantCode: bridge.ProtocolError},
		{name: "trailing bytes", value: "300000", wantCode: bridge.ProtocolError},
		{name: "empty value", value: "", wantCode: bridge.ProtocolError},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, ts.addr)
			r.bind(1, userDN, userPass)
			before := len(sc.seen())
			id := int64(10 + i)
			r.send(envelope(id, extOp(oidPasswordModify, mustHex(t, tc.value), !tc.absent)))
			b := r.read()
			rs := parseResponse(t, b)
			if rs.id != id || rs.opTag != appExtendedResp || rs.code != tc.wantCode {
				t.Fatalf("got %+v, want code %v", rs, tc.wantCode)
			}
			if tc.wantDiag != "" && rs.diag != tc.wantDiag {
				t.Fatalf("diagnostic %q, want %q", rs.diag, tc.wantDiag)
			}
			if rs.hasName {
				t.Fatalf("Password Modify response carries responseName %q: % x", rs.name, b)
			}
			if len(rs.controls) != 0 {
				t.Fatalf("controls sent without being requested: % x", b)
			}
			if tc.wantGen {
				want := mustHex(t, seq(s(0x80, genPass)))
				if !rs.hasValue || !bytes.Equal(rs.value, want) {
					t.Fatalf("responseValue % x, want % x", rs.value, want)
				}
			} else if rs.hasValue {
				t.Fatalf("responseValue % x without a generated password", rs.value)
			}
			seen := sc.seen()[before:]
			switch {
			case tc.want == nil && len(seen) != 0:
				t.Fatalf("backend called: %+v", seen)
			case tc.want != nil && (len(seen) != 1 || seen[0].target != tc.want.target || seen[0].kind != tc.want.kind ||
				seen[0].old != tc.want.old || seen[0].new != tc.want.new):
				t.Fatalf("backend saw %+v, want %+v", seen, *tc.want)
			}
		})
	}
}

func TestPasswordModifyControls(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	r := dialRaw(t, ts.addr)
	r.bind(1, userDN, userPass)

	value := mustHex(t, seq(hexTLV(0x82, []byte("abc"))))
	r.send(envelope(2, extOp(oidPasswordModify, value, true),
		reqControlPacket(pwcontrol.OIDPasswordPolicy, false), reqControlPacket(pwcontrol.OIDValidationDetailsRequest, true)))
	b := r.read()
	rs := parseResponse(t, b)
	if rs.code != bridge.ConstraintViolation || rs.diag != "password is too short" {
		t.Fatalf("got %+v", rs)
	}
	if v, ok := rs.control(t, pwcontrol.OIDPasswordPolicy); !ok || !bytes.Equal(v, mustHex(t, "3003810106")) {
		t.Fatalf("ppolicy control % x (present %v)", v, ok)
	}
	v, ok := rs.control(t, pwcontrol.OIDValidationDetailsResponse)
	if !ok {
		t.Fatalf("no validation details control in % x", b)
	}
	got, err := pwcontrol.DecodeValidation(v)
	if err != nil || got.ResponseType != bridge.ValidationPerformed || len(got.Results) != 1 ||
		got.Results[0].Requirement.Description != "at least 6 characters" {
		t.Fatalf("validation details %+v, %v", got, err)
	}
	if seen := sc.seen(); !seen[len(seen)-1].ctl.PasswordPolicy || !seen[len(seen)-1].ctl.ValidationDetails {
		t.Fatalf("the backend did not see the request controls: %+v", seen[len(seen)-1].ctl)
	}

	// Success with both requested: ppolicy 30 00; no validation details
	// because the outcome has none.
	r.send(envelope(3, extOp(oidPasswordModify, nil, false),
		reqControlPacket(pwcontrol.OIDPasswordPolicy, false), reqControlPacket(pwcontrol.OIDValidationDetailsRequest, false)))
	rs = parseResponse(t, r.read())
	if v, ok := rs.control(t, pwcontrol.OIDPasswordPolicy); rs.code != bridge.Success || !ok || !bytes.Equal(v, []byte{0x30, 0}) {
		t.Fatalf("got %+v, ppolicy % x", rs, v)
	}
	if _, ok := rs.control(t, pwcontrol.OIDValidationDetailsResponse); ok {
		t.Fatal("validation details sent without any")
	}
}

func TestPasswordModifyGoLDAP(t *testing.T) {
	core, _ := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	l := dialLDAP(t, ts.addr)

	if _, err := l.PasswordModify(ldap.NewPasswordModifyRequest("", "", "")); ldapCode(err) != uint16(bridge.StrongerAuthRequired) {
		t.Fatalf("anonymous change: %v", err)
	}
	if err := l.Bind(userDN, userPass); err != nil {
		t.Fatal(err)
	}
	res, err := l.PasswordModify(ldap.NewPasswordModifyRequest("", userPass, ""))
	if err != nil {
		t.Fatal(err)
	}
	if res.GeneratedPassword != genPass {
		t.Fatalf("generated password %q", res.GeneratedPassword)
	}
	if _, err := l.PasswordModify(ldap.NewPasswordModifyRequest(userDN, "", "N3w-Passw0rd")); err != nil {
		t.Fatal(err)
	}
	// Every attempt is reported for audit, including the refused one.
	ts.ev.mu.Lock()
	defer ts.ev.mu.Unlock()
	if len(ts.ev.changes) != 3 || ts.ev.changes[1].Target != userDN || ts.ev.changes[1].Kind != bridge.SelfChange ||
		ts.ev.changes[1].Backend != "script" {
		t.Fatalf("audit events %+v", ts.ev.changes)
	}
}

func TestWhoAmI(t *testing.T) {
	core, _ := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	r := dialRaw(t, ts.addr)

	r.send(envelope(1, extOp(oidWhoAmI, nil, false)))
	rs := parseResponse(t, r.read())
	if rs.code != bridge.Success || rs.hasName || !rs.hasValue || len(rs.value) != 0 {
		t.Fatalf("anonymous WhoAmI: %+v", rs)
	}
	r.bind(2, userDN, userPass)
	r.send(envelope(3, extOp(oidWhoAmI, nil, false)))
	if got, want := r.read(), readHexFile(t, "whoami_response.hex"); !bytes.Equal(got, want) {
		t.Fatalf("WhoAmI response\n got % x\nwant % x", got, want)
	}
	r.send(envelope(4, extOp(oidWhoAmI, []byte("x"), true)))
	if rs := parseResponse(t, r.read()); rs.code != bridge.ProtocolError {
		t.Fatalf("WhoAmI with a value: %+v", rs)
	}
}

func TestGoldenWire(t *testing.T) {
	core, _ := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})

	t.Run("bind with ppolicy error", func(t *testing.T) {
		r := dialRaw(t, ts.addr)
		r.send(envelope(1, bindOp(3, userDN, "tooshort"), reqControlPacket(pwcontrol.OIDPasswordPolicy, false)))
		if got, want := r.read(), readHexFile(t, "bind_ppolicy_error6.hex"); !bytes.Equal(got, want) {
			t.Fatalf("\n got % x\nwant % x", got, want)
		}
	})
	t.Run("password modify with genPasswd", func(t *testing.T) {
		r := dialRaw(t, ts.addr)
		r.bind(1, userDN, userPass)
		r.send(envelope(2, extOp(oidPasswordModify, nil, false)))
		if got, want := r.read(), readHexFile(t, "passwd_modify_genpasswd.hex"); !bytes.Equal(got, want) {
			t.Fatalf("\n got % x\nwant % x", got, want)
		}
	})
	t.Run("notice of disconnection", func(t *testing.T) {
		r := dialRaw(t, ts.addr)
		r.send([]byte{0x30, 0x03, 0x02, 0x01, 0x00}) // messageID 0 and no protocolOp
		if got, want := r.read(), readHexFile(t, "notice_of_disconnection.hex"); !bytes.Equal(got, want) {
			t.Fatalf("\n got % x\nwant % x", got, want)
		}
		r.expectClosed()
	})
	t.Run("encoder", func(t *testing.T) {
		var ctls []respControl
		ctls = append(ctls, policyControl(bridge.PolicyErr(bridge.PasswordTooShort)))
		got := appendMessage(nil, 1, appBindResponse, result{code: bridge.InvalidCredentials, diag: "invalid credentials"}, nil, ctls)
		if want := readHexFile(t, "bind_ppolicy_error6.hex"); !bytes.Equal(got, want) {
			t.Fatalf("\n got % x\nwant % x", got, want)
		}
		got = appendNotice(nil, bridge.ProtocolError, "malformed LDAP message")
		if want := readHexFile(t, "notice_of_disconnection.hex"); !bytes.Equal(got, want) {
			t.Fatalf("\n got % x\nwant % x", got, want)
		}
	})
}

func TestRootDSE(t *testing.T) {
	naming := []string{"dc=example,dc=com", "o=other"}
	core := bridge.New(namingState(t, naming...), nil)
	opts := Options{Version: "1.2.3"}
	serverTLS, _ := testkit.TLSPair(t)
	plain := startServer(t, core, opts, Listener{Name: "plain"})
	starttls := startServer(t, core, opts, Listener{Name: "st", Mode: StartTLS, TLS: serverTLS})

	search := func(t *testing.T, addr, base, filter string, attrs ...string) []*ldap.Entry {
		t.Helper()
		l := dialLDAP(t, addr)
		res, err := l.Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false, filter, attrs, nil))
		if err != nil {
			t.Fatalf("search %q %s %v: %v", base, filter, attrs, err)
		}
		return res.Entries
	}
	names := func(e *ldap.Entry) []string {
		var n []string
		for _, a := range e.Attributes {
			n = append(n, a.Name)
		}
		return n
	}

	t.Run("plus", func(t *testing.T) {
		es := search(t, plain.addr, "", "(objectClass=*)", "+")
		if len(es) != 1 || es[0].DN != "" {
			t.Fatalf("entries %+v", es)
		}
		e := es[0]
		want := []string{"namingContexts", "subschemaSubentry", "supportedControl", "supportedExtension",
			"supportedFeatures", "supportedLDAPVersion", "vendorName", "vendorVersion"}
		if got := names(e); !slices.Equal(got, want) {
			t.Fatalf("attributes %v, want %v", got, want)
		}
		if got := e.GetAttributeValues("supportedExtension"); !slices.Equal(got, []string{oidPasswordModify, oidWhoAmI}) {
			t.Fatalf("supportedExtension %v on a plain listener", got)
		}
		if got := e.GetAttributeValues("supportedControl"); !slices.Equal(got, []string{pwcontrol.OIDPasswordPolicy, pwcontrol.OIDValidationDetailsRequest}) {
			t.Fatalf("supportedControl %v", got)
		}
		if e.GetAttributeValue("supportedLDAPVersion") != "3" || e.GetAttributeValue("vendorName") != "ldapbridge" ||
			e.GetAttributeValue("vendorVersion") != "1.2.3" || e.GetAttributeValue("subschemaSubentry") != "cn=Subschema" ||
			!slices.Equal(e.GetAttributeValues("namingContexts"), naming) {
			t.Fatalf("entry %+v", e)
		}
	})
	t.Run("StartTLS listed where offered", func(t *testing.T) {
		e := search(t, starttls.addr, "", "(objectClass=*)", "supportedExtension")[0]
		if got := e.GetAttributeValues("supportedExtension"); !slices.Contains(got, oidStartTLS) {
			t.Fatalf("supportedExtension %v", got)
		}
	})
	t.Run("star", func(t *testing.T) {
		e := search(t, plain.addr, "", "(objectClass=*)", "*")[0]
		if got := names(e); !slices.Equal(got, []string{"objectClass"}) || e.GetAttributeValue("objectClass") != "top" {
			t.Fatalf("attributes %v", got)
		}
	})
	t.Run("no attributes named", func(t *testing.T) {
		if got := names(search(t, plain.addr, "", "(objectClass=*)")[0]); !slices.Equal(got, []string{"objectClass"}) {
			t.Fatalf("attributes %v", got)
		}
	})
	t.Run("specific, case-insensitive", func(t *testing.T) {
		e := search(t, plain.addr, "", "(objectclass=*)", "SUBSCHEMASUBENTRY", "supportedldapversion")[0]
		if got := names(e); !slices.Equal(got, []string{"subschemaSubentry", "supportedLDAPVersion"}) {
			t.Fatalf("attributes %v", got)
		}
	})
	t.Run("star and plus", func(t *testing.T) {
		if got := names(search(t, plain.addr, "", "(objectClass=*)", "*", "+")[0]); len(got) != 9 {
			t.Fatalf("attributes %v", got)
		}
	})
	t.Run("1.1", func(t *testing.T) {
		if got := names(search(t, plain.addr, "", "(objectClass=*)", "1.1")[0]); len(got) != 0 {
			t.Fatalf("attributes %v", got)
		}
	})
	for _, tc := range []struct {
		filter string
		match  bool
	}{
		{"(objectClass=top)", true},
		{"(objectClass=TOP)", true},
		{"(supportedExtension=1.3.6.1.4.1.4203.1.11.1)", true},
		{"(&(objectClass=*)(!(objectClass=person)))", true},
		{"(|(objectClass=person)(objectClass=top))", true},
		{"(&)", true},
		{"(objectClass=person)", false},
		{"(cn=*)", false},
		{"(objectClass=t*)", false}, // substrings are not evaluated
		{"(!(objectClass=t*))", false},
		{"(|)", false},
	} {
		t.Run("filter "+tc.filter, func(t *testing.T) {
			if es := search(t, plain.addr, "", tc.filter); (len(es) == 1) != tc.match {
				t.Fatalf("%d entries, want match=%v", len(es), tc.match)
			}
		})
	}
	t.Run("subschema", func(t *testing.T) {
		es := search(t, plain.addr, "cn=Subschema", "(objectClass=subschema)", "*", "+")
		if len(es) != 1 || es[0].DN != "cn=Subschema" || !slices.Equal(es[0].GetAttributeValues("objectClass"), []string{"top", "subentry", "subschema"}) ||
			es[0].GetAttributeValue("cn") != "Subschema" {
			t.Fatalf("entries %+v", es)
		}
	})
	t.Run("other searches", func(t *testing.T) {
		l := dialLDAP(t, plain.addr)
		// Searches of the routes go to the core: an anonymous session may
		// not search a route (50; the test core routes every DN).
		for _, tc := range []struct {
			req  *ldap.SearchRequest
			code bridge.ResultCode
		}{
			{ldap.NewSearchRequest("dc=example,dc=com", ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false, "(uid=jdoe)", nil, nil), bridge.InsufficientAccessRights},
			{ldap.NewSearchRequest("", ldap.ScopeSingleLevel, ldap.NeverDerefAliases, 0, 0, false, "(objectClass=*)", nil, nil), bridge.InsufficientAccessRights},
		} {
			_, err := l.Search(tc.req)
			if ldapCode(err) != uint16(tc.code) {
				t.Fatalf("search %q: %v, want %v", tc.req.BaseDN, err, tc.code)
			}
		}
	})
}

func TestOtherOperationsAnswered(t *testing.T) {
	core, _ := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	r := dialRaw(t, ts.addr)

	compare := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 14, nil, "compare")
	compare.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, userDN, ""))
	ava := ber.NewSequence("ava")
	ava.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "uid", ""))
	ava.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "jdoe", ""))
	compare.AppendChild(ava)
	del := ber.NewString(ber.ClassApplication, ber.TypePrimitive, 10, userDN, "del")
	modify := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 6, nil, "modify")
	modify.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, userDN, ""))
	modify.AppendChild(ber.NewSequence("changes"))
	add := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 8, nil, "add")
	add.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, userDN, ""))
	add.AppendChild(ber.NewSequence("attrs"))
	moddn := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 12, nil, "moddn")
	moddn.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, userDN, ""))

	cases := []struct {
		name     string
		req      []byte
		wantTag  byte
		wantCode bridge.ResultCode
		wantDiag string
	}{
		{"compare", envelope(1, compare), appCompareResponse, bridge.UnwillingToPerform, "compare"},
		{"delete", envelope(2, del), appDelResponse, bridge.UnwillingToPerform, "delete"},
		{"modify", envelope(3, modify), appModifyResponse, bridge.UnwillingToPerform, "modify"},
		{"add", envelope(4, add), appAddResponse, bridge.UnwillingToPerform, "add"},
		{"modifyDN", envelope(5, moddn), appModDNResponse, bridge.UnwillingToPerform, "modifyDN"},
		{"unknown extended operation", envelope(6, extOp("1.2.3.4.5", nil, false)), appExtendedResp, bridge.ProtocolError, "1.2.3.4.5"},
		{"critical unknown control", envelope(7, extOp(oidWhoAmI, nil, false), reqControlPacket("1.2.3.9", true)),
			appExtendedResp, bridge.UnavailableCriticalExtension, "1.2.3.9"},
		{"non-critical unknown control", envelope(8, extOp(oidWhoAmI, nil, false), reqControlPacket("1.2.3.9", false)),
			appExtendedResp, bridge.Success, ""},
		{"critical unknown control on bind", envelope(9, bindOp(3, userDN, userPass), reqControlPacket("1.2.3.9", true)),
			appBindResponse, bridge.UnavailableCriticalExtension, "1.2.3.9"},
		{"StartTLS on a plain listener", envelope(10, extOp(oidStartTLS, nil, false)), appExtendedResp, bridge.Unavailable, "not offered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r.send(tc.req)
			rs := parseResponse(t, r.read())
			if rs.opTag != tc.wantTag || rs.code != tc.wantCode || !strings.Contains(rs.diag, tc.wantDiag) || rs.hasName {
				t.Fatalf("got %+v; want tag %#x code %v diag ~%q", rs, tc.wantTag, tc.wantCode, tc.wantDiag)
			}
		})
	}
	// The connection is still good.
	r.send(envelope(20, extOp(oidWhoAmI, nil, false)))
	if rs := parseResponse(t, r.read()); rs.id != 20 || rs.code != bridge.Success {
		t.Fatalf("after the refusals: %+v", rs)
	}
	stillServing(t, ts.addr)
}

func TestMustChange(t *testing.T) {
	core, _ := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	r := dialRaw(t, ts.addr)
	r.send(envelope(1, bindOp(3, resetDN, userPass), reqControlPacket(pwcontrol.OIDPasswordPolicy, false)))
	rs := parseResponse(t, r.read())
	if v, _ := rs.control(t, pwcontrol.OIDPasswordPolicy); rs.code != bridge.Success || !bytes.Equal(v, mustHex(t, "3003810102")) {
		t.Fatalf("bind: %+v, ppolicy % x", rs, v)
	}
	compare := func(id int64) []byte {
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 14, nil, "compare")
		op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, userDN, ""))
		return envelope(id, op, reqControlPacket(pwcontrol.OIDPasswordPolicy, false))
	}
	r.send(compare(2))
	rs = parseResponse(t, r.read())
	if v, _ := rs.control(t, pwcontrol.OIDPasswordPolicy); rs.code != bridge.InsufficientAccessRights || !strings.Contains(rs.diag, "restricted") ||
		!bytes.Equal(v, mustHex(t, "3003810102")) {
		t.Fatalf("compare while must-change: %+v, ppolicy % x", rs, v)
	}
	// The root DSE stays readable: clients look for Password Modify there.
	l := rootDSESearch(3, "supportedExtension")
	r.send(l)
	if rs := parseResponse(t, r.read()); rs.opTag != appSearchEntry {
		t.Fatalf("root DSE while must-change: %+v", rs)
	}
	if rs := parseResponse(t, r.read()); rs.opTag != appSearchDone || rs.code != bridge.Success {
		t.Fatalf("root DSE while must-change: %+v", rs)
	}
	r.send(envelope(4, extOp(oidWhoAmI, nil, false)))
	if rs := parseResponse(t, r.read()); rs.code != bridge.Success || string(rs.value) != "dn:"+resetDN {
		t.Fatalf("WhoAmI while must-change: %+v", rs)
	}
	r.send(envelope(5, extOp(oidPasswordModify, mustHex(t, seq(hexTLV(0x82, []byte("N3w-Passw0rd")))), true)))
	if rs := parseResponse(t, r.read()); rs.code != bridge.Success {
		t.Fatalf("password change: %+v", rs)
	}
	r.send(compare(6))
	if rs := parseResponse(t, r.read()); rs.code != bridge.UnwillingToPerform {
		t.Fatalf("compare after the change: %+v", rs)
	}
}

func rootDSESearch(id int64, attrs ...string) []byte {
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 3, nil, "search")
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, 0, ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, ""))
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, 0, ""))
	op.AppendChild(ber.NewBoolean(ber.ClassUniversal, ber.TypePrimitive, ber.TagBoolean, false, ""))
	op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 7, "objectClass", ""))
	as := ber.NewSequence("attrs")
	for _, a := range attrs {
		as.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, a, ""))
	}
	op.AppendChild(as)
	return envelope(id, op)
}

func TestUnbindCloses(t *testing.T) {
	core, _ := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	r := dialRaw(t, ts.addr)
	r.bind(1, userDN, userPass)
	r.send(envelope(2, ber.Encode(ber.ClassApplication, ber.TypePrimitive, 2, nil, "unbind")))
	r.expectClosed()
}

// hexTLV and seq build BER in hex for the table tests.
func hexTLV(tag byte, v []byte) string {
	return strings.TrimSpace(strings.Join([]string{hexByte(tag), hexLen(len(v)), hexBytes(v)}, ""))
}

func seq(content string) string {
	return hexByte(0x30) + hexLen(len(content)/2) + content
}

func hexByte(b byte) string { return hexBytes([]byte{b}) }

func hexLen(n int) string {
	if n < 0x80 {
		return hexByte(byte(n))
	}
	return hexBytes([]byte{0x81, byte(n)})
}

func hexBytes(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

// namingState is a core state with one route per base, all to a scripted
// backend.
func namingState(t *testing.T, bases ...string) *bridge.State {
	t.Helper()
	var routes []bridge.Route
	for _, b := range bases {
		routes = append(routes, bridge.Route{Base: b, Backend: "script"})
	}
	st, err := bridge.NewState(routes, map[string]bridge.Backend{"script": &script{}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// A new configuration generation shows in the root DSE at once, on
// connections opened before it too: the front end keeps no copy.
func TestRootDSEFollowsReload(t *testing.T) {
	core := bridge.New(namingState(t, "dc=example,dc=com"), nil)
	ts := startServer(t, core, Options{}, Listener{Name: "plain"})
	l := dialLDAP(t, ts.addr)
	contexts := func() []string {
		t.Helper()
		res, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"namingContexts"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("root DSE: %v", err)
		}
		return res.Entries[0].GetAttributeValues("namingContexts")
	}
	if got := contexts(); !slices.Equal(got, []string{"dc=example,dc=com"}) {
		t.Fatalf("before: %v", got)
	}
	<-core.Swap(namingState(t, "dc=example,dc=com", "o=added"))
	if got := contexts(); !slices.Equal(got, []string{"dc=example,dc=com", "o=added"}) {
		t.Fatalf("after adding a route: %v", got)
	}
	<-core.Swap(namingState(t, "o=added"))
	if got := contexts(); !slices.Equal(got, []string{"o=added"}) {
		t.Fatalf("after removing a route: %v", got)
	}
}
