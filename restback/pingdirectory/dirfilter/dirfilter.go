// Package dirfilter translates an LDAP search filter into the filter of
// PingDirectory's Directory REST API subtree search, for what that filter
// can express; the rest is widened, never narrowed, and left to the bridge.
//
// Sources (Ping's published API reference; see docs/search-filters.md):
//
//   - "Search Using POST",
//     https://developer.pingidentity.com/pingdirectory/directory/subtree-apis/search-using-post.html:
//     POST /directory/v1/{dn}/subtree/search with a JSON body whose
//     "filter" is a string such as  objectClass eq "person" and sn eq "Jones"
//     (attribute, operator, double-quoted value; "and" between terms),
//     with "searchScope", "limit", "includeAttributes", "excludeAttributes".
//   - "Conventions", https://developer.pingidentity.com/pingdirectory/directory/conventions.html,
//     section "Filtering collections": the filter language of the API.
//     Only the section's title reached us through the search tool, not its
//     text; the operators used here are those of RFC 7644 §3.4.2.2 as
//     parsed by Ping's own SCIM 2 SDK (pingidentity/scim2,
//     scim2-sdk-common/.../utils/Parser.java): eq ne co sw ew pr gt ge lt
//     le, and, or, "not (...)", parentheses, keywords in any case, values
//     JSON literals (strings with JSON escapes), attribute tokens of
//     letters, digits and - _ . : $.
//
// The Directory REST API answers with the directory's own entries and
// matching rules, so a translated item is the LDAP item (Target.Exact)
// wherever the bridge's schema agrees with the directory's (the RFC 4519
// attributes of filter.DefaultSchema); attributes outside that table are
// matched by PingDirectory's schema. Extensible matches and attribute
// descriptions with options or numeric OIDs the schema does not know stay
// with the bridge. Password attributes are never sent in a filter.
package dirfilter

import (
	"github.com/ldapbridge/ldapbridge/search/filter"
	"github.com/ldapbridge/ldapbridge/search/pushdown"
)

// MaxFilterLen bounds the filter string sent in the request body; beyond
// it conjuncts are dropped (the bridge evaluates them).
const MaxFilterLen = 8192

// allOps are the comparisons the translators use; the Directory REST API
// has all of them on every attribute.
var allOps = []pushdown.Op{pushdown.Eq, pushdown.Sw, pushdown.Ew, pushdown.Co, pushdown.Ge, pushdown.Le, pushdown.Pr}

// Config returns the translation settings of the Directory REST API with
// schema s (filter.DefaultSchema if nil).
func Config(s *filter.Schema) *pushdown.Config {
	if s == nil {
		s = filter.DefaultSchema()
	}
	return &pushdown.Config{
		Schema:  s,
		Default: &pushdown.Target{Ops: allOps, Exact: true},
		Not:     true,
		Hidden:  filter.PasswordAttribute,
		MaxLen:  MaxFilterLen,
	}
}

// Translate returns the Directory REST API filter for f with the default
// schema. Result.Filter "" means no filter (every entry in scope);
// Result.None means the search can be answered with no entries without
// asking the directory.
func Translate(f *filter.Filter) pushdown.Result {
	return Config(nil).Translate(f)
}
