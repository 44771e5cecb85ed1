package logtext

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestBoundN(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		n        int
		want     string
	}{
		{"short", "uid=bob", 10, "uid=bob"},
		{"exactly max", "abcdef", 6, "abcdef"},
		{"ascii", "abcdefgh", 4, "abcd…(truncated, 8 bytes)"},
		// "ü" is 2 bytes: a cut in its middle moves before it.
		{"two-byte rune", "aaaü", 4, "aaa…(truncated, 5 bytes)"},
		// "€" is 3 bytes, "𝄞" 4.
		{"three-byte rune", "ab€", 3, "ab…(truncated, 5 bytes)"},
		{"four-byte rune", "a𝄞b", 3, "a…(truncated, 6 bytes)"},
		{"rune ends at cut", "a€b", 4, "a€…(truncated, 5 bytes)"},
		// Not UTF-8: no rune start close by, cut where the limit is.
		{"invalid", "\x80\x80\x80\x80\x80\x80", 4, "\x80\x80\x80\x80…(truncated, 6 bytes)"},
		{"zero", "abc", 0, "…(truncated, 3 bytes)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := BoundN(tc.in, tc.n); got != tc.want {
				t.Errorf("BoundN(%q, %d) = %q, want %q", tc.in, tc.n, got, tc.want)
			}
		})
	}
}

func TestBoundMegabyteDN(t *testing.T) {
	dn := "uid=" + strings.Repeat("ü", 1<<19) + ",dc=example,dc=com"
	got := Bound(dn)
	if len(got) > MaxField+64 {
		t.Fatalf("bounded to %d bytes", len(got))
	}
	if !utf8.ValidString(got) {
		t.Errorf("cut inside a rune: %q", got[len(got)-40:])
	}
	if !strings.HasSuffix(got, "…(truncated, 1048598 bytes)") {
		t.Errorf("marker: %q", got[len(got)-40:])
	}
}
