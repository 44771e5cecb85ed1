package dirfilter_test

import (
	"fmt"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/restback/pingdirectory/dirfilter"
	"github.com/ldapbridge/ldapbridge/search/filter"
)

func Example() {
	// The value of mail is x")or(uid=*), escaped per RFC 4515.
	ber, _ := ldap.CompileFilter(`(&(objectClass=person)(cn=Jo*)(!(mail=x\22\29or\28uid=\2a\29)))`)
	f, err := filter.Decode(ber.Bytes())
	if err != nil {
		return // protocolError
	}
	r := dirfilter.Translate(f)
	fmt.Println(r.Filter)
	fmt.Println("none:", r.None, "exact:", r.Exact)
	// Output:
	// objectclass eq "person" and cn sw "Jo" and not (mail eq "x\")or(uid=*)")
	// none: false exact: false
}
