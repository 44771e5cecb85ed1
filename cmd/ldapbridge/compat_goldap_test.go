package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// The go-ldap side of the compatibility suite. go-ldap prints nothing, so
// the driver renders what a program gets back, in a fixed form:
//
//	bind: RESULT ppolicy=P
//	whoami: AUTHZID
//	passwd: RESULT ppolicy=P genpasswd=<generated>|-
//	search: RESULT ppolicy=P entries=N
//	rootdse: ATTRIBUTE=VALUE,VALUE ...
//
// RESULT is "ok" or go-ldap's error text ("LDAP Result Code 49 ..."), P
// as in testdata/compat_ldap3.py.

const compatOIDPasswdModify = "1.3.6.1.4.1.4203.1.11.1"

func compatGoDial(t *testing.T, d *compatEnv, transport string) *ldap.Conn {
	t.Helper()
	// The demo's certificate is generated at start and self-signed.
	insecure := &tls.Config{InsecureSkipVerify: true}
	dialer := ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second})
	var c *ldap.Conn
	var err error
	if transport == "ldaps" {
		c, err = ldap.DialURL(d.urls(), dialer, ldap.DialWithTLSConfig(insecure))
	} else {
		c, err = ldap.DialURL(d.url(), dialer)
	}
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(30 * time.Second)
	if transport == "starttls" {
		if err := c.StartTLS(insecure); err != nil {
			c.Close()
			t.Fatalf("StartTLS: %v", err)
		}
	}
	return c
}

// compatGoPP renders the ppolicy response control among ctrls.
func compatGoPP(ctrls []ldap.Control) string {
	c := ldap.FindControl(ctrls, ldap.ControlTypeBeheraPasswordPolicy)
	if c == nil {
		return "absent"
	}
	pp, ok := c.(*ldap.ControlBeheraPasswordPolicy)
	if !ok {
		return "undecoded"
	}
	var parts []string
	if pp.Expire >= 0 {
		parts = append(parts, fmt.Sprintf("warning=timeBeforeExpiration:%d", pp.Expire))
	}
	if pp.Grace >= 0 {
		parts = append(parts, fmt.Sprintf("warning=graceAuthNsRemaining:%d", pp.Grace))
	}
	if pp.Error >= 0 {
		parts = append(parts, fmt.Sprintf("error=%d", pp.Error))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, " ")
}

// compatErrorControls are the response controls of a failed operation, which
// go-ldap leaves in the error's packet.
func compatErrorControls(err error) []ldap.Control {
	var le *ldap.Error
	if !errors.As(err, &le) || le.Packet == nil || len(le.Packet.Children) < 3 {
		return nil
	}
	var out []ldap.Control
	for _, child := range le.Packet.Children[2].Children {
		if c, err := ldap.DecodeControl(child); err == nil {
			out = append(out, c)
		}
	}
	return out
}

func compatResultText(err error) string {
	if err == nil {
		return "ok"
	}
	return err.Error()
}

func compatGoRun(t *testing.T, d *compatEnv, op compatOp) (string, string) {
	t.Helper()
	c := compatGoDial(t, d, op.transport)
	defer c.Close()
	var ctrls []ldap.Control
	if op.ppolicy {
		ctrls = []ldap.Control{ldap.NewControlBeheraPasswordPolicy()}
	}

	if op.kind == compatRootDSE {
		res, err := c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 30, false,
			"(objectClass=*)", []string{"supportedExtension", "supportedLDAPVersion", "subschemaSubentry", "vendorName"}, nil))
		if err != nil || len(res.Entries) != 1 {
			return fmt.Sprintf("rootdse: %s entries=%d\n", compatResultText(err), len(res.Entries)), ""
		}
		var b strings.Builder
		b.WriteString("rootdse:")
		for _, a := range res.Entries[0].Attributes {
			fmt.Fprintf(&b, " %s=%s", a.Name, strings.Join(a.Values, ","))
		}
		return b.String() + "\n", ""
	}

	// go-ldap refuses to send an empty password unless told to: a
	// program that means it says so.
	bres, err := c.SimpleBind(&ldap.SimpleBindRequest{Username: op.dn, Password: op.pw, AllowEmptyPassword: op.pw == "", Controls: ctrls})
	var bctrls []ldap.Control
	if bres != nil {
		bctrls = bres.Controls
	}
	out := fmt.Sprintf("bind: %s ppolicy=%s\n", compatResultText(err), compatGoPP(bctrls))
	if err != nil {
		return out, ""
	}
	gen := ""
	switch op.kind {
	case compatWhoAmI:
		who, err := c.WhoAmI(nil)
		if err != nil {
			out += "whoami: " + compatResultText(err) + "\n"
		} else {
			out += "whoami: " + who.AuthzID + "\n"
		}
	case compatPasswd:
		var pctrls []ldap.Control
		if op.ppolicy {
			// go-ldap's PasswordModify takes no controls: a program that
			// wants the ppolicy control sends the extended operation.
			var resp *ldap.ExtendedResponse
			resp, err = c.Extended(compatPasswdRequest(op, ctrls))
			if err == nil {
				pctrls = resp.Controls
				if resp.Value != nil {
					gen = compatGenPasswd(resp.Value.Data.Bytes())
				}
			} else {
				pctrls = compatErrorControls(err)
			}
		} else {
			var res *ldap.PasswordModifyResult
			res, err = c.PasswordModify(ldap.NewPasswordModifyRequest(op.user, op.old, op.new))
			if err == nil {
				gen = res.GeneratedPassword
			}
			pctrls = compatErrorControls(err)
		}
		g := "-"
		if gen != "" {
			g = "<generated>"
		}
		out += fmt.Sprintf("passwd: %s ppolicy=%s genpasswd=%s\n", compatResultText(err), compatGoPP(pctrls), g)
	case compatSearch:
		res, err := c.Search(ldap.NewSearchRequest(op.base, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 30, false,
			"(objectClass=*)", []string{"*"}, ctrls))
		n, sctrls := 0, compatErrorControls(err)
		if res != nil {
			n = len(res.Entries)
			if err == nil {
				sctrls = res.Controls
			}
		}
		out += fmt.Sprintf("search: %s ppolicy=%s entries=%d\n", compatResultText(err), compatGoPP(sctrls), n)
	}
	return out, gen
}

// compatPasswdRequest is RFC 3062's request as an extended operation.
func compatPasswdRequest(op compatOp, ctrls []ldap.Control) *ldap.ExtendedRequest {
	v := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "PasswdModifyRequestValue")
	for i, f := range []string{op.user, op.old, op.new} {
		if f != "" {
			v.AppendChild(ber.NewString(ber.ClassContext, ber.TypePrimitive, ber.Tag(i), f, ""))
		}
	}
	r := ldap.NewExtendedRequest(compatOIDPasswdModify, v)
	r.Controls = ctrls
	return r
}

// compatGenPasswd reads genPasswd from a Password Modify response value,
// SEQUENCE { genPasswd [0] OCTET STRING OPTIONAL }; "" when there is none
// or the value is not that.
func compatGenPasswd(value []byte) string {
	p, err := ber.DecodePacketErr(value)
	if err != nil || p.ClassType != ber.ClassUniversal || p.Tag != ber.TagSequence || len(p.Children) != 1 {
		return ""
	}
	g := p.Children[0]
	if g.ClassType != ber.ClassContext || g.TagType != ber.TypePrimitive || g.Tag != 0 || g.Data == nil {
		return ""
	}
	return g.Data.String()
}

func compatGoWant(_ *compatEnv, op compatOp, w compatWant) string {
	res := func(code int, diag string) string {
		if code == 0 {
			return "ok"
		}
		return (&ldap.Error{ResultCode: uint16(code), Err: errors.New(diag)}).Error()
	}
	if op.kind == compatRootDSE {
		return "rootdse: subschemaSubentry=cn=Subschema" +
			" supportedExtension=1.3.6.1.4.1.4203.1.11.1,1.3.6.1.4.1.4203.1.11.3,1.3.6.1.4.1.1466.20037" +
			" supportedLDAPVersion=3 vendorName=ldapbridge\n"
	}
	if op.kind == compatBind {
		return fmt.Sprintf("bind: %s ppolicy=%s\n", res(w.code, w.diag), w.pp)
	}
	bindPP := w.bindPP
	if op.kind == compatWhoAmI {
		bindPP = w.pp
	}
	s := fmt.Sprintf("bind: ok ppolicy=%s\n", bindPP)
	switch op.kind {
	case compatWhoAmI:
		s += "whoami: dn:" + op.dn + "\n"
	case compatPasswd:
		gen := "-"
		if w.gen {
			gen = "<generated>"
		}
		s += fmt.Sprintf("passwd: %s ppolicy=%s genpasswd=%s\n", res(w.code, w.diag), w.pp, gen)
	case compatSearch:
		s += fmt.Sprintf("search: %s ppolicy=%s entries=%d\n", res(w.code, w.diag), w.pp, w.entries)
	}
	return s
}

func TestCompatGenPasswd(t *testing.T) {
	for _, tc := range []struct {
		name  string
		value []byte
		want  string
	}{
		{"generated", []byte{0x30, 0x05, 0x80, 0x03, 'a', 'b', 'c'}, "abc"},
		{"empty sequence", []byte{0x30, 0x00}, ""},
		{"wrong tag", []byte{0x30, 0x05, 0x81, 0x03, 'a', 'b', 'c'}, ""},
		{"not a sequence", []byte{0x04, 0x03, 'a', 'b', 'c'}, ""},
		{"truncated", []byte{0x30, 0x05, 0x80, 0x03, 'a'}, ""},
		{"nothing", nil, ""},
	} {
		if got := compatGenPasswd(tc.value); got != tc.want {
			t.Errorf("%s: compatGenPasswd(% x) = %q, want %q", tc.name, tc.value, got, tc.want)
		}
	}
}

func FuzzCompatGenPasswd(f *testing.F) {
	f.Add([]byte{0x30, 0x05, 0x80, 0x03, 'a', 'b', 'c'})
	f.Add([]byte{0x30, 0x00})
	f.Add([]byte{0x30, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, value []byte) {
		g := compatGenPasswd(value)
		if len(g) > len(value) {
			t.Fatalf("genPasswd(% x) = %q: longer than its input", value, g)
		}
	})
}
