package main

import (
	"fmt"
	"slices"
	"syscall"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// Each password change through LDAP, whichever operation carries it, is
// audited exactly once, with the actor, the target, the backend and the
// kind the core decided; each failed bind once, with its backend.
func TestOpsOneAuditRecordPerDecision(t *testing.T) {
	_, pdURL := opsDirectory(t)
	_, p1URL := opsPingOne(t)
	e := newOpsEnv(t)
	e.pdURL, e.p1URL = pdURL, p1URL
	e.write(t)
	p := opsServe(t, e)

	admin := opsDial(t, e.ldap)
	if err := admin.Bind(demoAdminDN, demoAdminPW); err != nil {
		t.Fatal(err)
	}
	// Password Modify: an administrative reset on the PingOne route.
	if _, err := admin.PasswordModify(ldap.NewPasswordModifyRequest(demoAliceDN, "", "Alice-Reset-Pw-7!")); err != nil {
		t.Fatalf("reset alice: %v", err)
	}
	// A Modify of userPassword: an administrative reset on PingDirectory.
	mr := ldap.NewModifyRequest(demoBobDN, nil)
	mr.Replace("userPassword", []string{"Bob-Reset-Pw-6"})
	if err := admin.Modify(mr); err != nil {
		t.Fatalf("reset bob: %v", err)
	}
	// A self change, and a failed bind.
	bob := opsDial(t, e.ldap)
	if err := bob.Bind(demoBobDN, "Wrong-Bob-Pw-1"); resultCode(err) != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("wrong password: %v", err)
	}
	if err := bob.Bind(demoBobDN, "Bob-Reset-Pw-6"); err != nil {
		t.Fatal(err)
	}
	if _, err := bob.PasswordModify(ldap.NewPasswordModifyRequest("", "Bob-Reset-Pw-6", "Bob-Second-Pw-4")); err != nil {
		t.Fatalf("bob self change: %v", err)
	}

	type rec struct{ event, actor, target, backend, kind string }
	want := []rec{
		{"password_change", demoAdminDN, demoAliceDN, "p1", "administrative"},
		{"password_change", demoAdminDN, demoBobDN, "pd", "administrative"},
		{"bind_failure", "", demoBobDN, "pd", ""},
		{"password_change", demoBobDN, demoBobDN, "pd", "self"},
	}
	// The log reaches the test through a pipe: wait for the last record.
	opsWaitLog(t, p, 1, `"msg":"audit"`, `"kind":"self"`)
	var got []rec
	perOp := map[string]int{}
	for _, r := range opsJSONLines(t, p.Stderr.String(), "audit") {
		s := func(k string) string {
			if v, ok := r[k]; ok {
				return fmt.Sprint(v)
			}
			return ""
		}
		got = append(got, rec{s("event"), s("actor"), s("target"), s("backend"), s("kind")})
		perOp[s("conn")+"/"+s("op")]++
	}
	if !slices.Equal(got, want) {
		t.Fatalf("audit records\n got %q\nwant %q\n%s", got, want, p.Stderr)
	}
	for op, n := range perOp {
		if n != 1 {
			t.Errorf("operation %s audited %d times", op, n)
		}
	}
}

// A SIGHUP that adds a route shows it in the root DSE at once, to a
// connection opened before the reload too; one that removes it, likewise.
func TestOpsReloadRootDSE(t *testing.T) {
	_, pdURL := opsDirectory(t)
	_, p1URL := opsPingOne(t)
	e := newOpsEnv(t)
	e.pdURL, e.p1URL = pdURL, p1URL
	e.write(t)
	p := opsServe(t, e)

	l := opsDial(t, e.ldap)
	contexts := func(l *ldap.Conn) []string {
		t.Helper()
		// ldapsearch -b '' -s base namingContexts
		res, err := l.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"namingContexts"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("root DSE: %v", err)
		}
		return res.Entries[0].GetAttributeValues("namingContexts")
	}
	before := []string{"dc=example,dc=com", "ou=people,dc=example,dc=com"}
	if got := contexts(l); !slices.Equal(got, before) {
		t.Fatalf("namingContexts %q, want %q", got, before)
	}

	reload := func(n int) {
		t.Helper()
		e.write(t)
		if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		opsWaitLog(t, p, n, "configuration reloaded", `"trigger":"SIGHUP"`)
	}
	e.extraRoute = "  - base: \"o=added\"\n    backend: pd\n"
	reload(1)
	after := append(slices.Clone(before), "o=added")
	if got := contexts(l); !slices.Equal(got, after) {
		t.Errorf("on the old connection: namingContexts %q, want %q", got, after)
	}
	if got := contexts(opsDial(t, e.ldap)); !slices.Equal(got, after) {
		t.Errorf("on a new connection: namingContexts %q, want %q", got, after)
	}

	e.extraRoute = ""
	reload(2)
	if got := contexts(l); !slices.Equal(got, before) {
		t.Errorf("after removing the route: namingContexts %q, want %q", got, before)
	}
}
