package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// Issue 10 item 10, the parts outside the REST clients, against the real
// binary.

// TestThrottledBindsCountAsLimited: binds refused by the failed-binds-per-DN
// limit are "limited" in the metrics and the audit trail, and a limit hit,
// never an error of the backend that serves the DN.
func TestThrottledBindsCountAsLimited(t *testing.T) {
	_, pdURL := opsDirectory(t)
	_, p1URL := opsPingOne(t)
	e := newOpsEnv(t)
	e.pdURL, e.p1URL = pdURL, p1URL
	e.auditFile = filepath.Join(e.dir, "audit.jsonl")
	e.extra = "limits:\n  failed_binds_per_dn: 2\n"
	e.write(t)
	p := opsServe(t, e)

	c := opsDial(t, e.ldap)
	for i := 0; i < 2; i++ {
		if err := c.Bind(demoBobDN, "wrong"); resultCode(err) != ldap.LDAPResultInvalidCredentials {
			t.Fatalf("wrong password %d: %v", i+1, err)
		}
	}
	for i := 0; i < 3; i++ {
		if err := c.Bind(demoBobDN, "wrong"); resultCode(err) != ldap.LDAPResultBusy {
			t.Fatalf("bind over the limit: %v, want busy", err)
		}
	}
	m := opsScrape(t, e.admin)
	for _, tc := range []struct {
		outcome string
		want    float64
	}{{"refused", 2}, {"limited", 3}, {"error", 0}} {
		if got := m.get(t, "ldapbridge_bind_failures_total", map[string]string{"backend": "pd", "outcome": tc.outcome}); got != tc.want {
			t.Errorf("bind_failures_total{backend=pd,outcome=%s} = %v, want %v", tc.outcome, got, tc.want)
		}
	}
	if got := m.get(t, "ldapbridge_ldap_limit_hits_total", map[string]string{"limit": "failed_binds_per_dn"}); got != 3 {
		t.Errorf("limit_hits_total{limit=failed_binds_per_dn} = %v, want 3", got)
	}
	p.Stop(t)
	outcomes := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(opsRead(t, e.auditFile)), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("audit line: %v: %s", err, l)
		}
		if r["event"] == "bind_failure" {
			outcomes[r["outcome"].(string)]++
		}
	}
	if outcomes["refused"] != 2 || outcomes["limited"] != 3 || len(outcomes) != 2 {
		t.Errorf("bind_failure audit outcomes %v, want 2 refused and 3 limited", outcomes)
	}
}

// TestHugeDNBoundedInLogAndAudit: a bind and a password change naming a
// 1 MB DN (the message limits raised so that they are read) write log
// lines and audit records of a few KiB, with the truncation marker.
func TestHugeDNBoundedInLogAndAudit(t *testing.T) {
	_, pdURL := opsDirectory(t)
	_, p1URL := opsPingOne(t)
	e := newOpsEnv(t)
	e.pdURL, e.p1URL, e.level = pdURL, p1URL, "debug"
	e.auditFile = filepath.Join(e.dir, "audit.jsonl")
	e.extra = "limits:\n  max_message_bytes: 4194304\n  max_message_bytes_anonymous: 4194304\n"
	e.write(t)
	p := opsServe(t, e)

	// No route serves dc=elsewhere: neither request reaches a backend,
	// and both are audited.
	huge := "uid=" + strings.Repeat("x", 1<<20) + ",dc=elsewhere"
	c := opsDial(t, e.ldap)
	if err := c.Bind(huge, "whatever"); resultCode(err) != ldap.LDAPResultInvalidCredentials {
		t.Fatalf("bind with a 1 MB DN: %v", err)
	}
	if err := c.Bind(demoBobDN, demoBobPW); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PasswordModify(ldap.NewPasswordModifyRequest(huge, "", "N3w-Passw0rd!")); err == nil {
		t.Fatal("a change of a DN no route serves succeeded")
	}
	p.Stop(t)

	const maxLine = 4 << 10
	check := func(what, text string, wantMarked int) {
		t.Helper()
		marked := 0
		for _, l := range strings.Split(text, "\n") {
			if len(l) > maxLine {
				t.Errorf("%s: a line of %d bytes: %.200s…", what, len(l), l)
			}
			if strings.Contains(l, "…(truncated, 1048593 bytes)") {
				marked++
			}
		}
		if marked < wantMarked {
			t.Errorf("%s: %d lines with the truncation marker, want at least %d:\n%.4000s", what, marked, wantMarked, text)
		}
	}
	// The bind's audit record and the change's.
	check("audit file", opsRead(t, e.auditFile), 2)
	// The bind's debug line and the change's "password change refused".
	check("log", p.Stderr.String(), 2)
}
