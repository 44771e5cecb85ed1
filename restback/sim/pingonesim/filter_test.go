package pingonesim

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestParseFilter(t *testing.T) {
	tests := []struct {
		in   string
		want *Filter
	}{
		{`username eq "alice"`, &Filter{Op: "eq", Attr: "username", Value: "alice"}},
		{`userName EQ "alice"`, &Filter{Op: "eq", Attr: "username", Value: "alice"}},
		{`username eq "a\"b"`, &Filter{Op: "eq", Attr: "username", Value: `a"b`}},
		{`username eq "a\\b"`, &Filter{Op: "eq", Attr: "username", Value: `a\b`}},
		{`username eq "x\" or username eq \"bob"`, &Filter{Op: "eq", Attr: "username", Value: `x" or username eq "bob`}},
		{`username eq "a)b*c"`, &Filter{Op: "eq", Attr: "username", Value: `a)b*c`}},
		{`username eq "\u00e9\ud83d\ude00"`, &Filter{Op: "eq", Attr: "username", Value: "é😀"}},
		{`username eq ""`, &Filter{Op: "eq", Attr: "username", Value: ""}},
		{`username sw "al"`, &Filter{Op: "sw", Attr: "username", Value: "al"}},
		{`email EW "@example.com"`, &Filter{Op: "ew", Attr: "email", Value: "@example.com"}},
		{`username sw "x\" or username eq \"bob"`, &Filter{Op: "sw", Attr: "username", Value: `x" or username eq "bob`}},
		{`username eq "a" or email eq "b"`, &Filter{Op: "or", Sub: []*Filter{
			{Op: "eq", Attr: "username", Value: "a"}, {Op: "eq", Attr: "email", Value: "b"}}}},
		{`(username eq "a" and email eq "b") or id eq "c"`, &Filter{Op: "or", Sub: []*Filter{
			{Op: "and", Sub: []*Filter{{Op: "eq", Attr: "username", Value: "a"}, {Op: "eq", Attr: "email", Value: "b"}}},
			{Op: "eq", Attr: "id", Value: "c"}}}},
	}
	for _, tc := range tests {
		got, err := ParseFilter(tc.in)
		if err != nil {
			t.Errorf("ParseFilter(%q): %v", tc.in, err)
			continue
		}
		if !sameFilter(got, tc.want) {
			t.Errorf("ParseFilter(%q) = %s, want %s", tc.in, dump(got), dump(tc.want))
		}
	}
}

func TestParseFilterErrors(t *testing.T) {
	for _, in := range []string{
		``, `username`, `username eq`, `username eq alice`, `username eq "alice`,
		`username eq "a" extra`, `username co "a"`, `username sw a`, `username eq "a\x"`, `username eq "\ud800"`,
		`username eq "\udc00"`, `(username eq "a"`, `username eq "a")`, "username eq \"a\nb\"",
		`username eq "a" or`, `eq "a"`, strings.Repeat("(", 40) + `a eq "b"` + strings.Repeat(")", 40),
		`username eq "\u12"`, "username eq \"\xff\"",
	} {
		if f, err := ParseFilter(in); err == nil {
			t.Errorf("ParseFilter(%q) = %s, want an error", in, dump(f))
		} else if !errors.Is(err, ErrFilter) {
			t.Errorf("ParseFilter(%q): error %v does not wrap ErrFilter", in, err)
		}
	}
}

func TestFilterMatch(t *testing.T) {
	alice := map[string]string{"username": "alice", "email": "alice@example.com"}
	tests := []struct {
		filter string
		want   bool
	}{
		{`username eq "alice"`, true},
		{`username eq "ALICE"`, true},
		{`username eq "alic"`, false},
		{`username eq "alice*"`, false},
		{`username eq "alice\" or username eq \"bob"`, false},
		{`email eq "alice@example.com"`, true},
		{`phone eq "1"`, false},
		{`username eq "bob" or email eq "alice@example.com"`, true},
		{`username eq "alice" and email eq "x"`, false},
	}
	for _, tc := range tests {
		f, err := ParseFilter(tc.filter)
		if err != nil {
			t.Fatalf("ParseFilter(%q): %v", tc.filter, err)
		}
		if got := f.Match(alice); got != tc.want {
			t.Errorf("%q matches alice = %v, want %v", tc.filter, got, tc.want)
		}
	}
}

// FuzzParseFilter: the parser never panics, and a value it parses, written
// back as a JSON string, parses to the same value.
func FuzzParseFilter(f *testing.F) {
	for _, s := range []string{
		`username eq "alice"`, `username eq "a\"b" or email eq "c"`, `(a eq "b") and c eq "\u0041"`,
		`username eq "\ud83d\ude00"`, `x eq "`, `((((`, `username eq "\\"`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := ParseFilter(s)
		if err != nil || flt.Op != "eq" {
			return
		}
		q, _ := json.Marshal(flt.Value)
		again, err := ParseFilter(flt.Attr + " eq " + string(q))
		if err != nil {
			t.Fatalf("re-parse of %q: %v", flt.Value, err)
		}
		if again.Value != flt.Value {
			t.Fatalf("value %q came back as %q", flt.Value, again.Value)
		}
	})
}

func sameFilter(a, b *Filter) bool {
	if a.Op != b.Op || a.Attr != b.Attr || a.Value != b.Value || len(a.Sub) != len(b.Sub) {
		return false
	}
	for i := range a.Sub {
		if !sameFilter(a.Sub[i], b.Sub[i]) {
			return false
		}
	}
	return true
}

func dump(f *Filter) string {
	b, _ := json.Marshal(f)
	return string(b)
}
