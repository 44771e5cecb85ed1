package filter

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// compile encodes an RFC 4515 string with go-ldap, as a client would send it.
func compile(t testing.TB, s string) []byte {
	t.Helper()
	p, err := ldap.CompileFilter(s)
	if err != nil {
		t.Fatalf("CompileFilter(%q): %v", s, err)
	}
	return p.Bytes()
}

// mustDecode decodes the BER of an RFC 4515 string.
func mustDecode(t testing.TB, s string) *Filter {
	t.Helper()
	f, err := Decode(compile(t, s))
	if err != nil {
		t.Fatalf("Decode(%q): %v", s, err)
	}
	return f
}

func TestDecodeString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"(uid=jdoe)", "(uid=jdoe)"},
		{"(&(objectClass=person)(uid=jdoe))", "(&(objectClass=person)(uid=jdoe))"},
		{"(|(uid=alice)(uid=bob))", "(|(uid=alice)(uid=bob))"},
		{"(!(uid=alice))", "(!(uid=alice))"},
		{"(uid=ali*)", "(uid=ali*)"},
		{"(cn=*a*b*c)", "(cn=*a*b*c)"},
		{"(cn=a*b*)", "(cn=a*b*)"},
		{"(cn>=m)", "(cn>=m)"},
		{"(cn<=m)", "(cn<=m)"},
		{"(mail=*)", "(mail=*)"},
		{"(cn~=jon)", "(cn~=jon)"},
		{"(cn:caseExactMatch:=Jon)", "(cn:caseExactMatch:=Jon)"},
		{"(cn:dn:2.5.13.5:=Jon)", "(cn:dn:2.5.13.5:=Jon)"},
		{"(:caseIgnoreMatch:=x)", "(:caseIgnoreMatch:=x)"},
		// RFC 4515 escapes survive decoding and are written back.
		{`(cn=a\2ab)`, `(cn=a\2ab)`},
		{`(cn=\28x\29)`, `(cn=\28x\29)`},
		{`(cn=back\5cslash)`, `(cn=back\5cslash)`},
		{`(cn=nul\00)`, `(cn=nul\00)`},
		{`(cn=new\0aline)`, `(cn=new\0aline)`},
		{`(cn=caf\c3\a9)`, `(cn=café)`},
		{`(cn=bad\ff)`, `(cn=bad\ff)`},
		{"(&)", "(&)"},
		{"(|)", "(|)"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			b := compile(t, tc.in)
			f, err := Decode(b)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if got := f.String(); got != tc.want {
				t.Errorf("String() = %q, want %q", got, tc.want)
			}
			// The model round-trips through BER (go-ldap writes TRUE as
			// 0x01; RFC 4511 §5.1 and Encode as 0xFF).
			if e := Encode(f); !bytes.Equal(e, b) && !f.DNAttributes {
				t.Errorf("Encode = %x, want %x", e, b)
			}
		})
	}
}

func TestStringEscapesAttribute(t *testing.T) {
	f := &Filter{Kind: Equality, Attr: "a=b)(x", Value: "v"}
	if got, want := f.String(), `(a\3db\29\28x=v)`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}

// tlv builds one BER element for hostile inputs.
func tlv(tag byte, body ...[]byte) []byte {
	return appendTLV(nil, tag, bytes.Join(body, nil))
}

func os(s string) []byte { return tlv(0x04, []byte(s)) }

func nest(depth int) []byte {
	b := tlv(0x87, []byte("cn"))
	for i := 0; i < depth; i++ {
		b = tlv(0xa2, b)
	}
	return b
}

func TestDecodeHostile(t *testing.T) {
	many := tlv(0x87, []byte("cn"))
	wide := tlv(0xa0, bytes.Repeat(many, MaxNodes))
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"one octet", []byte{0xa3}, ErrMalformed},
		{"truncated body", []byte{0xa3, 0x05, 0x04}, ErrMalformed},
		{"length past end", []byte{0x87, 0x7f, 'c', 'n'}, ErrMalformed},
		{"indefinite length", []byte{0xa0, 0x80, 0, 0}, ErrMalformed},
		{"five length octets", []byte{0x87, 0x85, 0, 0, 0, 0, 2, 'c', 'n'}, ErrMalformed},
		{"huge length", []byte{0x87, 0x84, 0xff, 0xff, 0xff, 0xff, 'c'}, ErrMalformed},
		{"high tag number", []byte{0xbf, 0x01, 0x00}, ErrMalformed},
		{"trailing octets", append(tlv(0x87, []byte("cn")), 0), ErrMalformed},
		{"unknown choice", tlv(0xaa, os("cn"), os("x")), ErrMalformed},
		{"universal sequence as filter", tlv(0x30, os("cn")), ErrMalformed},
		{"present empty", tlv(0x87), ErrMalformed},
		{"equality missing value", tlv(0xa3, os("cn")), ErrMalformed},
		{"equality extra element", tlv(0xa3, os("cn"), os("x"), os("y")), ErrMalformed},
		{"equality wrong inner tag", tlv(0xa3, tlv(0x80, []byte("cn")), os("x")), ErrMalformed},
		{"equality empty attribute", tlv(0xa3, os(""), os("x")), ErrMalformed},
		{"not empty", tlv(0xa2), ErrMalformed},
		{"not two", tlv(0xa2, tlv(0x87, []byte("a")), tlv(0x87, []byte("b"))), ErrMalformed},
		{"and holds garbage", tlv(0xa0, []byte{0x87}), ErrMalformed},
		{"substrings none", tlv(0xa4, os("cn"), tlv(0x30)), ErrMalformed},
		{"substrings initial second", tlv(0xa4, os("cn"), tlv(0x30, tlv(0x81, []byte("a")), tlv(0x80, []byte("b")))), ErrMalformed},
		{"substrings after final", tlv(0xa4, os("cn"), tlv(0x30, tlv(0x82, []byte("a")), tlv(0x81, []byte("b")))), ErrMalformed},
		{"substrings two finals", tlv(0xa4, os("cn"), tlv(0x30, tlv(0x82, []byte("a")), tlv(0x82, []byte("b")))), ErrMalformed},
		{"substrings empty piece", tlv(0xa4, os("cn"), tlv(0x30, tlv(0x81))), ErrMalformed},
		{"substrings unknown piece", tlv(0xa4, os("cn"), tlv(0x30, tlv(0x83, []byte("a")))), ErrMalformed},
		{"substrings not a sequence", tlv(0xa4, os("cn"), tlv(0x31, tlv(0x80, []byte("a")))), ErrMalformed},
		{"extensible no value", tlv(0xa9, tlv(0x82, []byte("cn"))), ErrMalformed},
		{"extensible no rule or type", tlv(0xa9, tlv(0x83, []byte("x"))), ErrMalformed},
		{"extensible out of order", tlv(0xa9, tlv(0x83, []byte("x")), tlv(0x82, []byte("cn"))), ErrMalformed},
		{"extensible bad boolean", tlv(0xa9, tlv(0x82, []byte("cn")), tlv(0x83, []byte("x")), tlv(0x84, []byte{1, 1})), ErrMalformed},
		{"too deep", nest(MaxDepth + 1), ErrTooComplex},
		{"too many nodes", wide, ErrTooComplex},
		{"value too long", tlv(0xa3, os("cn"), os(strings.Repeat("x", MaxValueLen+1))), ErrTooComplex},
		{"attribute too long", tlv(0x87, bytes.Repeat([]byte("a"), MaxValueLen+1)), ErrTooComplex},
		{"piece too long", tlv(0xa4, os("cn"), tlv(0x30, tlv(0x81, bytes.Repeat([]byte("a"), MaxValueLen+1)))), ErrTooComplex},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Decode(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Decode = %v, %v; want an error wrapping %v", f, err, tc.want)
			}
		})
	}
}

func TestDecodeLimitsInclusive(t *testing.T) {
	if _, err := Decode(nest(MaxDepth)); err != nil {
		t.Errorf("depth %d: %v", MaxDepth, err)
	}
	wide := tlv(0xa0, bytes.Repeat(tlv(0x87, []byte("cn")), MaxNodes-1))
	if _, err := Decode(wide); err != nil {
		t.Errorf("%d nodes: %v", MaxNodes, err)
	}
	if _, err := Decode(tlv(0xa3, os("cn"), os(strings.Repeat("x", MaxValueLen)))); err != nil {
		t.Errorf("value of %d: %v", MaxValueLen, err)
	}
	// A non-minimal definite length is valid BER.
	if _, err := Decode([]byte{0x87, 0x81, 2, 'c', 'n'}); err != nil {
		t.Errorf("long-form length: %v", err)
	}
}

func TestSize(t *testing.T) {
	if n := mustDecode(t, "(&(a=1)(|(b=2)(!(c=3))))").Size(); n != 6 {
		t.Errorf("Size = %d, want 6", n)
	}
}
