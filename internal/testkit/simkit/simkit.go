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
	s := NewDirectory(t, cfg, users)
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return s, u
}

// NewDirectory is a PingDirectory simulator with users, not started, for
// a test that serves it itself (behind a fault injector, say). It is
// closed when the test ends.
func NewDirectory(t testing.TB, cfg directorysim.Config, users map[string]string) *directorysim.Server {
	t.Helper()
	s := directorysim.New(cfg)
	t.Cleanup(func() { s.Close() })
	for dn, pw := range users {
		if err := s.AddUser(dn, pw); err != nil {
			t.Fatalf("directory simulator: add %s: %v", dn, err)
		}
	}
	return s
}

// User is a PingOne simulator user.
type User struct{ Name, Email, Password string }

// PingOne starts a PingOne simulator with users on 127.0.0.1 and returns
// it, its base URL (for both the token and the API URLs) and the users'
// ids by name.
func PingOne(t testing.TB, cfg pingonesim.Config, users ...User) (*pingonesim.Server, string, map[string]string) {
	t.Helper()
	s, ids := NewPingOne(t, cfg, users...)
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return s, u, ids
}

// NewPingOne is a PingOne simulator with users, not started, and the
// users' ids by name. It is closed when the test ends.
func NewPingOne(t testing.TB, cfg pingonesim.Config, users ...User) (*pingonesim.Server, map[string]string) {
	t.Helper()
	s := pingonesim.New(cfg)
	t.Cleanup(func() { s.Close() })
	ids := make(map[string]string, len(users))
	for _, usr := range users {
		id, err := s.AddUser(usr.Name, usr.Email, usr.Password)
		if err != nil {
			t.Fatalf("PingOne simulator: add %s: %v", usr.Name, err)
		}
		ids[usr.Name] = id
	}
	return s, ids
}
