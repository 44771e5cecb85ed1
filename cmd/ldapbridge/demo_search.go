package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// The demo's search-then-bind additions (issue 11): a local service
// account that may search both routes, and users with mail, cn,
// givenName and sn on both, at least five per route. Additions only: the
// names above in demo.go keep their meaning.
const (
	demoAppDN   = "cn=app,ou=services,dc=example,dc=com"
	demoAppPW   = "App-Passw0rd!"
	demoStaff   = "ou=staff,dc=example,dc=com"
	demoOtherPW = "Demo-Passw0rd!" // the password of the extra users
	// demoServiceDN is the PingDirectory account the bridge searches
	// with for its own accounts (service_dn); its password is random.
	demoServiceDN = "cn=ldapbridge,ou=services,dc=example,dc=com"
)

// demoPerson is one demo user: uid, given name and family name.
type demoPerson struct{ uid, given, family string }

// The users of each route; alice and bob are the published ones.
var (
	demoPingDirectoryPeople = []demoPerson{
		{"bob", "Bob", "Builder"}, {"carol", "Carol", "Danvers"}, {"dave", "Dave", "Bowman"},
		{"erin", "Erin", "Brockovich"}, {"frank", "Frank", "Poole"},
	}
	demoPingOnePeople = []demoPerson{
		{"alice", "Alice", "Liddell"}, {"grace", "Grace", "Hopper"}, {"heidi", "Heidi", "Lamarr"},
		{"ivan", "Ivan", "Sutherland"}, {"judy", "Judy", "Hopps"},
	}
)

func (p demoPerson) mail() string { return p.uid + "@example.com" }
func (p demoPerson) cn() string   { return p.given + " " + p.family }

// demoServicePassword is a random password for demoServiceDN.
func demoServicePassword() string {
	b := make([]byte, 18)
	_, _ = rand.Read(b)
	return "Svc-" + hex.EncodeToString(b) + "9"
}

// demoDirectoryUsers adds the PingDirectory users (bob and admin are
// added by the caller) and the attributes of all of them.
func demoDirectoryUsers(pd *directorysim.Server, servicePW string) error {
	if err := pd.AddUser(demoServiceDN, servicePW); err != nil {
		return err
	}
	for _, p := range demoPingDirectoryPeople {
		dn := "uid=" + p.uid + "," + demoStaff
		if p.uid != "bob" {
			if err := pd.AddUser(dn, demoOtherPW); err != nil {
				return err
			}
		}
		if err := pd.SetAttributes(dn, map[string][]string{
			"mail": {p.mail()}, "cn": {p.cn()}, "givenName": {p.given}, "sn": {p.family},
		}); err != nil {
			return err
		}
	}
	return pd.SetAttributes(demoAdminDN, map[string][]string{"mail": {"admin@example.com"}, "sn": {"Admin"}, "givenName": {"Directory"}})
}

// demoPingOneUsers adds the PingOne users and their names.
func demoPingOneUsers(p1 *pingonesim.Server) error {
	for _, p := range demoPingOnePeople {
		pw := demoOtherPW
		if p.uid == "alice" {
			pw = demoAlicePW
		}
		id, err := p1.AddUser(p.uid, p.mail(), pw)
		if err != nil {
			return err
		}
		if err := p1.SetProfile(id, map[string]string{"name.given": p.given, "name.family": p.family, "name.formatted": p.cn()}); err != nil {
			return err
		}
	}
	return nil
}

// demoSearchBanner is the banner's search-then-bind example.
func demoSearchBanner(ldapAddr string) string {
	var others []string
	for _, p := range demoPingDirectoryPeople[1:] {
		others = append(others, p.uid)
	}
	for _, p := range demoPingOnePeople[1:] {
		others = append(others, p.uid)
	}
	return fmt.Sprintf(`
Search, then bind (as Apache mod_authnz_ldap, Jenkins or SSSD do), as the
service account %s / %s (it may search both routes, and change no password):
  ldapsearch -x -H ldap://%s -D %s -w '%s' -b %s '(uid=alice)' mail cn
  ldapwhoami -x -H ldap://%s -D %s -w '%s'
  ldapsearch -x -H ldap://%s -D %s -w '%s' -b %s '(|(uid=alice)(uid=bob))' -E pr=2/noprompt
  more users, password '%s': %s
`, demoAppDN, demoAppPW,
		ldapAddr, demoAppDN, demoAppPW, demoPeopleBase,
		ldapAddr, demoAliceDN, demoAlicePW,
		ldapAddr, demoAppDN, demoAppPW, demoBase,
		demoOtherPW, strings.Join(others, ", "))
}
