package simenv

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/ldapbridge/ldapbridge/bench/users"
)

// PolicyDN is the slapd ppolicy default policy entry of WriteLDIF.
const PolicyDN = "cn=default,ou=policies," + users.PingDirectoryBase

// WriteLDIF writes the benchmark's PingDirectory users as an LDIF for
// slapadd, for running the same load against OpenLDAP: the base entries,
// a password policy like the simulator's (at least 8 characters, quality
// checked; no history, minimum age or lockout) and n users with their first
// password, {SSHA}-hashed as slapd's default password-hash.
func WriteLDIF(w io.Writer, n int) error {
	if n < 1 || n > maxUsers {
		return fmt.Errorf("simenv: users must be 1 to %d, not %d", maxUsers, n)
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, `dn: %[1]s
objectClass: top
objectClass: dcObject
objectClass: organization
dc: example
o: ldapbench

dn: ou=staff,%[1]s
objectClass: organizationalUnit
ou: staff

dn: ou=policies,%[1]s
objectClass: organizationalUnit
ou: policies

dn: %[2]s
objectClass: top
objectClass: device
objectClass: pwdPolicy
cn: default
pwdAttribute: userPassword
pwdMinLength: 8
pwdCheckQuality: 1
pwdInHistory: 0
pwdMinAge: 0
pwdMaxAge: 0
pwdLockout: FALSE
pwdMaxFailure: 0
pwdAllowUserChange: TRUE
pwdMustChange: FALSE
pwdSafeModify: FALSE

`, users.PingDirectoryBase, PolicyDN)
	for i := 0; i < n; i++ {
		h, err := ssha(users.Password(i, 0))
		if err != nil {
			return err
		}
		uid := fmt.Sprintf("pd%d", i)
		fmt.Fprintf(bw, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n\n",
			users.DN(users.PingDirectoryDN, i), uid, uid, uid, h)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("simenv: write LDIF: %w", err)
	}
	return nil
}

// ssha is slapd's {SSHA}: base64(SHA-1(password + salt) + salt).
func ssha(password string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("simenv: salt: %w", err)
	}
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...)), nil
}
