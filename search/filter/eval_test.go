package filter

import (
	"testing"
)

var jdoe = Entry{
	"objectClass":     {"top", "person", "organizationalPerson", "inetOrgPerson"},
	"UID":             {"jdoe"},
	"mail":            {"John.Doe@Example.com"},
	"cn":              {"  John   Doe  "},
	"sn":              {"Doe"},
	"givenName":       {"John"},
	"telephoneNumber": {"+1 555-0100"},
	"title":           {"Engineer"},
	"entryUUID":       {"5C1A6A4E-0B9B-4F7B-9B2A-3C4D5E6F7A8B"},
	"description":     {"Ünïcödé ΣΊΣΥΦΟΣ"},
	"badutf8":         {"\xff\xfe"},
	"street;lang-fr":  {"Rue Haute"},
	"street":          {"High Street"},
}

func TestEvaluate(t *testing.T) {
	tests := []struct {
		filter string
		want   Result
	}{
		// Equality with caseIgnoreMatch and space folding.
		{"(uid=jdoe)", True},
		{"(uid=JDOE)", True},
		{"(userid=jdoe)", True},                    // alias
		{"(0.9.2342.19200300.100.1.1=jdoe)", True}, // OID
		{"(uid= jdoe )", True},                     // insignificant spaces
		{"(uid=jdo)", False},
		{"(cn=john doe)", True},
		{"(cn=John  Doe)", True},
		{"(cn=JohnDoe)", False},
		{"(mail=john.doe@example.COM)", True},
		{"(description=üNÏCÖDÉ σίσυφος)", True},
		// telephoneNumberMatch ignores spaces and hyphens.
		{"(telephoneNumber=+15550100)", True},
		{"(telephoneNumber=+1-555 01 00)", True},
		{"(telephoneNumber=+15550101)", False},
		{"(telephoneNumber=+1555*)", True},
		// UUID match ignores case.
		{"(entryUUID=5c1a6a4e-0b9b-4f7b-9b2a-3c4d5e6f7a8b)", True},
		{"(entryUUID>=5c1a6a4e-0b9b-4f7b-9b2a-3c4d5e6f7a8a)", True},
		{"(entryUUID<=5c1a6a4e-0b9b-4f7b-9b2a-3c4d5e6f7a8a)", False},
		{"(entryUUID=5c1a*)", Undefined}, // no substrings rule
		// objectClass.
		{"(objectClass=PERSON)", True},
		{"(objectClass=groupOfNames)", False},
		{"(objectClass=*)", True},
		{"(objectClass=pers*)", Undefined}, // no substrings rule
		// Attribute options: a subtype is seen by its base type.
		{"(street=rue haute)", True},
		{"(street=high street)", True},
		{"(street;lang-fr=rue haute)", True},
		{"(street;lang-fr=high street)", False},
		{"(street;lang-de=*)", False},
		// Presence.
		{"(mobile=*)", False},
		{"(title=*)", True},
		// Substrings.
		{"(uid=jd*)", True},
		{"(uid=*oe)", True},
		{"(uid=*do*)", True},
		{"(uid=j*d*e)", True},
		{"(uid=j*e*d)", False},
		{"(uid=jd*oe)", True},
		{"(uid=jdo*doe)", False}, // pieces may not overlap
		{"(cn=john d*)", True},
		{"(cn=* doe)", True},
		{"(cn=*n  d*)", True},
		{"(cn=JOHN*)", True},
		{"(sn=x*)", False},
		// Ordering: only where the attribute has an ordering rule.
		{"(description>=a)", True}, // default caseIgnore has one
		{"(description<=a)", False},
		{"(cn>=a)", Undefined}, // RFC 4519 name: no ORDERING
		// Approximate is equality.
		{"(uid~=JDOE)", True},
		{"(uid~=jdo)", False},
		// Extensible match.
		{"(cn:caseExactMatch:=John Doe)", True},
		{"(cn:caseExactMatch:=john doe)", False},
		{"(cn:2.5.13.2:=john doe)", True},
		{"(uid:=JDOE)", True},
		{"(:caseIgnoreMatch:=doe)", True},
		{"(:caseExactMatch:=nobody)", Undefined},  // badutf8 cannot be compared
		{"(cn:1.2.3.4:=x)", Undefined},            // unsupported rule
		{"(cn:dn:caseIgnoreMatch:=x)", Undefined}, // DN not available
		{"(cn:dn:caseIgnoreMatch:=john doe)", True},
		// Values that are not UTF-8.
		{`(badutf8=\ff\fe)`, Undefined},
		{`(uid=\ff)`, Undefined},
		// Boolean operators and absolute true/false (RFC 4526).
		{"(&)", True},
		{"(|)", False},
		{"(&(uid=jdoe)(sn=doe))", True},
		{"(&(uid=jdoe)(sn=x))", False},
		{"(|(uid=x)(sn=doe))", True},
		{"(!(uid=jdoe))", False},
		{"(!(uid=x))", True},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			f := mustDecode(t, tc.filter)
			if got := Evaluate(f, jdoe, nil); got != tc.want {
				t.Errorf("Evaluate = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestThreeValued covers RFC 4511 §4.5.1.7's truth tables with a schema that
// does not recognize unknown attributes (so they are Undefined).
func TestThreeValued(t *testing.T) {
	s := DefaultSchema()
	s.Default = nil
	const T, F, U = "(uid=jdoe)", "(uid=x)", "(nosuch=x)"
	tests := []struct {
		filter string
		want   Result
	}{
		{U, Undefined},
		{"(nosuch=*)", False}, // present on an unknown attribute
		{"(!" + U + ")", Undefined},
		{"(&" + T + U + ")", Undefined},
		{"(&" + F + U + ")", False},
		{"(&" + U + F + ")", False},
		{"(|" + T + U + ")", True},
		{"(|" + U + T + ")", True},
		{"(|" + F + U + ")", Undefined},
		{"(!(|" + F + U + "))", Undefined},
		{"(!(&" + F + U + "))", True},
		{"(&" + T + T + ")", True},
		{"(|" + F + F + ")", False},
	}
	for _, tc := range tests {
		t.Run(tc.filter, func(t *testing.T) {
			if got := Evaluate(mustDecode(t, tc.filter), jdoe, s); got != tc.want {
				t.Errorf("Evaluate = %v, want %v", got, tc.want)
			}
			if Matches(mustDecode(t, tc.filter), jdoe, s) != (tc.want == True) {
				t.Errorf("Matches disagrees with Evaluate")
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	ci := Rule{Kind: CaseIgnore}
	tests := []struct {
		in   string
		p    Position
		want string
	}{
		{"  A  B  ", Whole, "a b"},
		{"  A  B  ", InitialPiece, "a b "},
		{"  A  B  ", FinalPiece, " a b"},
		{"  A  B  ", AnyPiece, " a b "},
		{"a\tb\nc", Whole, "a b c"},
		{"   ", Whole, ""},
		{"   ", AnyPiece, " "},
		{"Kelvin \u212a", Whole, "kelvin k"},
		{"soft\u00adhyphen", Whole, "softhyphen"},
	}
	for _, tc := range tests {
		got, ok := ci.Normalize(tc.in, tc.p)
		if !ok || got != tc.want {
			t.Errorf("Normalize(%q, %d) = %q, %v; want %q", tc.in, tc.p, got, ok, tc.want)
		}
	}
}
