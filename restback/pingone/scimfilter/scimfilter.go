// Package scimfilter translates an LDAP search filter into the SCIM filter
// of PingOne's users list (GET /environments/{envID}/users?filter=...),
// for what PingOne supports; the rest is widened, never narrowed, and left
// to the bridge. It holds the default LDAP↔PingOne attribute map of
// issue 11, as data that a route may override.
//
// Sources (Ping's published reference; see docs/search-filters.md):
//
//   - "Read User or Users" (Read All Users),
//     https://developer.pingidentity.com/pingone-api/platform/users/users-1/read-all-users.html:
//     GET {{apiPath}}/environments/{{envID}}/users, "limit" and a SCIM
//     "filter" query parameter, example  username eq "wingar_helena".
//     Its table of filterable attributes: accountId, address.*, email
//     (eq, sw, ew), enabled, externalId, locale, mobilePhone (eq, sw), ...;
//     also memberOfGroups[id eq "..."] and population.id.
//   - "SCIM filter language", PingOne docs,
//     https://docs.pingidentity.com/pingone/directory/p1_scim_filter_language.html:
//     terms joined with "and" and "or" and grouped with parentheses,
//     (name.family eq "Smith") and (name.given sw "W"); sw on accountId,
//     address.*, email, enabled, externalId, locale, mobilePhone,
//     name.formatted, name.given, name.middle, name.family,
//     name.honorific*, nickname, photo.href, preferredLanguage,
//     primaryPhone, timezone, title, type, username; ew on email,
//     name.family, name.given; co is listed but its attributes did not
//     reach us, so co is not used. No "not" and no "pr" is documented for
//     users, so neither is used.
//   - "Paging, ordering, and filtering collections",
//     https://developer.pingidentity.com/pingone-api/platform/reference/paging-ordering-filtering-collections.html:
//     cursor paging with "limit"; the users page size may be below the
//     limit asked (at most 200).
//   - terraform-provider-pingone docs/data-sources/users.md (Ping's own
//     provider): the same filterable attribute list, id not among them.
//
// Values are SCIM compValues, i.e. JSON strings (RFC 7644 §3.4.2.2), so
// they are quoted with JSON escapes (pushdown.Quote). PingOne is taken to
// compare the string attributes used here without regard to case
// (RFC 7643 caseExact=false for userName, emails, name.*, title), as the
// simulator does; it does not remove insignificant spaces, so values go
// with them removed (Target.FoldSpaces) and PingOne's values are taken to
// carry none; the bridge re-evaluates every PingOne candidate (no target is
// Exact). Telephone numbers (spaces and hyphens ignored in LDAP) and
// entryUUID↔id (not filterable) stay with the bridge.
package scimfilter

import (
	"fmt"

	"github.com/ldapbridge/ldapbridge/search/filter"
	"github.com/ldapbridge/ldapbridge/search/pushdown"
)

// MaxFilterLen bounds the filter sent in the URL query (the simulator
// refuses filters over 4096 bytes); beyond it conjuncts are dropped.
const MaxFilterLen = 2048

// MaxValueLen bounds one value sent; an item with a longer one is left to
// the bridge.
const MaxValueLen = 256

// Mapping is one LDAP attribute's PingOne counterpart.
type Mapping struct {
	// LDAP is the LDAP attribute name (any case).
	LDAP string
	// PingOne is the PingOne user attribute path.
	PingOne string
	// Ops are the SCIM operators PingOne supports on it in the users
	// filter (per the pages above); none: not filterable.
	Ops []pushdown.Op
}

// DefaultMappings is issue 11's attribute map. telephoneNumber, mobile and
// entryUUID are mapped (for the entries the bridge builds) but filtering on
// them is the bridge's: LDAP ignores spaces and hyphens in phone numbers,
// and id is not a documented filter attribute.
func DefaultMappings() []Mapping {
	eqSw := []pushdown.Op{pushdown.Eq, pushdown.Sw}
	eqSwEw := []pushdown.Op{pushdown.Eq, pushdown.Sw, pushdown.Ew}
	return []Mapping{
		{LDAP: "uid", PingOne: "username", Ops: eqSw},
		{LDAP: "mail", PingOne: "email", Ops: eqSwEw},
		{LDAP: "givenName", PingOne: "name.given", Ops: eqSwEw},
		{LDAP: "sn", PingOne: "name.family", Ops: eqSwEw},
		{LDAP: "cn", PingOne: "name.formatted", Ops: eqSw},
		{LDAP: "title", PingOne: "title", Ops: eqSw},
		{LDAP: "telephoneNumber", PingOne: "primaryPhone"},
		{LDAP: "mobile", PingOne: "mobilePhone"},
		{LDAP: "entryUUID", PingOne: "id"},
	}
}

// ObjectClasses are the object classes the bridge gives every PingOne user.
var ObjectClasses = []string{"top", "person", "organizationalPerson", "inetOrgPerson"}

// Config returns the translation settings for PingOne users with the
// given mappings (DefaultMappings if nil) and schema (filter.DefaultSchema
// if nil). It refuses a mapping whose PingOne attribute could not be
// written in a filter safely, or an LDAP attribute mapped twice.
func Config(ms []Mapping, s *filter.Schema) (*pushdown.Config, error) {
	if ms == nil {
		ms = DefaultMappings()
	}
	if s == nil {
		s = filter.DefaultSchema()
	}
	c := &pushdown.Config{
		Schema:      s,
		Targets:     make(map[string]pushdown.Target, len(ms)),
		Hidden:      filter.PasswordAttribute,
		Constants:   filter.Entry{"objectclass": ObjectClasses},
		MaxValueLen: MaxValueLen,
		MaxLen:      MaxFilterLen,
	}
	for _, m := range ms {
		name, _, ok := s.Canonical(m.LDAP)
		if !ok {
			return nil, fmt.Errorf("PingOne attribute map: %q is not an LDAP attribute name", m.LDAP)
		}
		if !pushdown.ValidAttr(m.PingOne) {
			return nil, fmt.Errorf("PingOne attribute map: %q is not a PingOne attribute path", m.PingOne)
		}
		if _, dup := c.Targets[name]; dup {
			return nil, fmt.Errorf("PingOne attribute map: %s is mapped twice", m.LDAP)
		}
		for _, op := range m.Ops {
			switch op {
			case pushdown.Eq, pushdown.Sw, pushdown.Ew, pushdown.Co, pushdown.Ge, pushdown.Le, pushdown.Pr:
			default:
				return nil, fmt.Errorf("PingOne attribute map: %s: operator %q is not a comparison", m.LDAP, op)
			}
		}
		c.Targets[name] = pushdown.Target{Attr: m.PingOne, Ops: m.Ops, FoldSpaces: true}
	}
	return c, nil
}

// Translate returns the PingOne users filter for f with the default map.
// Result.Filter "" means no filter (every user); Result.None means no user
// can match (no request needed).
func Translate(f *filter.Filter) pushdown.Result {
	c, err := Config(nil, nil)
	if err != nil {
		// DefaultMappings is valid (tested); should it not be, ask for
		// every user and let the bridge filter.
		return pushdown.Result{Untranslated: []*filter.Filter{f}}
	}
	return c.Translate(f)
}

// PingOneName returns the PingOne attribute mapped to the LDAP attribute
// name (any case, aliases resolved) in ms, for building entries.
func PingOneName(ms []Mapping, ldapName string, s *filter.Schema) (string, bool) {
	if s == nil {
		s = filter.DefaultSchema()
	}
	want, _, _ := s.Canonical(ldapName)
	for _, m := range ms {
		if n, _, _ := s.Canonical(m.LDAP); n == want {
			return m.PingOne, true
		}
	}
	return "", false
}
