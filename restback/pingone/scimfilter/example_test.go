package scimfilter_test

import (
	"fmt"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/restback/pingone/scimfilter"
	"github.com/ldapbridge/ldapbridge/search/filter"
)

// The wiring: decode the SearchRequest's filter, translate it once per
// route, send Filter (or nothing, or skip the call), and evaluate the LDAP
// filter on each user unless Exact.
func Example() {
	ber, _ := ldap.CompileFilter("(&(objectClass=person)(|(uid=alice)(mail=bob@example.com)))")
	f, err := filter.Decode(ber.Bytes())
	if err != nil {
		return // protocolError
	}
	cfg, _ := scimfilter.Config(nil, nil) // the route's map; nil: the default
	r := cfg.Translate(f)
	fmt.Println(r.Filter)
	fmt.Println("none:", r.None, "exact:", r.Exact)

	alice := filter.Entry{"uid": {"alice"}, "mail": {"alice@example.com"}, "objectClass": scimfilter.ObjectClasses}
	fmt.Println("alice:", filter.Matches(f, alice, nil))
	// Output:
	// username eq "alice" or email eq "bob@example.com"
	// none: false exact: false
	// alice: true
}
