package pushdown

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestQuoteParseRoundTrip(t *testing.T) {
	hostile := []string{
		`plain`, `"`, `\`, `\"`, `" or uid pr or "`, `") or (uid pr`, `a and b`, `not (x)`,
		"new\nline", "nul\x00", "del\x7f", "tab\t", "\u2028\u2029", "é ΣΊΣΥΦΟΣ 😀",
		strings.Repeat(`"\`, 1000),
	}
	for _, v := range hostile {
		e := &Expr{Op: And, Sub: []*Expr{
			{Op: Eq, Attr: "uid", Value: v},
			{Op: Not, Sub: []*Expr{{Op: Or, Sub: []*Expr{{Op: Sw, Attr: "name.given", Value: v}, {Op: Pr, Attr: "mail"}}}}},
		}}
		s := e.String()
		if strings.ContainsAny(s, "\x00\n\r\x7f\u2028") {
			t.Errorf("%q: control character in %q", v, s)
		}
		got, err := Parse(s)
		if err != nil {
			t.Fatalf("Parse(%q): %v", s, err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Errorf("Parse(String()) = %#v, want %#v", got, e)
		}
	}
}

func TestString(t *testing.T) {
	e := &Expr{Op: Or, Sub: []*Expr{
		{Op: And, Sub: []*Expr{{Op: Eq, Attr: "objectClass", Value: "person"}, {Op: Eq, Attr: "sn", Value: "Jones"}}},
		{Op: Not, Sub: []*Expr{{Op: Pr, Attr: "mail"}}},
	}}
	if got, want := e.String(), `(objectClass eq "person" and sn eq "Jones") or not (mail pr)`; got != want {
		t.Errorf("String() = %s, want %s", got, want)
	}
}

func TestParse(t *testing.T) {
	good := []string{
		`username eq "x"`, `username EQ "x"`, `(a eq "1") AND (b sw "2")`, `a eq "1" or b eq "2" and c eq "3"`,
		`not (a pr)`, `not(a pr)`, `a eq "\u0041\/"`, `name.family ew "x"`, `a  eq  "x"`,
	}
	for _, s := range good {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
	bad := []string{
		``, `a`, `a eq`, `a eq x`, `a eq "x`, `a eq "x" b`, `a xx "x"`, `(a eq "x"`, `a eq "x")`,
		`a eq "\x"`, "a eq \"\n\"", `a eq "\u12"`, `and eq "x"`, `1a eq "x"`, `a;b eq "x"`,
		`not a pr`, `a eq "x" and`, strings.Repeat("(", 100) + `a pr` + strings.Repeat(")", 100),
		"a eq \"\xff\"",
	}
	for _, s := range bad {
		if e, err := Parse(s); !errors.Is(err, ErrSyntax) {
			t.Errorf("Parse(%q) = %v, %v; want a syntax error", s, e, err)
		}
	}
	// Precedence: and binds tighter than or.
	e, _ := Parse(`a eq "1" or b eq "2" and c eq "3"`)
	if e.Op != Or || len(e.Sub) != 2 || e.Sub[1].Op != And {
		t.Errorf("precedence: %v", e)
	}
}

func TestValidAttr(t *testing.T) {
	for _, a := range []string{"uid", "name.given", "urn:x:y", "a-b_c$", "population.id"} {
		if !ValidAttr(a) {
			t.Errorf("ValidAttr(%q) = false", a)
		}
	}
	for _, a := range []string{"", "1a", "a b", `a"`, "a(", "a)", "and", "OR", "Not", "cn;lang-en", strings.Repeat("a", 200)} {
		if ValidAttr(a) {
			t.Errorf("ValidAttr(%q) = true", a)
		}
	}
}
