package berlex

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nested returns depth constructed SEQUENCEs around an empty one.
func nested(depth int) []byte {
	b := []byte{0x30, 0x00}
	for range depth {
		b = append(wrapLen(0x30, len(b)), b...)
	}
	return b
}

func wrapLen(tag byte, n int) []byte {
	switch {
	case n < 0x80:
		return []byte{tag, byte(n)}
	case n < 0x100:
		return []byte{tag, 0x81, byte(n)}
	case n < 0x10000:
		return []byte{tag, 0x82, byte(n >> 8), byte(n)}
	}
	return []byte{tag, 0x83, byte(n >> 16), byte(n >> 8), byte(n)}
}

// flat returns a SEQUENCE of n empty SEQUENCEs.
func flat(n int) []byte {
	inner := bytes.Repeat([]byte{0x30, 0x00}, n)
	return append(wrapLen(0x30, len(inner)), inner...)
}

var lim = Limits{MaxDepth: 8, MaxElements: 100}

func TestCheck(t *testing.T) {
	cases := []struct {
		name string
		in   []byte
		want error // nil, ErrMalformed or ErrLimit
	}{
		{"empty SEQUENCE", unhex(t, "3000"), nil},
		{"INTEGER", unhex(t, "020101"), nil},
		{"nested", unhex(t, "3005 3003 020101"), nil},
		{"long form, minimal", append(unhex(t, "0481 80"), make([]byte, 0x80)...), nil},
		{"long form, not minimal", unhex(t, "308103 020101"), nil},
		{"long form, four octets", unhex(t, "3084 00000003 020101"), nil},
		{"long form, five octets", unhex(t, "3085 0000000003 020101"), ErrMalformed},
		{"long form, 127 octets (0xff)", unhex(t, "30ff"), ErrMalformed},
		{"long form, length octets missing", unhex(t, "3082 01"), ErrMalformed},
		{"long form, huge length", unhex(t, "3084 ffffffff 00"), ErrMalformed},
		{"nothing", nil, ErrMalformed},
		{"tag only", unhex(t, "30"), ErrMalformed},
		{"truncated content", unhex(t, "3005 020101"), ErrMalformed},
		{"truncated inner element", unhex(t, "3003 020201"), ErrMalformed},
		{"inner element longer than its container", unhex(t, "3003 0202 0101 00"), ErrMalformed},
		{"indefinite length", unhex(t, "3080 020101 0000"), ErrMalformed},
		{"indefinite length inside", unhex(t, "3004 3080 0000"), ErrMalformed},
		{"end-of-contents element", unhex(t, "3002 0000"), ErrMalformed},
		{"high tag number", unhex(t, "1f0100"), ErrMalformed},
		{"high tag number inside", unhex(t, "3003 bf0100"), ErrMalformed},
		{"trailing bytes", unhex(t, "3000 00"), ErrMalformed},
		{"trailing element", unhex(t, "3000 3000"), ErrMalformed},
		{"primitive content is not walked", unhex(t, "0403 1f8080"), nil},
		{"every universal type LDAP uses", unhex(t, "3011 010100 020101 0400 0500 0a0100 3000 3100"), nil},
		{"REAL inside an operation", unhex(t, "300a 020101 6805 0903 034142"), ErrMalformed},
		{"PrintableString", unhex(t, "3003 130141"), ErrMalformed},
		{"UTF8String", unhex(t, "3003 0c0141"), ErrMalformed},
		{"application and context tags of any number", unhex(t, "3006 7e00 9e00 be00"), nil},
		{"deepest allowed", nested(lim.MaxDepth), nil},
		{"one level too deep", nested(lim.MaxDepth + 1), ErrLimit},
		{"far too deep", nested(10000), ErrLimit},
		{"most elements allowed", flat(lim.MaxElements - 1), nil},
		{"one element too many", flat(lim.MaxElements), ErrLimit},
		{"500,000 elements", flat(500000), ErrLimit},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := Check(tc.in, lim)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("Check: %v", err)
			case tc.want != nil && !errors.Is(err, tc.want):
				t.Fatalf("Check = %v, want %v", err, tc.want)
			case errors.Is(err, ErrLimit) && errors.Is(err, ErrMalformed):
				t.Fatalf("%v is both", err)
			}
		})
	}
}

func TestNext(t *testing.T) {
	b := unhex(t, "a0 81 05 04 03 616263 ff")
	e, rest, err := Next(b)
	if err != nil {
		t.Fatal(err)
	}
	if e.Tag != 0xa0 || e.Class() != ClassContext || !e.Constructed() || e.Number() != 0 {
		t.Fatalf("identifier %02x: class %02x constructed %v number %d", e.Tag, e.Class(), e.Constructed(), e.Number())
	}
	if !bytes.Equal(e.Content, unhex(t, "0403616263")) || !bytes.Equal(e.TLV, b[:8]) || !bytes.Equal(rest, []byte{0xff}) {
		t.Fatalf("content % x, TLV % x, rest % x", e.Content, e.TLV, rest)
	}
	// The slices alias the input, and an append cannot spill into what
	// follows them.
	if &e.Content[0] != &b[3] || cap(e.Content) != len(e.Content) || cap(e.TLV) != len(e.TLV) {
		t.Fatal("content is a copy, or its capacity reaches past it")
	}
	_ = append(e.Content, 0)
	if b[8] != 0xff {
		t.Fatal("append to Content overwrote the next byte")
	}
	inner, rest, err := Next(e.Content)
	if err != nil || inner.Tag != 0x04 || string(inner.Content) != "abc" || len(rest) != 0 {
		t.Fatalf("inner %+v rest % x err %v", inner, rest, err)
	}
}

func TestNextAllocatesNothing(t *testing.T) {
	b := flat(1000)
	if n := testing.AllocsPerRun(10, func() {
		if err := Check(b, Limits{MaxDepth: 4, MaxElements: 2000}); err != nil {
			t.Fatal(err)
		}
		e, _, _ := Next(b)
		var dst [4]Element
		_, _ = Split(e.Content[:8], dst[:])
		_, _ = Count(e.Content, 2000)
	}); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

func TestSplitCount(t *testing.T) {
	b := unhex(t, "020101 020102 020103")
	var dst [3]Element
	if n, err := Split(b, dst[:]); err != nil || n != 3 || dst[2].Content[0] != 3 {
		t.Fatalf("Split = %d, %v", n, err)
	}
	if n, err := Split(b, dst[:2]); !errors.Is(err, ErrMalformed) || n != 2 {
		t.Fatalf("Split into 2 = %d, %v", n, err)
	}
	if _, err := Split(unhex(t, "020101 0202"), dst[:]); !errors.Is(err, ErrMalformed) {
		t.Fatalf("Split of a truncated element: %v", err)
	}
	if n, err := Count(b, 3); err != nil || n != 3 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	if _, err := Count(b, 2); !errors.Is(err, ErrLimit) {
		t.Fatalf("Count over max: %v", err)
	}
	if n, err := Count(nil, 0); err != nil || n != 0 {
		t.Fatalf("Count(nil) = %d, %v", n, err)
	}
}

func TestInt(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		ok   bool
	}{
		{"00", 0, true}, {"01", 1, true}, {"7f", 127, true}, {"0080", 128, true}, {"ff", -1, true},
		{"80", -128, true}, {"ff7f", -129, true}, {"7fffffff", 1<<31 - 1, true}, {"80000000", -1 << 31, true},
		{"7fffffffffffffff", 1<<63 - 1, true}, {"8000000000000000", -1 << 63, true},
		{"000001", 1, true}, // not minimal: BER allows it
		{"", 0, false}, {"010000000000000000", 0, false},
	} {
		got, err := Int(unhex(t, tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Int(%s) = %d, %v", tc.in, got, err)
		}
		if err != nil && !errors.Is(err, ErrMalformed) {
			t.Errorf("Int(%s): %v", tc.in, err)
		}
	}
	for _, tc := range []struct {
		in       string
		want, ok bool
	}{{"00", false, true}, {"01", true, true}, {"ff", true, true}, {"", false, false}, {"0000", false, false}} {
		got, err := Bool(unhex(t, tc.in))
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("Bool(%s) = %v, %v", tc.in, got, err)
		}
	}
}

// FuzzCheck: Check never panics, stays within its limits, and what it
// accepts reads back element by element exactly as it was.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"3000", "3005 3003 020101", "308103 020101", "3080 0000", "3000 00", "1f0100", "3084 ffffffff 00",
		"300c 020101 6007 020103 0400 8000", "a0 81 05 04 03 616263"} {
		f.Add(unhex(f, s))
	}
	f.Add(nested(9))
	f.Add(flat(101))
	f.Fuzz(func(t *testing.T, b []byte) {
		err := Check(b, lim)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrLimit) {
				t.Fatalf("Check error %v wraps neither", err)
			}
			return
		}
		// Accepted: one element, which walks back to the same bytes.
		e, rest, err := Next(b)
		if err != nil || len(rest) != 0 || !bytes.Equal(e.TLV, b) {
			t.Fatalf("Next after Check: %v, %d left", err, len(rest))
		}
		if n := walk(t, e, 0); n > lim.MaxElements {
			t.Fatalf("%d elements accepted", n)
		}
	})
}

// walk counts e's elements and checks each one's framing.
func walk(t *testing.T, e Element, depth int) int {
	if depth > lim.MaxDepth {
		t.Fatalf("depth %d accepted", depth)
	}
	if e.Tag == 0 || e.Number() == 0x1f || len(e.TLV) < 2+len(e.Content) || !bytes.HasSuffix(e.TLV, e.Content) {
		t.Fatalf("element % x", e.TLV)
	}
	n := 1
	if e.Constructed() {
		for c := e.Content; len(c) > 0; {
			var k Element
			var err error
			if k, c, err = Next(c); err != nil {
				t.Fatalf("Next inside a checked element: %v", err)
			}
			n += walk(t, k, depth+1)
		}
	}
	return n
}
