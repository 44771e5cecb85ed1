package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// apacheBin is Debian's httpd (package apache2, installed by scripts/deps.sh).
const (
	apacheBin     = "/usr/sbin/apache2"
	apacheModules = "/usr/lib/apache2/modules"
)

// TestApacheAuthnzLDAP protects a page with Apache httpd's
// mod_authnz_ldap pointed at the demo: httpd binds as the demo's service
// account, searches ou=people for uid=<user>, then binds as the DN it
// found with the password the browser sent (issue 11's end-to-end case).
func TestApacheAuthnzLDAP(t *testing.T) {
	if _, err := os.Stat(apacheBin); err != nil {
		t.Fatalf("%s is not installed: run `make deps` (the test command installs apache2)", apacheBin)
	}
	d := startDemo(t)
	dir := t.TempDir()
	// httpd may drop to another user when started as root: it must be
	// able to read the page.
	for _, p := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	www := filepath.Join(dir, "www")
	if err := os.Mkdir(www, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(www, "index.html"), []byte("protected page\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freeAddr(t)
	user := ""
	if os.Getuid() == 0 {
		// Explicit, so that httpd does not run as root nor guess.
		user = "User www-data\nGroup www-data\n"
	}
	conf := fmt.Sprintf(`ServerRoot %[1]q
ServerName 127.0.0.1
Listen %[2]s
PidFile %[1]s/httpd.pid
DefaultRuntimeDir %[1]s
Mutex file:%[1]s default
ErrorLog %[1]s/error.log
LogLevel warn authnz_ldap:debug ldap:debug
%[5]s
LoadModule mpm_event_module %[3]s/mod_mpm_event.so
LoadModule authz_core_module %[3]s/mod_authz_core.so
LoadModule authz_user_module %[3]s/mod_authz_user.so
LoadModule authn_core_module %[3]s/mod_authn_core.so
LoadModule auth_basic_module %[3]s/mod_auth_basic.so
LoadModule ldap_module %[3]s/mod_ldap.so
LoadModule authnz_ldap_module %[3]s/mod_authnz_ldap.so
DocumentRoot %[4]q
LDAPCacheTTL 0
LDAPOpCacheTTL 0
<Directory %[4]q>
  AuthType Basic
  AuthName "ldapbridge"
  AuthBasicProvider ldap
  AuthLDAPURL "ldap://%[6]s/ou=people,dc=example,dc=com?uid?sub"
  AuthLDAPBindDN "%[7]s"
  AuthLDAPBindPassword "%[8]s"
  Require valid-user
</Directory>
`, dir, addr, apacheModules, www, user, d.ldap, demoAppDN, demoAppPW)
	confPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, apacheBin, "-f", confPath, "-DFOREGROUND")
	// SIGTERM, not SIGKILL: httpd's parent then stops its children, which
	// would otherwise outlive the test. Output goes to a file, not a pipe
	// a child could hold open.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	outFile, err := os.Create(filepath.Join(dir, "httpd.out"))
	if err != nil {
		t.Fatal(err)
	}
	defer outFile.Close()
	cmd.Stdout, cmd.Stderr = outFile, outFile
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
		if t.Failed() {
			out, _ := os.ReadFile(filepath.Join(dir, "httpd.out"))
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("httpd output:\n%s\nerror.log:\n%s", out, log)
		}
	})
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("httpd did not listen on %s: %v", addr, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	client := &http.Client{Timeout: 20 * time.Second}
	for _, tc := range []struct {
		name, user, password string
		want                 int
	}{
		{"alice, right password", "alice", demoAlicePW, http.StatusOK},
		{"alice, wrong password", "alice", "Wrong-Passw0rd!", http.StatusUnauthorized},
		{"unknown user", "nobody", demoAlicePW, http.StatusUnauthorized},
		{"another PingOne user", "grace", demoOtherPW, http.StatusOK},
		// bob is not under ou=people: httpd finds no one.
		{"user of the other route", "bob", demoBobPW, http.StatusUnauthorized},
		{"no credentials", "", "", http.StatusUnauthorized},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodGet, "http://"+addr+"/index.html", nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.password)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var body bytes.Buffer
			_, _ = body.ReadFrom(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusOK && !strings.Contains(body.String(), "protected page") {
				t.Fatalf("body %q", body.String())
			}
		})
	}
}
