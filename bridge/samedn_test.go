package bridge

import (
	"strings"
	"testing"
)

// SameDN compares RDN by RDN without building identityKey's strings; it
// must agree with comparing the keys, the rule's definition.
func TestSameDNAgreesWithIdentityKey(t *testing.T) {
	dns := []string{
		"uid=alice,ou=people,dc=example,dc=com",
		"UID=Alice,OU=People,DC=Example,DC=Com",
		"uid=alice,ou=people,dc=example,dc=org",
		"uid=alicE,ou=people,dc=example,dc=com",
		"uid=ſlice,ou=people,dc=example,dc=com",
		"uid=alice+cn=a,ou=people,dc=example,dc=com",
		"cn=A+UID=ALICE,ou=people,dc=example,dc=com",
		"cn=a+uid=bob,ou=people,dc=example,dc=com",
		"uid=alice\\,x,ou=people",
		"uid=alice,x=,ou=people",
		"cn=\\4Belvin,dc=x",
		"cn=kelvin,dc=x",
		"cn=Kelvin,dc=x",
		"uid=a,dc=x",
		"uid=a",
	}
	for _, a := range dns {
		for _, b := range dns {
			da, err1 := ParseDN(a)
			db, err2 := ParseDN(b)
			if err1 != nil || err2 != nil {
				t.Fatalf("parse %q %q: %v %v", a, b, err1, err2)
			}
			want := len(da.RDNs) == len(db.RDNs) && identityKey(da) == identityKey(db)
			if got := SameDN(da, db); got != want {
				t.Errorf("SameDN(%q, %q) = %v, identity keys say %v", a, b, got, want)
			}
		}
	}
}

func TestEscapeDNValueFastPath(t *testing.T) {
	for _, v := range []string{"alice", "", "a b", " a", "a ", "#a", "a#", "a,b", "a+b", "a\x00", "é", `a\b`, "a=b", "a;b", "<a>", `"a"`} {
		var b strings.Builder
		for i := 0; i < len(v); i++ {
			c := v[i]
			switch {
			case c == 0:
				b.WriteString(`\00`)
				continue
			case strings.IndexByte(`,+"\<>;=`, c) >= 0, i == 0 && (c == ' ' || c == '#'), i == len(v)-1 && c == ' ':
				b.WriteByte('\\')
			}
			b.WriteByte(c)
		}
		if got := EscapeDNValue(v); got != b.String() {
			t.Errorf("EscapeDNValue(%q) = %q, want %q", v, got, b.String())
		}
	}
}
