package ldapfront

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/ldapfront/internal/berlex"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

// clientPDUs are requests as real clients send them: go-ldap's own
// encoders and the ldappasswd/ldapwhoami/ldapsearch forms.
func clientPDUs(t testing.TB) [][]byte {
	pm := func(id int64, r *ldap.PasswordModifyRequest) []byte {
		// The same packet go-ldap's PasswordModify writes.
		op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, 23, nil, "")
		op.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, oidPasswordModify, ""))
		v := ber.Encode(ber.ClassContext, ber.TypePrimitive, 1, nil, "")
		s := ber.NewSequence("")
		if r.UserIdentity != "" {
			s.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 0, r.UserIdentity, ""))
		}
		if r.OldPassword != "" {
			s.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 1, r.OldPassword, ""))
		}
		if r.NewPassword != "" {
			s.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, 2, r.NewPassword, ""))
		}
		v.AppendChild(s)
		op.AppendChild(v)
		return envelope(id, op)
	}
	pp := reqControlPacket(pwcontrol.OIDPasswordPolicy, false)
	return [][]byte{
		envelope(1, bindOp(3, userDN, userPass)),
		envelope(1, bindOp(3, userDN, userPass), pp),
		envelope(1, bindOp(3, "", "")),
		envelope(1, bindOp(2, userDN, userPass)),
		pm(2, ldap.NewPasswordModifyRequest("", "", "")),
		pm(2, ldap.NewPasswordModifyRequest(userDN, userPass, "N3w-Passw0rd")),
		pm(2, ldap.NewPasswordModifyRequest("", "", "N3w-Passw0rd")),
		// ldappasswd -S without -A: only newPasswd; with no -s: value absent.
		envelope(2, extOp(oidPasswordModify, mustHex(t, seq(hexTLV(0x82, []byte("N3w-Passw0rd")))), true), pp),
		envelope(2, extOp(oidPasswordModify, nil, false)),
		envelope(2, extOp(oidPasswordModify, []byte{0x30, 0}, true)),
		envelope(3, extOp(oidWhoAmI, nil, false)),
		envelope(4, extOp(oidStartTLS, nil, false)),
		envelope(5, extOp("1.2.3", nil, false), reqControlPacket("1.2.3.4", true)),
		rootDSESearch(6, "+", "subschemaSubentry"),
		envelope(7, abandonOp(6)),
		envelope(8, ber.Encode(ber.ClassApplication, ber.TypePrimitive, 2, nil, "unbind")),
		// ldapmodify's two password changes, and what else a Modify may be.
		envelope(9, modifyOp(userDN, change(ldap.ReplaceAttribute, "userPassword", "N3w-Passw0rd")), pp),
		envelope(9, modifyOp(userDN, change(ldap.DeleteAttribute, "userPassword", userPass), change(ldap.AddAttribute, "userPassword", "N3w-Passw0rd"))),
		envelope(9, modifyOp(userDN, change(ldap.ReplaceAttribute, "mail", "a@b", "c@d"), change(ldap.IncrementAttribute, "2.5.4.35"))),
	}
}

// FuzzReadMessage drives the framing and the decoders of every operation
// over a stream of bytes: nothing may panic or hang, and whatever decodes
// must satisfy the envelope's invariants.
func FuzzReadMessage(f *testing.F) {
	var all []byte
	for _, p := range clientPDUs(f) {
		f.Add(p)
		all = append(all, p...)
	}
	f.Add(all)
	f.Add(mustHex(f, "308406400000"))
	f.Add(mustHex(f, "30800201010000"))
	f.Add([]byte{0x30, 0x81})
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bufio.NewReader(bytes.NewReader(data))
		for range 32 {
			tag, err := r.ReadByte()
			if err != nil {
				return
			}
			b, err := readFrame(r, tag, 4096)
			if err != nil {
				if !errors.Is(err, errMalformed) && !errors.Is(err, errTooLarge) && !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("readFrame error %v is not a framing error", err)
				}
				return
			}
			if len(b) > 4096+10 {
				t.Fatalf("frame of %d bytes over the limit", len(b))
			}
			m, err := decodeMessage(b)
			if err != nil {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("decodeMessage error %v does not wrap errMalformed", err)
				}
				continue
			}
			if m.id < 1 || m.id > maxMessageID {
				t.Fatalf("messageID %d accepted", m.id)
			}
			interpretControls(m.controls)
			exercise(t, m, b)
		}
	})
}

// exercise runs the per-operation decoders the reader would run on m,
// decoded from frame.
func exercise(t *testing.T, m *message, frame []byte) {
	switch m.tag {
	case appBindRequest:
		if r, err := decodeBind(m.op); err == nil {
			r.password.Wipe()
		} else if !errors.Is(err, errMalformed) {
			t.Fatalf("decodeBind: %v", err)
		}
	case appSearchRequest:
		r, err := decodeSearch(m.op)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decodeSearch: %v", err)
			}
			return
		}
		searchTarget(r)
		if _, err := matchFilter(r.filter, rootDSE(&Options{Vendor: "v"}, []string{"dc=example,dc=com"}, true)); err != nil && !errors.Is(err, errMalformed) {
			t.Fatalf("matchFilter: %v", err)
		}
		selectAttributes(subschema(), r.attrs)
	case appExtendedRequest:
		r, err := decodeExtended(m.op)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decodeExtended: %v", err)
			}
			return
		}
		if q := quoteOID(r.oid); q != r.oid && q != "(invalid OID)" {
			t.Fatalf("quoteOID(%q) = %q", r.oid, q)
		}
		checkPasswordModify(t, r.value, r.hasValue)
	case appAbandonRequest:
		if _, err := decodeAbandon(m.op); err != nil && !errors.Is(err, errMalformed) {
			t.Fatalf("decodeAbandon: %v", err)
		}
	case appModifyRequest:
		checkModify(t, m.op, frame)
	}
	clear(frame)
}

// checkPasswordModify decodes a Password Modify value and checks what
// comes back: an opError with a known code and no request bytes in it, or
// fields that were in the value.
func checkPasswordModify(t *testing.T, value []byte, present bool) {
	pm, err := decodePasswordModify(value, present)
	if err != nil {
		var oe *opError
		if !errors.As(err, &oe) || (oe.code != bridge.ProtocolError && oe.code != bridge.UnwillingToPerform) {
			t.Fatalf("decodePasswordModify error %v", err)
		}
		if !pm.OldPassword.IsZero() || !pm.NewPassword.IsZero() || pm.UserIdentity != "" {
			t.Fatalf("a failed decode returned fields")
		}
		return
	}
	defer pm.OldPassword.Wipe()
	defer pm.NewPassword.Wipe()
	if !present && (pm.UserIdentity != "" || !pm.OldPassword.IsZero() || !pm.NewPassword.IsZero()) {
		t.Fatal("fields from an absent value")
	}
	for _, f := range [][]byte{[]byte(pm.UserIdentity), pm.OldPassword.Bytes(), pm.NewPassword.Bytes()} {
		if !bytes.Contains(value, f) {
			t.Fatalf("decoded field % x is not in the value % x", f, value)
		}
	}
}

func FuzzPasswordModifyValue(f *testing.F) {
	s := func(tag byte, v string) string { return hexTLV(tag, []byte(v)) }
	for _, h := range []string{
		"", "3000", "0400", "30038001", "30028300", "300000",
		seq(s(0x80, userDN)),
		seq(s(0x80, "dn:"+userDN) + s(0x81, userPass) + s(0x82, "N3w")),
		seq(s(0x81, "") + s(0x82, "x")),
		seq(s(0x82, "x") + s(0x81, "y")),
		seq(s(0x82, "")),
		"3082000482020000", // non-minimal length
	} {
		f.Add(mustHex(f, h), true)
	}
	f.Add([]byte(nil), false)
	f.Fuzz(func(t *testing.T, value []byte, present bool) {
		checkPasswordModify(t, value, present)
	})
}

// checkModify decodes a ModifyRequest and reads it as a password change,
// and checks what comes back: a malformed error, an opError with a known
// code and no request bytes in its diagnostic, or passwords that were in
// the request and a shape the bridge accepts.
func checkModify(t *testing.T, op berlex.Element, raw []byte) {
	r, err := decodeModify(op)
	if err != nil {
		if !errors.Is(err, errMalformed) {
			t.Fatalf("decodeModify error %v does not wrap errMalformed", err)
		}
		if r.object != "" || r.changes != nil {
			t.Fatal("a failed decode returned a request")
		}
		return
	}
	defer r.wipe()
	if r.passwordOnly() && !r.touchesPassword() {
		t.Fatal("passwordOnly without touchesPassword")
	}
	for _, c := range r.changes {
		if c.password && len(c.values) != c.nvals || !c.password && len(c.values) != 0 {
			t.Fatalf("change %+v keeps %d values of %d", c.attr, len(c.values), c.nvals)
		}
	}
	pm, oe := r.passwordChange()
	if oe != nil {
		if oe.code != bridge.UnwillingToPerform && oe.code != bridge.ProtocolError {
			t.Fatalf("passwordChange code %v", oe.code)
		}
		// The diagnostic is the bridge's own words, or names an
		// attribute (never a value) of the request.
		if rest, ok := strings.CutPrefix(oe.diag, bridge.DiagModifyOnlyPassword+"; this request also modifies "); ok {
			named := false
			for _, c := range r.changes {
				named = named || !c.password && rest == printable(c.attr, 64)
			}
			if !named {
				t.Fatalf("diagnostic %q names no attribute of the request", oe.diag)
			}
		}
		// It depends on the request's shape, not on its values: the same
		// request with other values gets the same answer.
		blank := modifyRequest{object: r.object}
		for _, c := range r.changes {
			b := c
			b.values = nil
			for _, v := range c.values {
				if v.IsZero() {
					b.values = append(b.values, bridge.Secret{})
				} else {
					b.values = append(b.values, bridge.SecretString("v"))
				}
			}
			blank.changes = append(blank.changes, b)
		}
		if _, oe2 := blank.passwordChange(); oe2 == nil || *oe2 != *oe {
			t.Fatalf("the answer %v depends on the values (%v)", oe, oe2)
		}
		if !pm.NewPassword.IsZero() || !pm.OldPassword.IsZero() {
			t.Fatal("a refused change returned passwords")
		}
		return
	}
	if !r.passwordOnly() || pm.UserIdentity != "dn:"+r.object || pm.NewPassword.IsZero() {
		t.Fatalf("accepted %+v as %q", r.changes, pm.UserIdentity)
	}
	for _, v := range [][]byte{pm.OldPassword.Bytes(), pm.NewPassword.Bytes()} {
		if !bytes.Contains(raw, v) {
			t.Fatalf("password % x is not in the request", v)
		}
	}
}

// FuzzModifyRequest drives the ModifyRequest decoder and its reading as a
// password change with arbitrary protocolOp bytes.
func FuzzModifyRequest(f *testing.F) {
	for _, m := range clientPDUs(f) {
		msg, err := decodeMessage(m)
		if err != nil {
			f.Fatal(err)
		}
		if msg.tag == appModifyRequest {
			f.Add(msg.op.TLV)
		}
	}
	pw := func(op uint, vals ...string) ldap.Change { return change(op, "userPassword", vals...) }
	for _, op := range []*ber.Packet{
		modifyOp(""),
		modifyOp(userDN, pw(ldap.ReplaceAttribute)),
		modifyOp(userDN, pw(ldap.ReplaceAttribute, "a", "b")),
		modifyOp(userDN, pw(ldap.AddAttribute, "x"), pw(ldap.DeleteAttribute, "y")),
		modifyOp(userDN, pw(7, "x")),
		modifyOp(userDN, pw(ldap.DeleteAttribute, ""), pw(ldap.AddAttribute, "")),
		modifyOp(userDN, change(ldap.ReplaceAttribute, "userPassword;binary", "x")),
	} {
		f.Add(op.Bytes())
	}
	f.Add(mustHex(f, "6605 0400 3001 00"))                  // a change that is not a SEQUENCE
	f.Add(mustHex(f, "660c 0400 3008 3006 0a00 3002 0400")) // a PartialAttribute without its SET
	f.Fuzz(func(t *testing.T, data []byte) {
		// Unchecked: the decoder must hold on its own.
		op, _, err := berlex.Next(data)
		if err != nil {
			return
		}
		checkModify(t, op, data)
	})
}

// requestOps are the protocolOps of clientPDUs with tag, for the seeds of
// the per-request decoders.
func requestOps(t testing.TB, tag byte) [][]byte {
	var out [][]byte
	for _, p := range clientPDUs(t) {
		m, err := decodeMessage(p)
		if err != nil {
			t.Fatal(err)
		}
		if m.tag == tag {
			out = append(out, m.op.TLV)
		}
	}
	return out
}

// within reports whether sub is a subslice of b (an alias, not a copy).
func within(sub, b []byte) bool {
	if len(sub) == 0 {
		return true
	}
	return len(b) > 0 && uintptrOf(sub) >= uintptrOf(b) && uintptrOf(sub)+uintptr(len(sub)) <= uintptrOf(b)+uintptr(len(b))
}

// FuzzDecodeMessage: the envelope decoder never panics, refuses with
// errMalformed, keeps to the structure limits, and what it accepts the
// asn1-ber decoder (the old path, kept in the tests) reads the same way.
func FuzzDecodeMessage(f *testing.F) {
	for _, p := range clientPDUs(f) {
		f.Add(p)
	}
	f.Add(manyControls(maxControls))
	f.Add(manyControls(maxControls + 1))
	f.Add(deepControls(maxDepth - 2))
	f.Add(deepControls(maxDepth - 1))
	f.Add(rawMessage(1, rawWhoAmI(), bytes.Repeat([]byte{0x30, 0x00}, 100)))
	f.Add(rawMessage(1, rawWhoAmI(), control(pwcontrol.OIDPasswordPolicy, true, []byte{1, 2})))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := decodeMessage(data)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decodeMessage error %v does not wrap errMalformed", err)
			}
			return
		}
		if m.id < 1 || m.id > maxMessageID || len(m.controls) > maxControls || !within(m.op.TLV, data) {
			t.Fatalf("accepted id %d, %d controls, op outside the frame", m.id, len(m.controls))
		}
		p, err := decodeBER(data)
		if err != nil {
			t.Fatalf("accepted what asn1-ber refuses: %v", err)
		}
		id, _ := parseInt(p.Children[0].Data.Bytes())
		op := p.Children[1]
		if id != m.id || byte(op.ClassType)|byte(op.TagType)|byte(op.Tag) != m.tag {
			t.Fatalf("id %d tag %02x; asn1-ber reads %d %02x", m.id, m.tag, id, byte(op.ClassType)|byte(op.TagType)|byte(op.Tag))
		}
		if len(p.Children) == 3 && len(p.Children[2].Children) != len(m.controls) {
			t.Fatalf("%d controls; asn1-ber reads %d", len(m.controls), len(p.Children[2].Children))
		}
		for i, c := range m.controls {
			if c.oid != p.Children[2].Children[i].Children[0].Data.String() {
				t.Fatalf("control %d is %q", i, c.oid)
			}
		}
		exercise(t, m, data)
	})
}

// FuzzDecodeBind: a BindRequest decodes or is malformed; a name and a
// password come from the request.
func FuzzDecodeBind(f *testing.F) {
	for _, op := range requestOps(f, appBindRequest) {
		f.Add(op)
	}
	f.Add(saslBindOp(userDN, "EXTERNAL").Bytes())
	f.Add(rawBind("", nil))
	f.Add(mustHex(f, "6007 020103 0400 a100"))        // authentication [1]
	f.Add(mustHex(f, "600a 020103 0400 a303 040100")) // SASL, a one-byte mechanism
	f.Fuzz(func(t *testing.T, data []byte) {
		op, _, err := berlex.Next(data)
		if err != nil {
			return
		}
		r, err := decodeBind(op)
		defer r.password.Wipe()
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decodeBind error %v does not wrap errMalformed", err)
			}
			if r.name != "" || !r.password.IsZero() {
				t.Fatal("a failed decode returned a name or a password")
			}
			return
		}
		if !bytes.Contains(data, []byte(r.name)) || !bytes.Contains(data, r.password.Bytes()) {
			t.Fatal("name or password not from the request")
		}
		if r.simple != (r.mech == "") || !r.simple && !r.password.IsZero() {
			t.Fatalf("simple %v, mech %q, password of %d bytes", r.simple, r.mech, r.password.Len())
		}
		if r.password.Len() > 0 && within(r.password.Bytes(), data) {
			t.Fatal("the password aliases the frame, which is wiped")
		}
	})
}

// FuzzDecodeSearch: a SearchRequest decodes or is malformed, and its
// filter evaluates or is malformed.
func FuzzDecodeSearch(f *testing.F) {
	for _, op := range requestOps(f, appSearchRequest) {
		f.Add(op)
	}
	f.Add(rawSearch("+", "*", "1.1"))
	var eq []byte
	for range 70 {
		eq = tlv(0xa2, eq) // not(not(…))
	}
	f.Add(tlv(appSearchRequest, str(tagOctetString, ""), []byte{tagEnumerated, 1, 0}, []byte{tagEnumerated, 1, 0},
		[]byte{tagInteger, 1, 0}, []byte{tagInteger, 1, 0}, []byte{tagBoolean, 1, 0}, eq, tlv(tagSequence)))
	f.Fuzz(func(t *testing.T, data []byte) {
		op, _, err := berlex.Next(data)
		if err != nil {
			return
		}
		r, err := decodeSearch(op)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decodeSearch error %v does not wrap errMalformed", err)
			}
			return
		}
		if !within(r.filter.TLV, data) {
			t.Fatal("filter outside the request")
		}
		for _, a := range r.attrs {
			if !bytes.Contains(data, []byte(a)) {
				t.Fatalf("attribute %q not from the request", a)
			}
		}
		searchTarget(r)
		if _, err := matchFilter(r.filter, rootDSE(&Options{Vendor: "v"}, []string{"dc=example,dc=com"}, true)); err != nil && !errors.Is(err, errMalformed) {
			t.Fatalf("matchFilter: %v", err)
		}
		selectAttributes(subschema(), r.attrs)
	})
}

// FuzzDecodeExtended: an ExtendedRequest and an AbandonRequest decode or
// are malformed; an extended request's value is read as Password Modify.
func FuzzDecodeExtended(f *testing.F) {
	for _, op := range requestOps(f, appExtendedRequest) {
		f.Add(op)
	}
	for _, op := range requestOps(f, appAbandonRequest) {
		f.Add(op)
	}
	f.Add(rawPasswordModify([]byte("x")))
	f.Add(mustHex(f, "7705 8000 8101 00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		op, _, err := berlex.Next(data)
		if err != nil {
			return
		}
		if _, err := decodeAbandon(op); err != nil && !errors.Is(err, errMalformed) {
			t.Fatalf("decodeAbandon: %v", err)
		}
		r, err := decodeExtended(op)
		if err != nil {
			if !errors.Is(err, errMalformed) {
				t.Fatalf("decodeExtended error %v does not wrap errMalformed", err)
			}
			return
		}
		if !bytes.Contains(data, []byte(r.oid)) || r.hasValue != (r.value != nil) || !within(r.value, data) {
			t.Fatalf("extended request %q, value present %v", r.oid, r.hasValue)
		}
		checkPasswordModify(t, r.value, r.hasValue)
	})
}
