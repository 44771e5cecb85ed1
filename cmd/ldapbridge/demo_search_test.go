package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

var ldifDN = regexp.MustCompile(`(?m)^dn: (.*)$`)

// TestDemoSearchLdapsearch drives OpenLDAP's ldapsearch against the demo
// binary, as the service account cn=app (issue 11's "Done when" cases).
func TestDemoSearchLdapsearch(t *testing.T) {
	d := startDemo(t)
	app := []string{"-x", "-H", d.url(), "-D", demoAppDN, "-w", demoAppPW, "-LLL"}
	alice := "uid=alice,ou=people,dc=example,dc=com"
	bob := "uid=bob,ou=staff,dc=example,dc=com"
	for _, tc := range []struct {
		name    string
		args    []string
		code    int
		dns     []string // nil: any
		count   int      // -1: don't care
		has     []string
		hasNot  []string
		bindAs  []string // instead of app
		sortDNs bool
	}{
		{name: "uid", args: []string{"-b", demoPeopleBase, "(uid=alice)"}, dns: []string{alice}, count: 1},
		{name: "mail", args: []string{"-b", demoPeopleBase, "(mail=alice@example.com)", "mail"}, dns: []string{alice}, count: 1, has: []string{"mail: alice@example.com"}},
		{name: "person and uid", args: []string{"-b", demoStaff, "(&(objectClass=person)(uid=bob))"}, dns: []string{bob}, count: 1},
		{name: "both routes", args: []string{"-b", demoBase, "(|(uid=alice)(uid=bob))", "dn"}, dns: []string{alice, bob}, count: 2, sortDNs: true},
		{name: "prefix", args: []string{"-b", demoPeopleBase, "(uid=ali*)", "dn"}, dns: []string{alice}, count: 1},
		{name: "no match", args: []string{"-b", demoPeopleBase, "(uid=nobody)"}, count: 0},
		{name: "size limit", args: []string{"-b", demoPeopleBase, "-z", "1", "(objectClass=person)", "dn"}, code: 4, count: 1},
		{name: "paged people", args: []string{"-b", demoPeopleBase, "-E", "pr=1/noprompt", "(objectClass=person)", "dn"}, count: 5},
		{name: "paged staff", args: []string{"-b", demoStaff, "-E", "pr=2/noprompt", "(uid=*)", "dn"}, count: 5},
		{name: "no passwords", args: []string{"-b", demoBase, "(|(uid=bob)(uid=alice))", "*", "userPassword", "+"}, count: 2,
			hasNot: []string{"userPassword", "ds-pwp-", "pwd"}, has: []string{"sn: Builder", "sn: Liddell", "givenName: Bob", "cn: Alice Liddell"}},
		{name: "types only", args: []string{"-b", demoPeopleBase, "-A", "(uid=alice)", "mail"}, count: 1, has: []string{"mail:"}, hasNot: []string{"alice@example.com"}},
		{name: "1.1", args: []string{"-b", demoPeopleBase, "(uid=alice)", "1.1"}, count: 1, hasNot: []string{"mail:"}},
		{name: "route base", args: []string{"-b", demoPeopleBase, "-s", "base", "(objectClass=*)"}, dns: []string{demoPeopleBase}, count: 1, has: []string{"objectClass: organizationalUnit"}},
		{name: "outside the routes", args: []string{"-b", "dc=other,dc=org", "(uid=alice)"}, code: 32},
		{name: "anonymous", bindAs: []string{"-x", "-H", d.url(), "-LLL"}, args: []string{"-b", demoPeopleBase, "(uid=alice)"}, code: 50},
		{name: "own entry", bindAs: []string{"-x", "-H", d.url(), "-D", alice, "-w", demoAlicePW, "-LLL"},
			args: []string{"-b", alice, "-s", "base", "(objectClass=*)"}, dns: []string{alice}, count: 1},
		{name: "a user may not search", bindAs: []string{"-x", "-H", d.url(), "-D", bob, "-w", demoBobPW, "-LLL"},
			args: []string{"-b", demoPeopleBase, "(uid=alice)"}, code: 50},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := app
			if tc.bindAs != nil {
				args = tc.bindAs
			}
			out, errOut, code := tool(t, nil, "ldapsearch", append(slices.Clone(args), tc.args...)...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d\n%s%s", code, tc.code, out, errOut)
			}
			var dns []string
			for _, m := range ldifDN.FindAllStringSubmatch(out, -1) {
				dns = append(dns, m[1])
			}
			if tc.sortDNs {
				slices.Sort(dns)
			}
			if tc.dns != nil && !slices.Equal(dns, tc.dns) {
				t.Fatalf("entries %q, want %q\n%s", dns, tc.dns, out)
			}
			if tc.code == 0 || tc.code == 4 {
				if len(dns) != tc.count {
					t.Fatalf("%d entries, want %d\n%s", len(dns), tc.count, out)
				}
			}
			for _, h := range tc.has {
				if !strings.Contains(out, h) {
					t.Errorf("output lacks %q\n%s", h, out)
				}
			}
			for _, h := range tc.hasNot {
				if strings.Contains(out, h) {
					t.Errorf("output has %q\n%s", h, out)
				}
			}
		})
	}
}

// TestDemoSearchThenBindGoLDAP is the search-then-bind flow of most
// applications, with go-ldap: bind as the service account, find the user,
// bind as the DN found.
func TestDemoSearchThenBindGoLDAP(t *testing.T) {
	d := startDemo(t)
	for _, tc := range []struct {
		filter, password string
		base             string
		code             uint16 // of the user's bind; 0 success
		found            bool
	}{
		{"(uid=alice)", demoAlicePW, demoPeopleBase, 0, true},
		{"(mail=bob@example.com)", demoBobPW, demoBase, 0, true},
		{"(uid=alice)", "wrong", demoPeopleBase, ldap.LDAPResultInvalidCredentials, true},
		{"(uid=grace)", demoOtherPW, demoBase, 0, true},
		{"(uid=nobody)", "x", demoBase, 0, false},
	} {
		t.Run(tc.filter+"/"+tc.password, func(t *testing.T) {
			c := dial(t, d)
			if err := c.Bind(demoAppDN, demoAppPW); err != nil {
				t.Fatal(err)
			}
			res, err := c.Search(ldap.NewSearchRequest(tc.base, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 2, 10, false,
				"(&(objectClass=person)"+tc.filter+")", []string{"dn", "cn"}, nil))
			if err != nil {
				t.Fatal(err)
			}
			if !tc.found {
				if len(res.Entries) != 0 {
					t.Fatalf("found %v", res.Entries)
				}
				return
			}
			if len(res.Entries) != 1 {
				t.Fatalf("%d entries", len(res.Entries))
			}
			err = c.Bind(res.Entries[0].DN, tc.password)
			if code := ldapCodeOf(err); code != tc.code {
				t.Fatalf("bind as %s: %v, want code %d", res.Entries[0].DN, err, tc.code)
			}
			if tc.code == 0 {
				// Applications read the entry right after the bind.
				r, err := c.Search(ldap.NewSearchRequest(res.Entries[0].DN, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
					"(objectClass=*)", []string{"mail"}, nil))
				if err != nil || len(r.Entries) != 1 || r.Entries[0].GetAttributeValue("mail") == "" {
					t.Fatalf("own entry: %v %v", err, r)
				}
			}
		})
	}
	// Paged with go-ldap's SearchWithPaging: every PingOne user.
	c := dial(t, d)
	if err := c.Bind(demoAppDN, demoAppPW); err != nil {
		t.Fatal(err)
	}
	res, err := c.SearchWithPaging(ldap.NewSearchRequest(demoPeopleBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
		"(uid=*)", []string{"uid"}, nil), 2)
	if err != nil || len(res.Entries) != 5 {
		t.Fatalf("paged: %v, %d entries", err, len(res.Entries))
	}
	// The service account may change no password.
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest("uid=alice,"+demoPeopleBase, "", "X-Passw0rd!1")); ldapCodeOf(err) != ldap.LDAPResultInsufficientAccessRights {
		t.Fatalf("service account reset: %v", err)
	}
}

func ldapCodeOf(err error) uint16 {
	if err == nil {
		return 0
	}
	var le *ldap.Error
	if e, ok := err.(*ldap.Error); ok {
		le = e
		return le.ResultCode
	}
	return 0xffff
}

// TestDemoSearchThenBindLDAP3 is the same flow with Python's ldap3.
func TestDemoSearchThenBindLDAP3(t *testing.T) {
	compatLDAP3Check(t)
	d := startDemo(t)
	for _, tc := range []struct {
		filter, password, want string
	}{
		{"(uid=alice)", demoAlicePW, "found=uid=alice,ou=people,dc=example,dc=com bind=0"},
		{"(uid=alice)", "wrong", "found=uid=alice,ou=people,dc=example,dc=com bind=49"},
		{"(mail=bob@example.com)", demoBobPW, "found=uid=bob,ou=staff,dc=example,dc=com bind=0"},
		{"(uid=nobody)", "x", "found=- bind=-"},
	} {
		t.Run(tc.filter+"/"+tc.password, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, compatPython, "testdata/searchbind_ldap3.py", d.url(), demoAppDN, demoAppPW, demoBase, tc.filter, tc.password)
			cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1")
			var o, e bytes.Buffer
			cmd.Stdout, cmd.Stderr = &o, &e
			if err := cmd.Run(); err != nil {
				t.Fatalf("%v\n%s%s", err, o.String(), e.String())
			}
			if got := strings.TrimSpace(o.String()); got != tc.want {
				t.Fatalf("got %q, want %q\n%s", got, tc.want, e.String())
			}
		})
	}
}
