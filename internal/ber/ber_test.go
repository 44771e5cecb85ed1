package ber

import (
	"bytes"
	"encoding/asn1"
	"encoding/hex"
	"math"
	"strings"
	"testing"

	asn1ber "github.com/go-asn1-ber/asn1-ber"
)

// The expected octets are written out by hand: they are the bytes the
// encoders of ldapfront, pwcontrol and search/filter wrote before they
// shared this package, and the golden vectors depend on them.
func TestAppendLength(t *testing.T) {
	tests := []struct {
		n    int
		want string
	}{
		{0, "00"},
		{1, "01"},
		{0x7f, "7f"},
		{0x80, "8180"},
		{0xff, "81ff"},
		{0x100, "820100"},
		{0xffff, "82ffff"},
		{0x10000, "83010000"},
		{0xffffff, "83ffffff"},
		{0x1000000, "8401000000"},
		{0x7fffffff, "847fffffff"},
		{0xffffffff, "84ffffffff"},
		{1 << 32, "850100000000"},
		{math.MaxInt64, "887fffffffffffffff"},
	}
	for _, tt := range tests {
		got := AppendLength([]byte{0xee}, tt.n)
		if hex.EncodeToString(got) != "ee"+tt.want {
			t.Errorf("AppendLength(%#x) = %x, want ee%s", tt.n, got, tt.want)
		}
		if size := LengthSize(tt.n); size != len(tt.want)/2 {
			t.Errorf("LengthSize(%#x) = %d, want %d", tt.n, size, len(tt.want)/2)
		}
		if size := TLVSize(tt.n); size != 1+len(tt.want)/2+tt.n {
			t.Errorf("TLVSize(%#x) = %d, want %d", tt.n, size, 1+len(tt.want)/2+tt.n)
		}
	}
}

func TestAppendInt(t *testing.T) {
	tests := []struct {
		v    int64
		want string // content octets
	}{
		{0, "00"},
		{1, "01"},
		{-1, "ff"},
		{127, "7f"},
		{128, "0080"},
		{-128, "80"},
		{-129, "ff7f"},
		{255, "00ff"},
		{256, "0100"},
		{32767, "7fff"},
		{32768, "008000"},
		{-32768, "8000"},
		{-32769, "ff7fff"},
		{math.MaxInt32, "7fffffff"},
		{math.MinInt32, "80000000"},
		{math.MaxInt64, "7fffffffffffffff"},
		{math.MinInt64, "8000000000000000"},
	}
	for _, tt := range tests {
		got := AppendInt([]byte{0xee}, 0x0a, tt.v)
		want := "ee0a" + hex.EncodeToString([]byte{byte(len(tt.want) / 2)}) + tt.want
		if hex.EncodeToString(got) != want {
			t.Errorf("AppendInt(%d) = %x, want %s", tt.v, got, want)
		}
		if size := IntSize(tt.v); size != len(tt.want)/2 {
			t.Errorf("IntSize(%d) = %d, want %d", tt.v, size, len(tt.want)/2)
		}
	}
}

func TestAppendElements(t *testing.T) {
	long := strings.Repeat("x", 300)
	tests := []struct {
		name string
		got  []byte
		want string
	}{
		{"empty string", AppendString(nil, 0x04, ""), "0400"},
		{"string", AppendString(nil, 0x04, "abc"), "0403616263"},
		{"long string", AppendString(nil, 0x80, long), "80820" + "12c" + strings.Repeat("78", 300)},
		{"nil bytes", AppendBytes(nil, 0x8b, nil), "8b00"},
		{"bytes", AppendBytes([]byte{0x30}, 0x81, []byte{0, 0xff}), "30810200ff"},
		{"header", AppendHeader(nil, 0x30, 0x100), "30820100"},
	}
	for _, tt := range tests {
		if hex.EncodeToString(tt.got) != tt.want {
			t.Errorf("%s: %x, want %s", tt.name, tt.got, tt.want)
		}
	}
}

// checkRoundTrip encodes content and v and reads them back with an
// independent decoder (go-asn1-ber, which go-ldap clients use) and against
// the DER encoder of the standard library, which must agree to the octet:
// DER's length and INTEGER forms are the minimal ones this package writes.
func checkRoundTrip(t *testing.T, tag byte, content []byte, v int64) {
	t.Helper()
	// A primitive, context-specific, low-number tag: the decoder keeps its
	// content as it is.
	tag = 0x80 | tag&0x1f
	if tag&0x1f == 0x1f {
		tag = 0x80
	}
	enc := AppendBytes(nil, tag, content)
	if len(enc) != TLVSize(len(content)) {
		t.Fatalf("AppendBytes wrote %d octets, TLVSize says %d", len(enc), TLVSize(len(content)))
	}
	if !bytes.Equal(AppendString(nil, tag, string(content)), enc) {
		t.Fatalf("AppendString and AppendBytes differ for %x", content)
	}
	r := bytes.NewReader(enc)
	p, err := asn1ber.ReadPacket(r)
	if err != nil {
		t.Fatalf("asn1-ber cannot read %x: %v", enc, err)
	}
	if r.Len() != 0 {
		t.Fatalf("asn1-ber left %d of %d octets of %x", r.Len(), len(enc), enc)
	}
	if byte(p.ClassType)|byte(p.TagType)|byte(p.Tag) != tag || !bytes.Equal(p.Data.Bytes(), content) {
		t.Fatalf("asn1-ber read tag %#x content %x, want %#x %x", p.Tag, p.Data.Bytes(), tag, content)
	}
	der, err := asn1.Marshal(content)
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendBytes(nil, 0x04, content); !bytes.Equal(got, der) {
		t.Fatalf("AppendBytes = %x, DER = %x", got, der)
	}

	enc = AppendInt(nil, 0x02, v)
	if len(enc) != 2+IntSize(v) {
		t.Fatalf("AppendInt(%d) wrote %d octets, IntSize says %d", v, len(enc), IntSize(v))
	}
	p, err = asn1ber.DecodePacketErr(enc)
	if err != nil {
		t.Fatalf("asn1-ber cannot read %x: %v", enc, err)
	}
	if got, ok := p.Value.(int64); !ok || got != v {
		t.Fatalf("asn1-ber read %v from %x, want %d", p.Value, enc, v)
	}
	if der, err = asn1.Marshal(v); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, der) {
		t.Fatalf("AppendInt(%d) = %x, DER = %x", v, enc, der)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 0x7f, 0x80, 0xff, 0x100, 0xffff, 0x10000} {
		checkRoundTrip(t, 0, bytes.Repeat([]byte{0xa5}, n), int64(n))
		checkRoundTrip(t, 3, bytes.Repeat([]byte{0x5a}, n), -int64(n))
	}
}

func FuzzRoundTrip(f *testing.F) {
	f.Add(byte(0), []byte{}, int64(0))
	f.Add(byte(1), []byte("cn=a,dc=example"), int64(-129))
	f.Add(byte(0x1f), bytes.Repeat([]byte{0}, 200), int64(math.MinInt64))
	f.Add(byte(0x0b), bytes.Repeat([]byte{0xff}, 70000), int64(math.MaxInt64))
	f.Fuzz(checkRoundTrip)
}
