package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"io"
	"strings"
	"testing"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/go-ldap/ldap/v3"
)

// The requests the tool encodes by hand must decode, with go-ldap's BER
// reader, into what go-ldap's own client would have sent.
func TestRequestsDecode(t *testing.T) {
	long := strings.Repeat("x", 300)
	for _, tc := range []struct {
		name    string
		msg     []byte
		id      int64
		opTag   ber.Tag
		check   func(t *testing.T, op *ber.Packet)
		ppolicy bool
	}{
		{"bind", appendBind(nil, 7, "uid=a,dc=x", "pw", false), 7, ldap.ApplicationBindRequest, func(t *testing.T, op *ber.Packet) {
			if op.Children[0].Value.(int64) != 3 || op.Children[1].Value.(string) != "uid=a,dc=x" || op.Children[2].Data.String() != "pw" || op.Children[2].Tag != 0 {
				t.Errorf("bind fields: %v", op.Children)
			}
		}, false},
		{"bind long values and ppolicy", appendBind(nil, 70000, long, long, true), 70000, ldap.ApplicationBindRequest, func(t *testing.T, op *ber.Packet) {
			if op.Children[1].Value.(string) != long || op.Children[2].Data.String() != long {
				t.Error("long bind fields")
			}
		}, true},
		{"password modify", appendPasswordModify(nil, 2147483647, "old", "new", true), 2147483647, ldap.ApplicationExtendedRequest, func(t *testing.T, op *ber.Packet) {
			if op.Children[0].Data.String() != oidPasswordModify {
				t.Errorf("name %q", op.Children[0].Data.String())
			}
			v := ber.DecodePacket(op.Children[1].Data.Bytes())
			if len(v.Children) != 2 || v.Children[0].Tag != 1 || v.Children[0].Data.String() != "old" || v.Children[1].Tag != 2 || v.Children[1].Data.String() != "new" {
				t.Errorf("value %s", hex.EncodeToString(op.Children[1].Data.Bytes()))
			}
		}, true},
		{"starttls", appendStartTLS(nil, 1), 1, ldap.ApplicationExtendedRequest, func(t *testing.T, op *ber.Packet) {
			if len(op.Children) != 1 || op.Children[0].Data.String() != oidStartTLS {
				t.Error("starttls fields")
			}
		}, false},
		{"unbind", appendUnbind(nil, 128), 128, ldap.ApplicationUnbindRequest, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := ber.DecodePacketErr(tc.msg)
			if err != nil {
				t.Fatal(err)
			}
			if rest := len(tc.msg) - len(p.Bytes()); rest != 0 {
				t.Fatalf("%d bytes after the message", rest)
			}
			if p.Children[0].Value.(int64) != tc.id {
				t.Errorf("id %v", p.Children[0].Value)
			}
			op := p.Children[1]
			if op.ClassType != ber.ClassApplication || op.Tag != tc.opTag {
				t.Fatalf("op class %v tag %v", op.ClassType, op.Tag)
			}
			if tc.check != nil {
				tc.check(t, op)
			}
			if got := len(p.Children) == 3; got != tc.ppolicy {
				t.Fatalf("controls present %v, want %v", got, tc.ppolicy)
			}
			if tc.ppolicy {
				c := p.Children[2].Children[0]
				if len(c.Children) != 1 || c.Children[0].Data.String() != oidPasswordPolicy {
					t.Errorf("control %v", c.Children)
				}
			}
		})
	}
}

func encodeResponse(id int64, tag ber.Tag, code int64, diag string, extra ...*ber.Packet) []byte {
	env := ber.Encode(ber.ClassUniversal, ber.TypeConstructed, ber.TagSequence, nil, "")
	env.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagInteger, id, ""))
	op := ber.Encode(ber.ClassApplication, ber.TypeConstructed, tag, nil, "")
	op.AppendChild(ber.NewInteger(ber.ClassUniversal, ber.TypePrimitive, ber.TagEnumerated, code, ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, "", ""))
	op.AppendChild(ber.NewString(ber.ClassUniversal, ber.TypePrimitive, ber.TagOctetString, diag, ""))
	for _, e := range extra {
		op.AppendChild(e)
	}
	env.AppendChild(op)
	return env.Bytes()
}

func TestParseResponses(t *testing.T) {
	notice := ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, oidNotice, "")
	long := strings.Repeat("d", 70000)
	for _, tc := range []struct {
		name string
		msg  []byte
		want response
		err  bool
	}{
		{"bind success", encodeResponse(5, ldap.ApplicationBindResponse, 0, ""), response{id: 5, op: appBindResponse}, false},
		{"bind failure", encodeResponse(300, ldap.ApplicationBindResponse, 49, "invalid credentials"), response{id: 300, op: appBindResponse, code: 49, diag: "invalid credentials"}, false},
		{"extended", encodeResponse(9, ldap.ApplicationExtendedResponse, 19, "too short"), response{id: 9, op: appExtendedResp, code: 19, diag: "too short"}, false},
		{"notice", encodeResponse(0, ldap.ApplicationExtendedResponse, 52, "shutting down", notice), response{id: 0, op: appExtendedResp, code: 52, diag: "shutting down", notice: true}, false},
		{"too large", encodeResponse(1, ldap.ApplicationBindResponse, 0, long), response{}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := bufio.NewReader(bytes.NewReader(tc.msg))
			msg, err := readMessage(r, nil)
			if tc.err {
				if !errors.Is(err, errMalformed) {
					t.Fatalf("err %v, want malformed", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got, err := parseResponse(msg)
			if err != nil || got != tc.want {
				t.Fatalf("got %+v %v, want %+v", got, err, tc.want)
			}
		})
	}
}

func TestReadMessageErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want error
	}{
		{"empty", "", io.EOF},
		{"wrong tag", "\x04\x00", errMalformed},
		{"truncated length", "\x30", io.ErrUnexpectedEOF},
		{"indefinite", "\x30\x80", errMalformed},
		{"truncated body", "\x30\x05\x02\x01", io.ErrUnexpectedEOF},
		{"five length octets", "\x30\x85\x01\x01\x01\x01\x01", errMalformed},
	} {
		_, err := readMessage(bufio.NewReader(strings.NewReader(tc.in)), nil)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	for _, bad := range []string{"", "\x02\x01", "\x02\x00\x61\x00", "\x02\x01\x01\x04\x00", "\x02\x01\x01\x61\x03\x0a\x01\x00", "\x02\x01\x01\x61\x05\x0a\x01\x00\x04\x00", "\x02\x01\x01\x61\x05\x0a\x01\xff\x04\x00"} {
		if _, err := parseResponse([]byte(bad)); !errors.Is(err, errMalformed) {
			t.Errorf("parseResponse(%x): %v, want malformed", bad, err)
		}
	}
}

// FuzzParseResponse: no input makes the decoder panic or read out of
// bounds, and whatever readMessage accepts has the length it claimed.
func FuzzParseResponse(f *testing.F) {
	f.Add(encodeResponse(5, ldap.ApplicationBindResponse, 0, ""))
	f.Add(encodeResponse(0, ldap.ApplicationExtendedResponse, 52, "bye", ber.NewString(ber.ClassContext, ber.TypePrimitive, 10, oidNotice, "")))
	f.Add([]byte("\x30\x84\xff\xff\xff\xff"))
	f.Add([]byte("\x30\x03\x02\x01\x01"))
	f.Add(searchEntry(3, "uid=a,dc=x", map[string][]string{"mail": {"a@x"}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		msg, err := readMessage(bufio.NewReader(bytes.NewReader(b)), nil)
		if err == nil {
			if len(msg) > maxResponseSize || len(msg) > len(b) {
				t.Fatalf("message of %d bytes from %d input bytes", len(msg), len(b))
			}
			_, _ = parseResponse(msg)
		}
		_, _ = parseResponse(b)
		if _, _, op, err := parseHeader(b); err == nil {
			if dn, err := parseEntryDN(op); err == nil && len(dn) > len(op) {
				t.Fatalf("DN of %d bytes from an operation of %d", len(dn), len(op))
			}
		}
	})
}
