package main

import (
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
)

// opsDrive binds and changes passwords in every way a client can against
// the two simulators (opsDirectory, opsPingOne) behind e, failures and
// generated passwords included, and returns every password that went over
// the wire either way.
//
// Password changes, by backend/kind/outcome: none/unknown/refused,
// pd/self/success, pd/self/refused, pd/generated/success,
// p1/unknown/refused, pd/administrative/success,
// p1/administrative/success, p1/self/success, p1/generated/success,
// p1/self/refused. Failed binds: pd, no route, p1.
func opsDrive(t *testing.T, e *opsEnv) []string {
	t.Helper()
	used := []string{demoBobPW, demoAdminPW, demoAlicePW}
	use := func(pw string) string { used = append(used, pw); return pw }
	want := func(what string, err error, code uint16) {
		t.Helper()
		if got := resultCode(err); (code == 0 && err != nil) || (code != 0 && got != code) {
			t.Fatalf("%s: %v, want result %d", what, err, code)
		}
	}
	pm := func(c *ldap.Conn, user, old, new string) (*ldap.PasswordModifyResult, error) {
		return c.PasswordModify(ldap.NewPasswordModifyRequest(user, old, new))
	}

	a := opsDial(t, e.ldap)
	_, err := pm(a, demoBobDN, "", use("Anon-Try-Pw-77"))
	want("anonymous change", err, ldap.LDAPResultStrongAuthRequired)
	want("wrong password", a.Bind(demoBobDN, use("Wrong-Bob-Pw-1")), ldap.LDAPResultInvalidCredentials)
	want("unrouted DN", a.Bind("uid=nobody,dc=other,dc=org", use("Wrong-Other-Pw-2")), ldap.LDAPResultInvalidCredentials)
	want("wrong password, PingOne", a.Bind(demoAliceDN, use("Wrong-Alice-Pw-3")), ldap.LDAPResultInvalidCredentials)
	want("bob", a.Bind(demoBobDN, demoBobPW), 0)
	_, err = pm(a, "", demoBobPW, use("Bob-Second-Pw-4"))
	want("bob self change", err, 0)
	_, err = pm(a, "", "Bob-Second-Pw-4", use("Zq9x"))
	want("bob too short", err, ldap.LDAPResultConstraintViolation)
	res, err := pm(a, "", "Bob-Second-Pw-4", "")
	want("bob generated", err, 0)
	if res.GeneratedPassword == "" {
		t.Fatal("bob generated: no password came back")
	}
	use(res.GeneratedPassword)
	_, err = pm(a, demoAliceDN, "", use("Bob-Tries-Alice-5"))
	want("bob resets alice", err, ldap.LDAPResultInsufficientAccessRights)

	b := opsDial(t, e.ldap)
	want("admin", b.Bind(demoAdminDN, demoAdminPW), 0)
	_, err = pm(b, demoBobDN, "", use("Bob-Reset-Pw-6"))
	want("admin resets bob", err, 0)
	_, err = pm(b, demoAliceDN, "", use("Alice-Reset-Pw-7!"))
	want("admin resets alice", err, 0)

	c := opsDial(t, e.ldap)
	want("alice after reset", c.Bind(demoAliceDN, "Alice-Reset-Pw-7!"), 0)
	_, err = pm(c, "", "Alice-Reset-Pw-7!", use("Alice-Second-Pw-8!"))
	want("alice self change", err, 0)
	res, err = pm(c, "", "Alice-Second-Pw-8!", "")
	want("alice generated", err, 0)
	if res.GeneratedPassword == "" {
		t.Fatal("alice generated: no password came back")
	}
	gen := use(res.GeneratedPassword)
	_, err = pm(c, "", gen, use("Zq9x"))
	want("alice too short", err, ldap.LDAPResultConstraintViolation)
	return used
}

// opsNoPasswords fails if any password appears in text.
func opsNoPasswords(t *testing.T, where, text string, passwords []string) {
	t.Helper()
	if len(text) == 0 {
		t.Fatalf("%s is empty: nothing was checked", where)
	}
	testkit.NoSecrets(t, where, text, passwords...)
}

func TestOpsMetricsAndAuditLog(t *testing.T) {
	_, pdURL := opsDirectory(t)
	_, p1URL := opsPingOne(t)
	e := newOpsEnv(t)
	e.pdURL, e.p1URL, e.level = pdURL, p1URL, "debug"
	e.strict = freeAddr(t)
	e.extra = "limits:\n  max_connections_per_ip: 3\n"
	e.write(t)
	p := opsServe(t, e)

	before := opsScrape(t, e.admin)
	if got := before.total("ldapbridge_ldap_operations_total", nil); got != 0 {
		t.Fatalf("operations before any client: %v", got)
	}
	if got := before.get(t, "ldapbridge_build_info", nil); got != 1 {
		t.Fatalf("build_info: %v", before["ldapbridge_build_info"])
	}

	passwords := opsDrive(t, e)
	// A fourth connection from this address is over the limit.
	over := opsDial(t, e.ldap)
	if err := over.Bind(demoBobDN, "Bob-Reset-Pw-6"); err == nil {
		t.Fatal("a connection over max_connections_per_ip was served")
	}
	// Binds the front end refuses itself, on the listener that refuses
	// cleartext (from another address, within the per-address limit):
	// a simple bind with a password, and SASL.
	strict := opsDialFrom(t, e.strict, "127.0.0.2")
	if err := strict.Bind(demoBobDN, "Bob-Reset-Pw-6"); resultCode(err) != ldap.LDAPResultConfidentialityRequired {
		t.Fatalf("cleartext bind on the strict listener: %v", err)
	}
	if err := strict.ExternalBind(); resultCode(err) != ldap.LDAPResultAuthMethodNotSupported {
		t.Fatalf("SASL EXTERNAL bind: %v", err)
	}

	m := opsScrape(t, e.admin)
	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"ldapbridge_ldap_operations_total", map[string]string{"operation": "bind", "result": "invalidCredentials"}, 3},
		{"ldapbridge_ldap_operations_total", map[string]string{"operation": "bind", "result": "success"}, 3},
		{"ldapbridge_ldap_operations_total", map[string]string{"operation": "bind", "result": "confidentialityRequired"}, 1},
		{"ldapbridge_ldap_operations_total", map[string]string{"operation": "bind", "result": "authMethodNotSupported"}, 1},
		{"ldapbridge_ldap_operations_total", map[string]string{"operation": "passwordModify"}, 10},
		{"ldapbridge_ldap_operation_duration_seconds", map[string]string{"operation": "bind"}, 8},
		{"ldapbridge_ldap_connections", map[string]string{"listener": "ldap"}, 3},
		{"ldapbridge_ldap_connections_total", map[string]string{"listener": "ldap"}, 3},
		{"ldapbridge_ldap_connections", map[string]string{"listener": "strict"}, 1},
		{"ldapbridge_bind_failures_total", map[string]string{"backend": "pd", "outcome": "refused"}, 2},
		{"ldapbridge_bind_failures_total", map[string]string{"backend": "p1", "outcome": "refused"}, 1},
		{"ldapbridge_bind_failures_total", map[string]string{"backend": "none", "outcome": "refused"}, 2},
		{"ldapbridge_bind_failures_total", nil, 5},
		{"ldapbridge_ldap_limit_hits_total", map[string]string{"limit": "max_conns_per_ip"}, 1},
		{"ldapbridge_password_changes_total", map[string]string{"backend": "none", "kind": "unknown", "outcome": "refused"}, 1},
		{"ldapbridge_password_changes_total", map[string]string{"backend": "pd", "kind": "self", "outcome": "success"}, 1},
		{"ldapbridge_password_changes_total", map[string]string{"backend": "pd", "kind": "self", "outcome": "refused"}, 1},
		{"ldapbridge_password_changes_total", map[string]string{"backend": "pd", "kind": "generated", "outcome": "success"}, 1},
		{"ldapbridge_password_changes_total", map[string]string{"backend": "pd", "kind": "administrative", "outcome": "success"}, 1},
		{"ldapbridge_password_changes_total", map[string]string{"backend": "p1", "kind": "unknown", "outcome": "refused"}, 1},
		{"ldapbridge_password_changes_total", map[string]string{"backend": "p1", "kind": "administrative", "outcome": "success"}, 1},
		{"ldapbridge_password_changes_total", map[string]string{"backend": "p1", "kind": "self", "outcome": "success"}, 1},
		{"ldapbridge_password_changes_total", map[string]string{"backend": "p1", "kind": "generated", "outcome": "success"}, 1},
		{"ldapbridge_password_changes_total", map[string]string{"backend": "p1", "kind": "self", "outcome": "refused"}, 1},
		{"ldapbridge_password_changes_total", nil, 10},
		{"ldapbridge_backend_requests_total", map[string]string{"backend": "pd", "call": "bind", "status": "401"}, 1},
		{"ldapbridge_backend_requests_total", map[string]string{"backend": "pd", "call": "bind", "status": "200"}, 2},
		{"ldapbridge_backend_token_refreshes_total", map[string]string{"backend": "p1", "result": "success"}, 1},
		{"ldapbridge_config_last_reload_successful", nil, 1},
	} {
		if got := m.get(t, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	// Counters that depend on the backends' internals only have to move.
	for _, tc := range []struct {
		name   string
		labels map[string]string
	}{
		{"ldapbridge_backend_requests_total", map[string]string{"backend": "pd", "call": "change_password"}},
		{"ldapbridge_backend_requests_total", map[string]string{"backend": "p1", "call": "check_password", "status": "200"}},
		{"ldapbridge_backend_requests_total", map[string]string{"backend": "p1", "call": "find_user", "status": "200"}},
		{"ldapbridge_backend_requests_total", map[string]string{"backend": "p1", "call": "change_password"}},
		{"ldapbridge_backend_requests_total", map[string]string{"backend": "p1", "call": "set_password"}},
		{"ldapbridge_backend_request_duration_seconds", map[string]string{"backend": "p1", "call": "token"}},
		{"ldapbridge_backend_cache_hits_total", map[string]string{"backend": "p1", "cache": "user"}},
		{"ldapbridge_backend_cache_misses_total", map[string]string{"backend": "p1", "cache": "user"}},
		{"go_goroutines", nil},
	} {
		if got := m.get(t, tc.name, tc.labels); got <= 0 {
			t.Errorf("%s%v did not move", tc.name, tc.labels)
		}
	}
	// No DN, address or password in any label.
	for _, lv := range m.labelValues() {
		if strings.Contains(lv, "=uid=") || strings.Contains(lv, "dc=") || strings.Contains(lv, "127.0.0.1") {
			t.Errorf("label %s", lv)
		}
		for _, pw := range passwords {
			if strings.HasSuffix(lv, "="+pw) {
				t.Errorf("a password is a label value of %s", strings.Fields(lv)[0])
			}
		}
	}

	// The audit records, in the log.
	recs := opsJSONLines(t, p.Stderr.String(), "audit")
	count := map[string]int{}
	for _, r := range recs {
		count[fmt.Sprint(r["event"])]++
	}
	if count["bind_failure"] != 5 || count["password_change"] != 10 || len(recs) != 15 {
		t.Fatalf("audit records: %v\n%s", count, p.Stderr)
	}
	// Each record carries the ids of the operation's log lines (its own
	// line and "operation done"), and the client's address.
	logs := opsJSONLines(t, p.Stderr.String(), "")
	for _, r := range recs {
		if r["conn"] == nil || r["op"] == nil || r["msgid"] == nil || !strings.HasPrefix(fmt.Sprint(r["source"]), "127.0.0.") {
			t.Errorf("record without ids or source: %v", r)
			continue
		}
		own := map[string]int{}
		for _, l := range logs {
			if l["conn"] == r["conn"] && l["op"] == r["op"] && l["msgid"] == r["msgid"] && l["listener"] == r["listener"] {
				own[fmt.Sprint(l["msg"])]++
			}
		}
		lines := own["bind"]
		if r["event"] == "password_change" {
			lines = own["password change"] + own["password change refused"]
		}
		if lines != 1 || own["operation done"] != 1 {
			t.Errorf("record %v: log lines with its ids %v, want its own and \"operation done\"", r, own)
		}
	}
	matching := func(keep func(r map[string]any) bool) []map[string]any {
		var out []map[string]any
		for _, r := range recs {
			if keep(r) {
				out = append(out, r)
			}
		}
		return out
	}
	// The failed bind is recorded once, with where it came from.
	bob := matching(func(r map[string]any) bool {
		return r["event"] == "bind_failure" && r["code"] == 49.0 && r["target"] == demoBobDN
	})
	if len(bob) != 1 || bob[0]["backend"] != "pd" || bob[0]["listener"] != "ldap" || !strings.HasPrefix(fmt.Sprint(bob[0]["source"]), "127.0.0.1:") {
		t.Errorf("bob's failed bind: %v", bob)
	}
	plain := matching(func(r map[string]any) bool { return r["event"] == "bind_failure" && r["code"] == 13.0 })
	sasl := matching(func(r map[string]any) bool { return r["event"] == "bind_failure" && r["code"] == 7.0 })
	if len(plain) != 1 || plain[0]["target"] != demoBobDN || plain[0]["backend"] != "pd" || plain[0]["listener"] != "strict" ||
		plain[0]["op"] != 1.0 || plain[0]["outcome"] != "refused" || !strings.HasPrefix(fmt.Sprint(plain[0]["source"]), "127.0.0.2:") {
		t.Errorf("cleartext bind refused: %v", plain)
	}
	if len(sasl) != 1 || len(plain) != 1 || sasl[0]["target"] != nil || sasl[0]["backend"] != nil || sasl[0]["op"] != 2.0 ||
		sasl[0]["conn"] != plain[0]["conn"] || sasl[0]["source"] != plain[0]["source"] || sasl[0]["result"] != "authMethodNotSupported" {
		t.Errorf("SASL bind: %v", sasl)
	}
	find := func(event, target, kind string) map[string]any {
		t.Helper()
		for _, r := range recs {
			if r["event"] == event && r["target"] == target && (kind == "" || r["kind"] == kind) {
				return r
			}
		}
		t.Fatalf("no %s audit record for %s (%s)", event, target, kind)
		return nil
	}
	reset := find("password_change", demoBobDN, "administrative")
	if reset["actor"] != demoAdminDN || reset["backend"] != "pd" || reset["outcome"] != "success" || reset["code"] != 0.0 ||
		!strings.HasPrefix(fmt.Sprint(reset["source"]), "127.0.0.1:") || reset["request_id"] == nil || reset["time"] == nil {
		t.Errorf("admin reset record: %v", reset)
	}
	if r := find("bind_failure", "uid=nobody,dc=other,dc=org", ""); r["backend"] != nil || r["outcome"] != "refused" || r["code"] != 49.0 {
		t.Errorf("unrouted bind failure: %v", r)
	}
	if r := find("bind_failure", demoAliceDN, ""); r["backend"] != "p1" || r["result"] != "invalidCredentials" {
		t.Errorf("PingOne bind failure: %v", r)
	}
	gens := 0
	for _, r := range recs {
		if r["generated"] == true {
			gens++
			if r["outcome"] != "success" || r["kind"] != "self" {
				t.Errorf("generated: %v", r)
			}
		}
	}
	if gens != 2 {
		t.Errorf("%d records of generated passwords, want 2", gens)
	}
	if r := find("password_change", demoAliceDN, ""); r["actor"] != demoBobDN || r["outcome"] != "refused" || r["code"] != 50.0 || r["backend"] != "p1" {
		t.Errorf("refused reset: %v", r)
	}
	if opsJSONLines(t, p.Stderr.String(), "operation done") == nil {
		t.Error("no debug line: the test did not run at debug level")
	}
	opsNoPasswords(t, "the log", p.Stderr.String()+p.Stdout.String(), passwords)
}

// The test: with log.level debug, no password of any kind, in any
// binds and changes, reaches the log or the audit file.
func TestOpsNoPasswordInOutput(t *testing.T) {
	_, pdURL := opsDirectory(t)
	_, p1URL := opsPingOne(t)
	e := newOpsEnv(t)
	e.pdURL, e.p1URL, e.level, e.format = pdURL, p1URL, "debug", "text"
	e.auditFile = e.dir + "/audit.jsonl"
	e.write(t)
	p := opsServe(t, e)
	passwords := opsDrive(t, e)
	p.Stop(t)

	raw, err := os.ReadFile(e.auditFile)
	if err != nil {
		t.Fatal(err)
	}
	audit := string(raw)
	if n := strings.Count(audit, "\n"); n != 13 {
		t.Fatalf("%d audit records in the file, want 13:\n%s", n, audit)
	}
	if strings.Contains(p.Stderr.String(), "msg=audit") {
		t.Error("audit records went to the log as well as to the file")
	}
	if !strings.Contains(p.Stderr.String(), "level=DEBUG") {
		t.Error("no debug line: the test did not run at debug level")
	}
	opsNoPasswords(t, "the audit file", audit, passwords)
	opsNoPasswords(t, "the log", p.Stderr.String()+p.Stdout.String(), passwords)
	// The client secret of the PingOne worker is a password too.
	opsNoPasswords(t, "the log", p.Stderr.String(), []string{demoClientSecret})
}
