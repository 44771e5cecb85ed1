package bridge

import (
	"sort"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// The identity rule. A user is who the backend says, not how the client
// spells the DN: each route names a user by one canonical DN (PingOne:
// built from the user PingOne returns; PingDirectory: the entry DN the
// server returns for the authenticated user), and the session, WhoAmI,
// the verified-bind cache, the failed-bind throttle, the admin check, the
// must-change restriction and audit all use that name.
//
// Two DNs name the same identity when SameDN says so: RFC 4517
// distinguishedNameMatch with the one folding every directory shares.
// Attribute types compare case-insensitively (they are ASCII); values
// compare exactly after ASCII case folding, and nothing else: no Unicode
// case folding, which a backend may not share ('ſ' (U+017F) is not 's',
// the Kelvin sign is not 'k'). A spelling the backends would see as the
// same user but SameDN does not (a non-ASCII case variant) is refused, or
// treated as another name; never the other way round.

// Namer is implemented by a backend that can tell from the spelling alone
// whether a DN can be the canonical name of one of its users (PingOne),
// so that the core refuses every other spelling without a backend call,
// and counts and caches under the canonical form from the start.
type Namer interface {
	// CanonicalDN returns the canonical form the DN would have if it
	// names a user of the route (ok), or false when this spelling can
	// name no user of the route, whoever exists. The backend confirms
	// the name with the user it finds (Outcome.Subject).
	CanonicalDN(dn *ldap.DN, route RouteOptions) (canonical string, ok bool)
}

// SameDN reports whether a and b name the same identity (see the rule
// above). Either nil or empty: false.
func SameDN(a, b *ldap.DN) bool {
	if a == nil || b == nil || len(a.RDNs) == 0 || len(a.RDNs) != len(b.RDNs) {
		return false
	}
	for i, ra := range a.RDNs {
		if !sameRDN(ra, b.RDNs[i]) {
			return false
		}
	}
	return true
}

// sameRDN compares two RDNs as identityKey would, without building the
// keys for the usual single-valued RDN (SameDN runs on every bind).
func sameRDN(x, y *ldap.RelativeDN) bool {
	if len(x.Attributes) != len(y.Attributes) {
		return false
	}
	if len(x.Attributes) == 1 {
		p, q := x.Attributes[0], y.Attributes[0]
		return asciiEqualFold(p.Type, q.Type) && asciiEqualFold(p.Value, q.Value)
	}
	return identityKey(&ldap.DN{RDNs: []*ldap.RelativeDN{x}}) == identityKey(&ldap.DN{RDNs: []*ldap.RelativeDN{y}})
}

// asciiEqualFold is asciiLower(a) == asciiLower(b), without allocating.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		c, d := a[i], b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if 'A' <= d && d <= 'Z' {
			d += 'a' - 'A'
		}
		if c != d {
			return false
		}
	}
	return true
}

// SameValue compares two attribute values under the identity rule: exact
// after ASCII case folding.
func SameValue(a, b string) bool { return asciiEqualFold(a, b) }

// identityKey is the form of dn under which SameDN compares: types and
// values ASCII lower-cased (dnKey with asciiLower).
func identityKey(dn *ldap.DN) string { return dnKey(dn, asciiLower) }

// dnKey writes dn with each attribute type and value passed through fold,
// the attributes of a multi-valued RDN sorted, and each value
// length-prefixed so that no value can imitate a separator. The identity
// rule and the bind cache's invalidation differ only in their fold.
func dnKey(dn *ldap.DN, fold func(string) string) string {
	var b strings.Builder
	b.Grow(64)
	var parts []string
	for i, rdn := range dn.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		parts = parts[:0]
		for _, a := range rdn.Attributes {
			var p strings.Builder
			v := fold(a.Value)
			p.WriteString(fold(a.Type))
			p.WriteByte('=')
			p.WriteString(strconv.Itoa(len(v)))
			p.WriteByte(':')
			p.WriteString(v)
			parts = append(parts, p.String())
		}
		sort.Strings(parts)
		b.WriteString(strings.Join(parts, "+"))
	}
	return b.String()
}

// IdentityKey is the string under which the edges may count or index an
// identity (the failed-bind throttle): equal exactly when SameDN says so.
// "" for a DN that does not parse or is empty.
func IdentityKey(dn string) string {
	d, err := ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 {
		return ""
	}
	return identityKey(d)
}

func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; 'A' <= c && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// EscapeDNValue escapes an attribute value for a DN string (RFC 4514
// §2.4): the special characters, a leading space or '#', a trailing space
// and NUL; other characters, UTF-8 included, are written as they are.
func EscapeDNValue(v string) string {
	if !needsDNEscape(v) {
		return v
	}
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == 0:
			b.WriteString(`\00`)
			continue
		case c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			b.WriteByte('\\')
		case i == 0 && (c == ' ' || c == '#'):
			b.WriteByte('\\')
		case i == len(v)-1 && c == ' ':
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	return b.String()
}

// needsDNEscape reports whether EscapeDNValue would change v.
func needsDNEscape(v string) bool {
	for i := 0; i < len(v); i++ {
		switch c := v[i]; {
		case c == 0, c == ',' || c == '+' || c == '"' || c == '\\' || c == '<' || c == '>' || c == ';' || c == '=':
			return true
		case i == 0 && (c == ' ' || c == '#'), i == len(v)-1 && c == ' ':
			return true
		}
	}
	return false
}
