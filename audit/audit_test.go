package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// lines reads a file of JSON lines.
func lines(t *testing.T, path string) []map[string]any {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("not a JSON line: %q: %v", sc.Text(), err)
		}
		out = append(out, m)
	}
	return out
}

func TestOutcome(t *testing.T) {
	for _, tc := range []struct {
		code bridge.ResultCode
		want string
	}{
		{bridge.Success, OutcomeSuccess},
		{bridge.InvalidCredentials, OutcomeRefused},
		{bridge.ConstraintViolation, OutcomeRefused},
		{bridge.InsufficientAccessRights, OutcomeRefused},
		{bridge.UnwillingToPerform, OutcomeRefused},
		{bridge.ConfidentialityRequired, OutcomeRefused},
		{bridge.NoSuchObject, OutcomeRefused},
		{bridge.Unavailable, OutcomeError},
		{bridge.Busy, OutcomeError},
		{bridge.Other, OutcomeError},
		{bridge.TimeLimitExceeded, OutcomeError},
		{bridge.Canceled, OutcomeError},
	} {
		if got := Outcome(tc.code); got != tc.want {
			t.Errorf("Outcome(%v) = %q, want %q", tc.code, got, tc.want)
		}
	}
}

func TestFileRecord(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := New(nil, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	at := time.Date(2025, 3, 4, 5, 6, 7, 8000, time.FixedZone("X", 3600))
	generated := "Gener4ted-Secret!"
	r := Record{
		Time: at, Event: EventPasswordChange, Conn: 7, Op: 3, MsgID: 12, Listener: "ldap", Source: "192.0.2.1:5555",
		Actor: "cn=admin,dc=example,dc=com", Target: "uid=bob,ou=staff,dc=example,dc=com",
		Backend: "pd", Kind: "administrative",
	}
	r.FromOutcome(bridge.Outcome{Code: bridge.Success, GeneratedPassword: bridge.SecretString(generated), RequestID: "req-1"})
	if err := w.Write(r); err != nil {
		t.Fatal(err)
	}
	f := Record{Event: EventBindFailure, Target: "uid=bob,ou=staff,dc=example,dc=com", Backend: "pd"}
	f.FromOutcome(bridge.Outcome{Code: bridge.InvalidCredentials, Diagnostic: "invalid credentials", Policy: bridge.PolicyErr(bridge.AccountLocked)})
	if err := w.Write(f); err != nil {
		t.Fatal(err)
	}

	raw, _ := os.ReadFile(path)
	if bytes.Contains(raw, []byte(generated)) {
		t.Fatalf("the generated password reached the audit file:\n%s", raw)
	}
	got := lines(t, path)
	if len(got) != 2 {
		t.Fatalf("%d records, want 2:\n%s", len(got), raw)
	}
	want := map[string]any{
		"time": "2025-03-04T04:06:07.000008Z", "event": "password_change", "conn": 7.0, "op": 3.0, "msgid": 12.0,
		"listener": "ldap", "source": "192.0.2.1:5555", "actor": "cn=admin,dc=example,dc=com",
		"target": "uid=bob,ou=staff,dc=example,dc=com", "backend": "pd", "kind": "administrative",
		"generated": true, "outcome": "success", "code": 0.0, "result": "success", "request_id": "req-1",
	}
	if fmt.Sprint(got[0]) != fmt.Sprint(want) {
		t.Errorf("record:\n got %v\nwant %v", got[0], want)
	}
	if !strings.HasPrefix(string(raw), `{"time":`) {
		t.Errorf("a line does not start with the time: %q", raw)
	}
	b := got[1]
	if b["event"] != "bind_failure" || b["outcome"] != "refused" || b["code"] != 49.0 || b["ppolicy_error"] != "accountLocked" ||
		b["diagnostic"] != "invalid credentials" || b["actor"] != "" || b["conn"] != nil || b["msgid"] != nil || b["time"] == nil {
		t.Errorf("bind failure record: %v", b)
	}
}

func TestLogRecordIgnoresLevel(t *testing.T) {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelError})
	w, err := New(h, "")
	if err != nil {
		t.Fatal(err)
	}
	slog.New(h).Info("ordinary info line")
	if err := w.Write(Record{Event: EventBindFailure, Target: "uid=x", Outcome: OutcomeRefused, Code: bridge.InvalidCredentials}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if strings.Contains(out, "ordinary info line") {
		t.Fatal("the handler's level is not in force")
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(strings.TrimSpace(out)), &m); err != nil {
		t.Fatalf("audit line %q: %v", out, err)
	}
	if m["msg"] != Message || m["level"] != "INFO" || m["event"] != "bind_failure" || m["target"] != "uid=x" {
		t.Fatalf("audit line: %v", m)
	}
	if w.Path() != "" {
		t.Fatalf("Path = %q", w.Path())
	}
}

func TestSetPath(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "audit.log")
	var logBuf bytes.Buffer
	w, err := New(slog.NewJSONHandler(&logBuf, nil), path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	write := func(target string) {
		t.Helper()
		if err := w.Write(Record{Event: EventBindFailure, Target: target}); err != nil {
			t.Fatal(err)
		}
	}
	write("one")
	// Rotation: the file is renamed away, then reopened by name.
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	write("two") // still the renamed file, as with any open file
	if err := w.SetPath(path); err != nil {
		t.Fatal(err)
	}
	write("three")
	// A path that cannot be opened keeps the current destination.
	if err := w.SetPath(filepath.Join(dir, "missing", "audit.log")); err == nil {
		t.Fatal("SetPath to a missing directory succeeded")
	}
	write("four")
	if w.Path() != path {
		t.Fatalf("Path after a failed SetPath = %q", w.Path())
	}
	// To the log.
	if err := w.SetPath(""); err != nil {
		t.Fatal(err)
	}
	write("five")

	targets := func(recs []map[string]any) string {
		var s []string
		for _, r := range recs {
			s = append(s, fmt.Sprint(r["target"]))
		}
		return strings.Join(s, " ")
	}
	if got := targets(lines(t, rotated)); got != "one two" {
		t.Errorf("rotated file: %s", got)
	}
	if got := targets(lines(t, path)); got != "three four" {
		t.Errorf("new file: %s", got)
	}
	if !strings.Contains(logBuf.String(), `"target":"five"`) || strings.Contains(logBuf.String(), `"target":"four"`) {
		t.Errorf("log: %s", logBuf.String())
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Write(Record{Event: EventBindFailure}); err == nil {
		t.Fatal("Write after Close succeeded")
	}
}

// Records written while the file is reopened are neither lost nor torn.
func TestConcurrentWritesAndReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.log")
	w, err := New(nil, path)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	const writers, each = 4, 50
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if err := w.Write(Record{Event: EventPasswordChange, Target: fmt.Sprintf("uid=u%d-%d", i, j)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 20; i++ {
		if err := w.SetPath(path); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if got := len(lines(t, path)); got != writers*each {
		t.Fatalf("%d records, want %d", got, writers*each)
	}
}
