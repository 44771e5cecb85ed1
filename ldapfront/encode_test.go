package ldapfront

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	ber "github.com/go-asn1-ber/asn1-ber"
)

func TestEncodeLongForms(t *testing.T) {
	for _, n := range []int{0, 1, 126, 127, 128, 255, 256, 65535, 65536, 300000} {
		v := strings.Repeat("x", n)
		b := appendEntry([]byte("prefix"), 7, "cn=x", []attribute{{name: "a", values: []string{v}}}, false)
		if !bytes.HasPrefix(b, []byte("prefix")) {
			t.Fatalf("n=%d: prefix lost", n)
		}
		p, err := decodeBER(b[len("prefix"):])
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		got := p.Children[1].Children[1].Children[0].Children[1].Children[0].Data.String()
		if got != v {
			t.Fatalf("n=%d: value of %d bytes back", n, len(got))
		}
	}
}

func TestAppendInt(t *testing.T) {
	for _, v := range []int64{0, 1, 127, 128, 255, 256, 32767, 32768, -1, -128, -129, 1<<31 - 1, -1 << 31, 1<<63 - 1} {
		b := appendInt(nil, tagInteger, v)
		p, err := ber.DecodePacketErr(b)
		if err != nil {
			t.Fatal(err)
		}
		if got, _ := parseInt(p.Data.Bytes()); got != v {
			t.Fatalf("%d encoded as % x decodes to %d", v, b, got)
		}
		if len(b) > 3 && (b[2] == 0 && b[3] < 0x80 || b[2] == 0xff && b[3] >= 0x80) {
			t.Fatalf("%d encoded as % x is not minimal", v, b)
		}
	}
}

func TestReadFrame(t *testing.T) {
	cases := []struct {
		in      string
		max     int
		want    string // hex of the frame; "" = error
		wantErr error
	}{
		{"3000", 10, "3000", nil},
		{"3003020101", 10, "3003020101", nil},
		{"308103020101", 10, "308103020101", nil}, // long form, not minimal: allowed BER
		{"3084000000030201", 10, "", errUnexpected},
		{"308400000003020101", 10, "308400000003020101", nil},
		{"30820100", 10, "", errTooLarge},
		{"3080", 10, "", errMalformed},
		{"30ff", 10, "", errMalformed},
		{"3089", 10, "", errMalformed},
		{"0400", 10, "", errMalformed},
		{"30", 10, "", errUnexpected},
		{"3005020101", 10, "", errUnexpected},
	}
	for _, tc := range cases {
		r := bufio.NewReader(bytes.NewReader(mustHex(t, padHex(tc.in))))
		tag, _ := r.ReadByte()
		got, err := readFrame(r, tag, tc.max)
		switch {
		case tc.want != "" && (err != nil || !bytes.Equal(got, mustHex(t, tc.want))):
			t.Errorf("readFrame(%s) = % x, %v", tc.in, got, err)
		case tc.want == "" && !errors.Is(err, tc.wantErr):
			t.Errorf("readFrame(%s) error %v, want %v", tc.in, err, tc.wantErr)
		}
	}
}

var errUnexpected = io.ErrUnexpectedEOF

func padHex(s string) string {
	if len(s)%2 == 1 {
		return s + "0"
	}
	return s
}

// TestHugeLengthAllocatesNothing checks that a 100 MiB length prefix is
// refused from its header, before any buffer for it exists.
func TestHugeLengthAllocatesNothing(t *testing.T) {
	in := mustHex(t, "308406400000")
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range 100 {
		r := bufio.NewReaderSize(bytes.NewReader(in), 16)
		tag, _ := r.ReadByte()
		if _, err := readFrame(r, tag, 1<<20); !errors.Is(err, errTooLarge) {
			t.Fatal(err)
		}
	}
	runtime.ReadMemStats(&after)
	if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
		t.Fatalf("refusing 100 huge prefixes allocated %d bytes", d)
	}
}

func TestSelectAttributes(t *testing.T) {
	attrs := []attribute{
		{name: "objectClass", values: []string{"top"}},
		{name: "cn", values: []string{"x"}},
		{name: "vendorName", values: []string{"v"}, operational: true},
		{name: "supportedControl", values: []string{"1"}, operational: true},
	}
	cases := []struct {
		sel  []string
		want []string
	}{
		{nil, []string{"objectClass", "cn"}},
		{[]string{"*"}, []string{"objectClass", "cn"}},
		{[]string{"+"}, []string{"vendorName", "supportedControl"}},
		{[]string{"*", "+"}, []string{"objectClass", "cn", "vendorName", "supportedControl"}},
		{[]string{"1.1"}, nil},
		{[]string{"1.1", "cn"}, []string{"cn"}},
		{[]string{"VENDORNAME", "cn;lang-en"}, []string{"cn", "vendorName"}},
		{[]string{"*", "vendorname"}, []string{"objectClass", "cn", "vendorName"}},
		{[]string{"nosuch"}, nil},
	}
	for _, tc := range cases {
		var got []string
		for _, a := range selectAttributes(attrs, tc.sel) {
			got = append(got, a.name)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("select %v = %v, want %v", tc.sel, got, tc.want)
		}
	}
}

func TestLimitsDefaults(t *testing.T) {
	got := Limits{MaxConnsPerIP: -1}.withDefaults()
	want := Limits{MaxMessageBytes: 1 << 20, MaxMessageBytesAnonymous: 256 << 10, MaxConnections: 4096, MaxOpsPerConn: 16, IdleTimeout: 10 * time.Minute,
		MessageTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second, OperationTimeout: 30 * time.Second, LimiterEntries: 16384}
	if got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
	set := Limits{MaxMessageBytes: 5, MaxMessageBytesAnonymous: 4, MaxConnections: 6, MaxConnsPerIP: 7, MaxOpsPerConn: 8, IdleTimeout: 1,
		MessageTimeout: 2, WriteTimeout: 3, OperationTimeout: 4, RatePerIP: 0.5, RateBurst: 9, FailedBindsPerDN: 10, LimiterEntries: 11}
	if got := set.withDefaults(); got != set {
		t.Fatalf("explicit limits changed: %+v", got)
	}
	// The limit before a bind is never above the one after.
	if got := (Limits{MaxMessageBytes: 1000}).withDefaults(); got.MaxMessageBytesAnonymous != 1000 {
		t.Fatalf("anonymous limit %d over MaxMessageBytes 1000", got.MaxMessageBytesAnonymous)
	}
}

func TestOIDDiagnostics(t *testing.T) {
	for in, want := range map[string]string{
		"1.3.6.1.4.1.4203.1.11.1": "1.3.6.1.4.1.4203.1.11.1",
		"1..2":                    "(invalid OID)",
		"1.2.":                    "(invalid OID)",
		"":                        "(invalid OID)",
		"1.2\n3":                  "(invalid OID)",
		"pass:word":               "(invalid OID)",
	} {
		if got := quoteOID(in); got != want {
			t.Errorf("quoteOID(%q) = %q", in, got)
		}
	}
}
