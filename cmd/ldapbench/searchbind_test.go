package main

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/bench/simenv"
	"github.com/ldapbridge/ldapbridge/bench/users"
	"github.com/ldapbridge/ldapbridge/restback/pingone"
)

// TestSearchBindAgainstBridge runs searchbind logins against the real
// bridge and simulators and checks issue 11's cost target: in steady
// state (after the warm-up has used every user once) a login costs at
// most two backend requests on both backends (PingDirectory: the subtree
// search and /me; PingOne: the users search and the password check, the
// search having filled the DN-to-user cache), and every login succeeds.
// A count, not a timing.
func TestSearchBindAgainstBridge(t *testing.T) {
	s := startStack(t, 32)
	pid := strconv.Itoa(os.Getpid())
	for _, tc := range []struct {
		name, dn string
		extra    []string
	}{
		{"pingdirectory", users.PingDirectoryDN, nil},
		{"pingone", users.PingOneDN, nil},
		{"pingdirectory rebind mail", users.PingDirectoryDN, []string{"-rebind", "-search-attrs", "mail"}},
		{"pingone rebind mail", users.PingOneDN, []string{"-rebind", "-search-attrs", "mail"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"-url", s.url, "-mode", "searchbind", "-c", "4", "-d", "600ms", "-warmup", "200ms",
				"-users", "32", "-dn", tc.dn, "-pid", pid, "-sim", s.env.PDURL}, tc.extra...)
			rep := runTool(t, args...)
			if rep.Ops == 0 || len(rep.Errors) != 0 || len(rep.SetupErrors) != 0 || len(rep.Notes) != 0 {
				t.Fatalf("%d logins, errors %v setup %v samples %v notes %v", rep.Ops, rep.Errors, rep.SetupErrors, rep.ErrorSamples, rep.Notes)
			}
			if rep.Backend == nil || rep.Server == nil || rep.SearchBind == nil {
				t.Fatalf("figures missing: backend %+v server %+v searchbind %+v", rep.Backend, rep.Server, rep.SearchBind)
			}
			t.Logf("%d logins, %d backend requests = %.3f per login", rep.Ops, rep.Backend.Requests, rep.Backend.RequestsPerOp)
			// At least the search reaches the backend; at most the
			// search and the bind.
			if rpl := rep.Backend.RequestsPerOp; rpl < 1 || rpl > 2.0 {
				t.Errorf("%.3f backend requests per login (%d requests, %d logins), want at most 2", rpl, rep.Backend.Requests, rep.Ops)
			}
			if sb := rep.SearchBind; sb.Search.Count != rep.Ops || sb.Bind.Count != rep.Ops || sb.SearchBase != users.DN(tc.dn, 0)[strings.Index(users.DN(tc.dn, 0), ",")+1:] {
				t.Errorf("phases %+v for %d logins", sb, rep.Ops)
			}
		})
	}
}

// A wrong password fails the login's bind (invalidCredentials); a user
// the search does not find is a login error of its own; neither drops
// the connections.
func TestSearchBindFailures(t *testing.T) {
	s := startStack(t, 8)
	rep := runTool(t, "-url", s.url, "-mode", "searchbind", "-c", "2", "-d", "300ms", "-warmup", "0", "-warmup-max", "0", "-users", "8",
		"-dn", users.PingOneDN, "-password", "Not-the-passw0rd!")
	if rep.Ops != 0 || rep.Errors["invalidCredentials"] == 0 || len(rep.Errors) != 1 || len(rep.SetupErrors) != 0 {
		t.Fatalf("wrong password: ops %d errors %v setup %v %v", rep.Ops, rep.Errors, rep.SetupErrors, rep.ErrorSamples)
	}
	rep = runTool(t, "-url", s.url, "-mode", "searchbind", "-c", "2", "-d", "300ms", "-warmup", "0", "-warmup-max", "0", "-users", "8",
		"-dn", "uid=nobody%d,"+users.PingDirectoryBase, "-search-base", users.PingDirectoryBase)
	if rep.Ops != 0 || rep.Errors["no_entry"] == 0 || len(rep.SetupErrors) != 0 {
		t.Fatalf("unknown user: ops %d errors %v setup %v %v", rep.Ops, rep.Errors, rep.SetupErrors, rep.ErrorSamples)
	}
	// The service account's own password wrong: every connection fails
	// at setup, with the LDAP result.
	rep = runTool(t, "-url", s.url, "-mode", "searchbind", "-c", "1", "-d", "200ms", "-warmup", "0", "-warmup-max", "0", "-users", "8",
		"-service-password", "wrong", "-dn", users.PingOneDN)
	if rep.Ops != 0 || rep.SetupErrors["invalidCredentials"] == 0 {
		t.Fatalf("wrong service password: ops %d errors %v setup %v", rep.Ops, rep.Errors, rep.SetupErrors)
	}
}

// The count can fail: without PingOne's DN-to-user cache, which the
// search fills, the bind needs a lookup of its own and a login costs
// three backend requests.
func TestSearchBindCountsALookup(t *testing.T) {
	s := startStackWith(t, simenv.Options{Users: 16}, func(c *pingone.Config) { c.UserCacheSize = -1 })
	rep := runTool(t, "-url", s.url, "-mode", "searchbind", "-c", "2", "-d", "400ms", "-warmup", "100ms",
		"-users", "16", "-dn", users.PingOneDN, "-sim", s.env.PDURL)
	if rep.Ops == 0 || len(rep.Errors) != 0 || rep.Backend == nil {
		t.Fatalf("%d logins, errors %v %v", rep.Ops, rep.Errors, rep.ErrorSamples)
	}
	if rpl := rep.Backend.RequestsPerOp; rpl != 3 {
		t.Errorf("%.3f backend requests per login without the user cache, want 3 (search, lookup, password check)", rpl)
	}
}
