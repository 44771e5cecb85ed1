package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/simenv"
	"github.com/ldapbridge/ldapbridge/bench/users"
	"github.com/ldapbridge/ldapbridge/config"
)

// ldapsim starts, writes a bridge configuration the config package
// accepts, serves generated users and counts their requests, and stops on
// cancellation.
func TestServeWritesConfigAndCounts(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr bytes.Buffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"-users", "5", "-out", dir, "-ldap-addr", "127.0.0.1:0", "-latency", "1ms"}, &stdout, &stderr)
	}()
	var info Info
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(filepath.Join(dir, "sim.json"))
		if err == nil {
			if err := json.Unmarshal(b, &info); err != nil {
				t.Fatal(err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no sim.json: %s", stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if info.Users != 5 || info.LatencyMS != 1 || strings.HasSuffix(info.BridgeLDAPAddr, ":0") {
		t.Errorf("info %+v", info)
	}
	yml, err := os.ReadFile(info.BridgeConfig)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(yml, "bridge.yaml")
	if err != nil {
		t.Fatalf("bridge.yaml does not parse: %v\n%s", err, yml)
	}
	if len(cfg.Routes) != 2 || cfg.Listeners[0].Address != info.BridgeLDAPAddr {
		t.Errorf("routes %+v listeners %+v", cfg.Routes, cfg.Listeners)
	}

	req, _ := http.NewRequest(http.MethodGet, info.PingDirectoryURL+"/directory/v1/me", nil)
	req.SetBasicAuth(users.DN(users.PingDirectoryDN, 3), users.Password(3, 0))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("generated user's bind: HTTP %d", resp.StatusCode)
	}
	resp, err = http.Get(info.PingOneURL + "/_sim/requests")
	if err != nil {
		t.Fatal(err)
	}
	var st simenv.Stats
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.PingDirectory.Requests != 1 || st.PingDirectory.Latency.P50 < 1 {
		t.Errorf("stats %+v %v", st, err)
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ldapsim did not stop")
	}
}

func TestLDIF(t *testing.T) {
	path := filepath.Join(t.TempDir(), "u.ldif")
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"-ldif", path, "-users", "3"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	if strings.Count(s, "objectClass: inetOrgPerson") != 3 || !strings.Contains(s, "dn: "+users.DN(users.PingDirectoryDN, 2)) ||
		!strings.Contains(s, "pwdInHistory: 0") || strings.Contains(s, users.Password(0, 0)) {
		t.Errorf("LDIF:\n%s", s)
	}
}

func TestBadFlags(t *testing.T) {
	for _, args := range [][]string{{"-users", "0"}, {"-tls"}, {"extra"}, {"-latency", "-1s"}} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), args, &stdout, &stderr); code == 0 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}
