package audit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Issue 10 item 10: every string field of a record is bounded, so that a
// client's 1 MB DN does not make a 1 MB line.
func TestRecordFieldsBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "audit.jsonl")
	w, err := New(nil, path)
	if err != nil {
		t.Fatal(err)
	}
	huge := "uid=" + strings.Repeat("é", 1<<19) + ",dc=example,dc=com"
	r := Record{Event: EventPasswordChange, Listener: huge, Source: huge, Actor: huge, Target: huge,
		Backend: huge, Kind: huge}
	r.FromOutcome(bridge.Fail(bridge.NoSuchObject, "no such user "+huge))
	r.PolicyError, r.RequestID = huge, huge
	if err := w.Write(r); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) > 8<<10 {
		t.Errorf("a record of %d bytes", len(b))
	}
	recs := lines(t, path)
	if len(recs) != 1 {
		t.Fatalf("%d records", len(recs))
	}
	for _, k := range []string{"listener", "source", "actor", "target", "backend", "kind", "diagnostic", "ppolicy_error", "request_id"} {
		v, _ := recs[0][k].(string)
		if !strings.Contains(v, "…(truncated, ") || strings.ContainsRune(v, '\uFFFD') {
			t.Errorf("%s: %.80q…", k, v)
		}
	}
}
