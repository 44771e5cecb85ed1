// Package simkit starts the backend simulators for tests outside their own
// packages: a simulator with its users, on a real loopback socket, closed
// when the test ends. (The simulators' own in-package tests cannot import
// it: that would be an import cycle.)
package simkit

import (
	"testing"

	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// Directory starts a PingDirectory simulator with users (DN to password)
// on 127.0.0.1 and returns it and its base URL.
func Directory(t testing.TB, cfg directorysim.Config, users map[string]string) (*directorysim.Server, string) {
	t.Helper()
	s := directorysim.New(cfg)
	for dn, pw := range users {
		if err := s.AddUser(dn, pw); err != nil {
			t.Fatalf("directory simulator: add %s: %v", dn, err)
		}
	}
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, u
}

// User is a PingOne simulator user.
type User struct{ Name, Email, Password string }

// PingOne starts a PingOne simulator with users on 127.0.0.1 and returns
// it, its base URL (for both the token and the API URLs) and the users'
// ids by name.
func PingOne(t testing.TB, cfg pingonesim.Config, users ...User) (*pingonesim.Server, string, map[string]string) {
	t.Helper()
	s := pingonesim.New(cfg)
	ids := make(map[string]string, len(users))
	for _, usr := range users {
		id, err := s.AddUser(usr.Name, usr.Email, usr.Password)
		if err != nil {
			t.Fatalf("PingOne simulator: add %s: %v", usr.Name, err)
		}
		ids[usr.Name] = id
	}
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, u, ids
}
