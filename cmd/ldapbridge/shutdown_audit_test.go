package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
)

// Issue 10 item 9: audit records survive shutdown. With a drain deadline
// shorter than the backend's answer, SIGTERM used to end the process
// before the operations it cut short wrote their audit records (0 to 10
// of 10 over six runs). Every password change that reached the backend
// must be audited before exit, with the outcome the backend gave or
// "outcome unknown (shutdown)".

// sdUsers is how many users change their passwords at once.
const sdUsers = 10

// sdRounds is how many times the test stops a bridge: the loss was a
// race, so one clean round proves little.
const sdRounds = 3

// sdUserDN is user i of a round; each round has its own users.
func sdUserDN(round, i int) string { return fmt.Sprintf("uid=sd%d-%d,dc=example,dc=com", round, i) }

const sdPassword = "Sd-Passw0rd-1"

// sdRound runs one bridge, starts sdUsers concurrent self changes that the
// backend delays past the drain deadline, sends SIGTERM and returns the
// audit file's password change records and the process's log.
func sdRound(t *testing.T, pd *directorysim.Server, pdURL string, round int) ([]map[string]any, string) {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	auditPath := filepath.Join(dir, "audit.jsonl")
	cfg := fmt.Sprintf(`listeners:
  - name: ldap
    address: %q
limits:
  drain_timeout: 300ms
  operation_timeout: 20s
backends:
  - name: pd
    type: pingdirectory
    timeout: 20s
    pingdirectory:
      url: %q
routes:
  - base: "dc=example,dc=com"
    backend: pd
log:
  level: debug
  format: json
  audit_file: %q
admin:
  address: ""
`, addr, pdURL, auditPath)
	cfgPath := filepath.Join(dir, "ldapbridge.yaml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testkit.MustStart(t, testkit.Spec{Path: binPath, Args: []string{"serve", "--config", cfgPath},
		Ready: "ldapbridge serving", ReadyOn: testkit.Stderr})
	deadline := time.Now().Add(60 * time.Second)

	// Each user binds (no fault yet), then every change is held by the
	// backend for longer than the drain deadline.
	conns := make([]*ldap.Conn, sdUsers)
	for i := range conns {
		c, err := ldap.DialURL("ldap://"+addr, ldap.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}))
		if err != nil {
			t.Fatal(err)
		}
		c.SetTimeout(30 * time.Second)
		defer c.Close()
		if err := c.Bind(sdUserDN(round, i), sdPassword); err != nil {
			t.Fatalf("bind %s: %v", sdUserDN(round, i), err)
		}
		conns[i] = c
	}
	pd.SetFault(directorysim.Fault{Kind: directorysim.FaultDelay, Delay: 3 * time.Second, PathSuffix: "/changePassword"})
	defer pd.SetFault(directorysim.Fault{})
	before := pd.Requests()
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = c.PasswordModify(ldap.NewPasswordModifyRequest("", sdPassword, fmt.Sprintf("Sd-N3w-%d-%d", round, i)))
		}()
	}
	// Every change has reached the backend before the signal.
	for pd.Requests()-before < sdUsers {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d changes reached the backend", pd.Requests()-before, sdUsers)
		}
		time.Sleep(10 * time.Millisecond)
	}
	stopped := time.Now()
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done:
		if p.Err != nil {
			t.Errorf("round %d: ldapbridge exited with %v", round, p.Err)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("round %d: ldapbridge did not exit within 20s of SIGTERM:\n%s", round, p.Stderr)
	}
	// Bounded: the drain deadline plus the grace, not the backend's delay.
	if d := time.Since(stopped); d > 10*time.Second {
		t.Errorf("round %d: exit took %v", round, d)
	}
	wg.Wait()

	var recs []map[string]any
	f, err := os.Open(auditPath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r map[string]any
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("round %d: audit line is not JSON: %v: %s", round, err, sc.Text())
		}
		if r["event"] == "password_change" {
			recs = append(recs, r)
		}
	}
	return recs, p.Stderr.String()
}

func TestShutdownAuditsInFlightChanges(t *testing.T) {
	pd := directorysim.New(directorysim.Config{Policy: directorysim.Policy{MinLength: 8}})
	for round := 1; round <= sdRounds; round++ {
		for i := range sdUsers {
			if err := pd.AddUser(sdUserDN(round, i), sdPassword); err != nil {
				t.Fatal(err)
			}
		}
	}
	pdURL, err := pd.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pd.Close() })

	for round := 1; round <= sdRounds; round++ {
		recs, log := sdRound(t, pd, pdURL, round)
		seen := map[string]int{}
		for _, r := range recs {
			target, _ := r["target"].(string)
			seen[target]++
			code, _ := r["code"].(float64)
			diag, _ := r["diagnostic"].(string)
			switch {
			case code == 0:
			case code == 80 && diag == "outcome unknown (shutdown)":
			default:
				t.Errorf("round %d: %s: audited as %v %q, want success or other (80) \"outcome unknown (shutdown)\"", round, target, code, diag)
			}
		}
		for i := range sdUsers {
			if n := seen[sdUserDN(round, i)]; n != 1 {
				t.Errorf("round %d: %d audit records of %s's password change, want 1", round, n, sdUserDN(round, i))
			}
		}
		if len(recs) != sdUsers {
			t.Errorf("round %d: %d password change records, want %d", round, len(recs), sdUsers)
		}
		if t.Failed() {
			t.Fatalf("round %d log:\n%s", round, log)
		}
	}
}
