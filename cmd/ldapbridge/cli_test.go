package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/accounts"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/restback/pingone"
)

// runBinEnv runs the binary to completion with extra environment
// variables and the given standard input, and returns both outputs apart.
func runBinEnv(t *testing.T, env []string, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("ldapbridge %v: %v", args, err)
	}
	return o.String(), e.String(), code
}

// cliCommands is every subcommand and every flag it has: its help must
// describe each.
var cliCommands = []struct {
	args  []string
	flags []string
}{
	{[]string{"serve"}, []string{"config"}},
	{[]string{"check-config"}, []string{"config", "offline"}},
	{[]string{"demo"}, []string{"ldap-addr", "ldaps-addr", "admin-addr", "log-level"}},
	{[]string{"hash-password"}, []string{"bcrypt", "stdin"}},
	{[]string{"pingone"}, []string{"config", "file", "dry-run", "gateway-id", "user-type-id", "dn", "correlation", "unset-password"}},
	{[]string{"pingone", "set-gateway"}, []string{"config", "file", "dry-run", "gateway-id", "user-type-id", "dn", "correlation", "unset-password"}},
	{[]string{"version"}, nil},
}

// TestHelp: -h, --help and help print a description of every command and
// flag on stdout and exit 0, for the program and for each command.
func TestHelp(t *testing.T) {
	for _, h := range []string{"-h", "--help", "-help", "help"} {
		out, errOut, code := runBinEnv(t, nil, "", h)
		if code != 0 || errOut != "" {
			t.Errorf("ldapbridge %s: exit %d, stderr %q", h, code, errOut)
		}
		for _, c := range cliCommands {
			if !strings.Contains(out, "usage: ldapbridge "+strings.Join(c.args, " ")) {
				t.Errorf("ldapbridge %s does not describe %q:\n%s", h, c.args, out)
			}
			for _, f := range c.flags {
				if !strings.Contains(out, "--"+f) {
					t.Errorf("ldapbridge %s does not describe %s's --%s", h, c.args, f)
				}
			}
		}
		if !strings.Contains(out, envConfig) {
			t.Errorf("ldapbridge %s does not mention %s", h, envConfig)
		}
	}
	for _, c := range cliCommands {
		for _, h := range []string{"-h", "--help"} {
			args := append(append([]string(nil), c.args...), h)
			t.Run(strings.Join(args, " "), func(t *testing.T) {
				out, errOut, code := runBinEnv(t, nil, "", args...)
				if code != 0 || errOut != "" {
					t.Fatalf("exit %d, stderr %q; want 0 and nothing", code, errOut)
				}
				if !strings.HasPrefix(out, "usage: ldapbridge "+c.args[0]) {
					t.Errorf("no usage line:\n%s", out)
				}
				for _, f := range c.flags {
					// Each flag on its own line, with its description
					// on the next.
					i := strings.Index(out, "\n  --"+f)
					if i < 0 {
						t.Errorf("--%s is not described:\n%s", f, out)
						continue
					}
					rest := strings.SplitN(out[i+1:], "\n", 3)
					if len(rest) < 2 || len(strings.TrimSpace(rest[1])) < 10 {
						t.Errorf("--%s has no description:\n%s", f, out)
					}
				}
				if strings.HasSuffix(strings.TrimSpace(out), "flags:") {
					t.Errorf("ends with an empty flags section:\n%s", out)
				}
			})
		}
	}
	// "help COMMAND" is "COMMAND -h".
	for _, c := range cliCommands {
		want, _, _ := runBinEnv(t, nil, "", append(append([]string(nil), c.args...), "-h")...)
		got, _, code := runBinEnv(t, nil, "", append([]string{"help"}, c.args...)...)
		if code != 0 || got != want {
			t.Errorf("help %v: exit %d\n%s\nwant the output of %v -h:\n%s", c.args, code, got, c.args, want)
		}
	}
	// A bad flag is a usage error on stderr, pointing at the help.
	_, errOut, code := runBinEnv(t, nil, "", "serve", "--bogus")
	if code != 2 || !strings.Contains(errOut, "-bogus") || !strings.Contains(errOut, `"ldapbridge serve -h"`) {
		t.Errorf("serve --bogus: exit %d, stderr %q", code, errOut)
	}
}

// TestConfigPath: check-config takes the file as an argument or with
// --config, and LDAPBRIDGE_CONFIG is the default of every command that
// reads one.
func TestConfigPath(t *testing.T) {
	dir := t.TempDir()
	good := ftWrite(t, filepath.Join(dir, "good.yaml"),
		ftConfig{LDAP: "127.0.0.1:1389", PD: "http://127.0.0.1:1443"}.yaml())
	bad := ftWrite(t, filepath.Join(dir, "bad.yaml"), "listeners: []\nbogus: 1\n")
	env := func(p string) []string { return []string{envConfig + "=" + p} }
	for _, tc := range []struct {
		name     string
		env      []string
		args     []string
		code     int
		out, err string
	}{
		{"argument", nil, []string{"check-config", good}, 0, "ok\n", ""},
		{"flag", nil, []string{"check-config", "--config", good}, 0, "ok\n", ""},
		{"environment", env(good), []string{"check-config"}, 0, "ok\n", ""},
		{"argument before environment", env(bad), []string{"check-config", good}, 0, "ok\n", ""},
		{"flag before environment", env(bad), []string{"check-config", "--config", good}, 0, "ok\n", ""},
		{"bad file as argument", nil, []string{"check-config", bad}, 1, "bogus", ""},
		{"bad file from environment", env(bad), []string{"check-config"}, 1, "bogus", ""},
		{"same file twice", nil, []string{"check-config", good, "--config", good}, 0, "ok\n", ""},
		{"two files", nil, []string{"check-config", good, "--config", bad}, 2, "", "two configuration files"},
		{"no file", nil, []string{"check-config"}, 2, "", envConfig},
		{"serve, no file", nil, []string{"serve"}, 2, "", envConfig},
		{"serve from environment", env(bad), []string{"serve"}, 1, "", "bogus"},
		{"set-gateway from environment", env(bad), []string{"pingone", "set-gateway", "--dn", "uid=a,dc=x"}, 1, "", "bogus"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// An empty LDAPBRIDGE_CONFIG where the case sets none, so
			// that the tester's own environment cannot leak in.
			out, errOut, code := runBinEnv(t, append([]string{envConfig + "="}, tc.env...), "", tc.args...)
			if code != tc.code || !strings.Contains(out, tc.out) || !strings.Contains(errOut, tc.err) {
				t.Errorf("%v: exit %d\nstdout %q\nstderr %q\nwant exit %d, stdout with %q, stderr with %q", tc.args, code, out, errOut, tc.code, tc.out, tc.err)
			}
		})
	}
}

// TestDemoBadFlags: a bad demo flag is named, as the flag, before any
// configuration is generated.
func TestDemoBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"--ldap-addr", "24389"}, []string{`--ldap-addr: "24389" is not host:port`}},
		{[]string{"--ldaps-addr", "127.0.0.1:http"}, []string{`--ldaps-addr: "127.0.0.1:http" has port "http"`}},
		{[]string{"--admin-addr", "127.0.0.1:99999"}, []string{`--admin-addr: "127.0.0.1:99999" has port`}},
		{[]string{"--ldap-addr", "a\"b:1"}, []string{`--ldap-addr:`, `want a host name or an IP address`}},
		{[]string{"--log-level", "loud"}, []string{`--log-level: "loud" is not one of debug, info, warn, error`}},
		{[]string{"--ldap-addr", "x", "--ldaps-addr", "y", "--log-level", "z"}, []string{`--ldap-addr: "x"`, `--ldaps-addr: "y"`, `--log-level: "z"`}},
		{[]string{"extra"}, []string{`unexpected argument "extra"`}},
	} {
		out, errOut, code := runBinEnv(t, nil, "", append([]string{"demo"}, tc.args...)...)
		if code != 2 || out != "" {
			t.Errorf("demo %v: exit %d, stdout %q; want exit 2 and nothing on stdout", tc.args, code, out)
		}
		for _, w := range tc.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("demo %v: stderr %q lacks %q", tc.args, errOut, w)
			}
		}
		if strings.Contains(errOut, "line ") || strings.Contains(errOut, "listeners[") {
			t.Errorf("demo %v: reported against the generated file: %q", tc.args, errOut)
		}
	}
}

// holdPorts keeps n loopback ports busy for the test.
func holdPorts(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { ln.Close() })
		out = append(out, ln.Addr().String())
	}
	return out
}

// TestBusyPortsReportedAtOnce: every listener address that is taken,
// the admin listener's included, is in the one error.
func TestBusyPortsReportedAtOnce(t *testing.T) {
	busy := holdPorts(t, 3)
	_, errOut, code := runBinEnv(t, nil, "", "demo", "--ldap-addr", busy[0], "--ldaps-addr", busy[1], "--admin-addr", busy[2])
	if code != 1 {
		t.Errorf("demo on busy ports: exit %d, want 1; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{`3 listeners could not be opened`, `listener "ldap"`, busy[0], `listener "ldaps"`, busy[1], "admin listener", busy[2], "address already in use"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("demo on busy ports: stderr lacks %q:\n%s", want, errOut)
		}
	}

	// serve: two busy listeners and a free admin address; the one free
	// listener is not reported, and nothing stays bound.
	busy = holdPorts(t, 2)
	cert, key, _ := ftCertPair(t)
	free, admin := freeAddr(t), freeAddr(t)
	cfg := ftConfig{LDAP: busy[0], LDAPS: busy[1], TLS: "starttls", Cert: cert, Key: key, PD: "http://127.0.0.1:1443"}.yaml()
	cfg = strings.Replace(cfg, "listeners:\n", "listeners:\n  - name: spare\n    address: \""+free+"\"\n", 1)
	cfg = strings.Replace(cfg, "admin:\n  address: \"\"\n", "admin:\n  address: \""+admin+"\"\n", 1)
	path := ftWrite(t, filepath.Join(t.TempDir(), "ldapbridge.yaml"), cfg)
	_, errOut, code = runBinEnv(t, nil, "", "serve", "--config", path)
	if code != 1 {
		t.Errorf("serve on busy ports: exit %d, want 1; stderr:\n%s", code, errOut)
	}
	for _, want := range []string{`2 listeners could not be opened`, `listener "ldap"`, busy[0], `listener "ldaps"`, busy[1]} {
		if !strings.Contains(errOut, want) {
			t.Errorf("serve on busy ports: stderr lacks %q:\n%s", want, errOut)
		}
	}
	if strings.Contains(errOut, "spare") || strings.Contains(errOut, "admin listener") {
		t.Errorf("serve on busy ports reported a free address:\n%s", errOut)
	}
	for _, a := range []string{free, admin} {
		ln, err := net.Listen("tcp", a)
		if err != nil {
			t.Errorf("%s still bound after the failed start: %v", a, err)
			continue
		}
		ln.Close()
	}
}

// TestHashPasswordRoundTrip: a hash printed by hash-password, put in
// accounts, lets that password bind through the bridge and no other; the
// password appears in no output.
func TestHashPasswordRoundTrip(t *testing.T) {
	const pw = "Hash-Me-Passw0rd-42 é"
	var hashes []string
	for _, tc := range []struct {
		args   []string
		stdin  string
		prefix string
	}{
		{[]string{"hash-password"}, pw + "\n", "$argon2id$v=19$m=19456,t=3,p=1$"},
		{[]string{"hash-password", "--stdin"}, pw + "\r\n", "$argon2id$v=19$m=19456,t=3,p=1$"},
		{[]string{"hash-password", "--bcrypt"}, pw, "$2a$12$"},
	} {
		out, errOut, code := runBinEnv(t, nil, tc.stdin, tc.args...)
		if code != 0 || errOut != "" || !strings.HasPrefix(out, tc.prefix) || strings.Count(out, "\n") != 1 {
			t.Fatalf("%v: exit %d stdout %q stderr %q; want one line starting %q", tc.args, code, out, errOut, tc.prefix)
		}
		if strings.Contains(out, "Hash-Me") {
			t.Fatalf("%v printed the password", tc.args)
		}
		h := strings.TrimSuffix(out, "\n")
		// The same check and verification as accounts get.
		if err := accounts.CheckHash(h); err != nil {
			t.Fatalf("%v: CheckHash: %v", tc.args, err)
		}
		if ok, err := accounts.VerifyHash(h, []byte(pw)); !ok || err != nil {
			t.Fatalf("%v: VerifyHash(right password) = %v, %v", tc.args, ok, err)
		}
		if ok, _ := accounts.VerifyHash(h, []byte(pw+"x")); ok {
			t.Fatalf("%v: VerifyHash(wrong password) = true", tc.args)
		}
		hashes = append(hashes, h)
	}
	if hashes[0] == hashes[1] {
		t.Error("two hashes of one password are equal: no salt")
	}

	// Refusals never quote the password.
	long := strings.Repeat("Z", 73)
	for _, tc := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"hash-password"}, "\n", "empty password"},
		{[]string{"hash-password"}, "", "empty password"},
		{[]string{"hash-password", "--bcrypt"}, long + "\n", "72 bytes"},
		{[]string{"hash-password"}, strings.Repeat("Z", 2000) + "\n", "longer than 1024 bytes"},
		{[]string{"hash-password", long}, "", "takes no arguments"},
	} {
		out, errOut, code := runBinEnv(t, nil, tc.stdin, tc.args...)
		if code == 0 || out != "" || !strings.Contains(errOut, tc.want) || strings.Contains(errOut, "ZZZZ") {
			t.Errorf("%v: exit %d stdout %q stderr %q; want a failure saying %q without the password", tc.args, code, out, errOut, tc.want)
		}
	}

	// Each hash in accounts: the password binds over LDAP, a wrong one
	// does not, and the log never shows the password.
	_, pdURL := opsDirectory(t)
	_, p1URL := opsPingOne(t)
	e := newOpsEnv(t)
	e.pdURL, e.p1URL, e.level = pdURL, p1URL, "debug"
	e.extra = "accounts:\n"
	for i, h := range hashes {
		e.extra += "  - dn: cn=svc" + string(rune('0'+i)) + ",dc=example,dc=com\n    password_hash: '" + h + "'\n"
	}
	e.write(t)
	p := opsServe(t, e)
	for i := range hashes {
		dn := "cn=svc" + string(rune('0'+i)) + ",dc=example,dc=com"
		if err := opsDial(t, e.ldap).Bind(dn, pw); err != nil {
			t.Errorf("bind %s with the hashed password: %v", dn, err)
		}
		if err := opsDial(t, e.ldap).Bind(dn, pw+"x"); resultCode(err) != ldap.LDAPResultInvalidCredentials {
			t.Errorf("bind %s with a wrong password: %v, want invalidCredentials", dn, err)
		}
	}
	if strings.Contains(p.Stderr.String(), "Hash-Me") || strings.Contains(p.Stdout.String(), "Hash-Me") {
		t.Error("the bridge logged the password")
	}
}

// writeCertUntil writes a self-signed certificate for 127.0.0.1 that
// expires at notAfter, and its key, into dir.
func writeCertUntil(t *testing.T, dir string, notAfter time.Time) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(notAfter.Unix()), Subject: pkix.Name{CommonName: "expiry test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	ftWrite(t, certFile, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	ftWrite(t, keyFile, string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})))
	return certFile, keyFile
}

// TestCertificateExpiryMetric: each TLS listener's certificate expiry is
// exported from the start and follows a certificate reload.
func TestCertificateExpiryMetric(t *testing.T) {
	const name = "ldapbridge_tls_certificate_expiry_timestamp_seconds"
	first := time.Now().Add(30 * 24 * time.Hour).Truncate(time.Second)
	renewed := first.Add(60 * 24 * time.Hour)
	cert, key := writeCertUntil(t, t.TempDir(), first)
	cert2, key2 := writeCertUntil(t, t.TempDir(), renewed)

	_, pdURL := opsDirectory(t)
	ldapsAddr, admin := freeAddr(t), freeAddr(t)
	cfg := ftConfig{LDAP: freeAddr(t), LDAPS: ldapsAddr, TLS: "starttls", Cert: cert, Key: key, PD: pdURL}.yaml()
	cfg = strings.Replace(cfg, "admin:\n  address: \"\"\n", "admin:\n  address: \""+admin+"\"\n", 1)
	p := ftServe(t, ftWrite(t, filepath.Join(t.TempDir(), "ldapbridge.yaml"), cfg))

	m := opsScrape(t, admin)
	for _, l := range []string{"ldap", "ldaps"} {
		if got := m.get(t, name, map[string]string{"listener": l}); got != float64(first.Unix()) {
			t.Errorf("%s{listener=%q} = %v, want %v", name, l, got, first.Unix())
		}
	}
	if mf := m[name]; mf == nil || len(mf.Metric) != 2 {
		t.Errorf("%s: %v, want one series per TLS listener", name, mf)
	}

	ftCopy(t, key2, key)
	ftCopy(t, cert2, cert)
	deadline := time.Now().Add(20 * time.Second)
	for {
		// The files are looked at when a client connects.
		if conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", ldapsAddr, &tls.Config{InsecureSkipVerify: true}); err == nil {
			conn.Close()
		}
		if opsScrape(t, admin).get(t, name, map[string]string{"listener": "ldaps"}) == float64(renewed.Unix()) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not follow the certificate reload within 20s:\n%s", name, p.Stderr)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestHashPasswordTerminal: on a terminal (a pseudo-terminal made by
// util-linux's script) the password is asked twice and never echoed.
func TestHashPasswordTerminal(t *testing.T) {
	scriptPath, err := exec.LookPath("script")
	if err != nil {
		t.Skip("script(1) from util-linux is not installed")
	}
	const pw = "Tty-Passw0rd-77"
	for _, tc := range []struct {
		again string
		code  int
		want  string
	}{
		{pw, 0, "$argon2id$v=19$m=19456,t=3,p=1$"},
		{pw + "x", 1, "the two passwords differ"},
	} {
		cmd := exec.Command(scriptPath, "-qec", binPath+" hash-password", "/dev/null")
		stdin, err := cmd.StdinPipe()
		if err != nil {
			t.Fatal(err)
		}
		out := &testkit.LogBuffer{}
		cmd.Stdout, cmd.Stderr = out, out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Type each line only once the prompt is there, as a person
		// would: echo is off by then.
		waitFor := func(s string) {
			deadline := time.Now().Add(30 * time.Second)
			for !strings.Contains(out.String(), s) {
				if time.Now().After(deadline) {
					cmd.Process.Kill()
					t.Fatalf("no %q prompt: %q", s, out.String())
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		waitFor("Password: ")
		io.WriteString(stdin, pw+"\n")
		waitFor("Again: ")
		io.WriteString(stdin, tc.again+"\n")
		err = cmd.Wait()
		stdin.Close()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
		got := out.String()
		if code != tc.code || !strings.Contains(got, tc.want) {
			t.Errorf("exit %d, output %q; want exit %d and %q", code, got, tc.code, tc.want)
		}
		if strings.Contains(got, "Tty-Passw0rd") {
			t.Errorf("the password was echoed or printed: %q", got)
		}
		if tc.code == 0 {
			i := strings.Index(got, "$argon2id$")
			h := strings.TrimSpace(got[i:])
			if ok, err := accounts.VerifyHash(h, []byte(pw)); !ok || err != nil {
				t.Errorf("the hash %q does not verify: %v", h, err)
			}
		}
	}
}

// TestSetGatewaySummary: a dry run and a real run print the same shape.
func TestSetGatewaySummary(t *testing.T) {
	fails := []pingone.BatchFailure{{DN: "uid=a", Reason: "no such user"}, {DN: "uid=b", Reason: "not attempted: context canceled"}}
	for _, tc := range []struct {
		sum  pingone.BatchSummary
		want string
		bad  bool
	}{
		{pingone.BatchSummary{Total: 3, Changed: 3}, "summary: 3 DNs: 0 to change, 3 changed, 0 failed, 0 skipped\n", false},
		{pingone.BatchSummary{Total: 3, Changed: 3, DryRun: true}, "summary: 3 DNs: 3 to change, 0 changed, 0 failed, 0 skipped (dry run: nothing changed)\n", false},
		{pingone.BatchSummary{Total: 4, Changed: 2, Failed: 2, Failures: fails},
			"summary: 4 DNs: 0 to change, 2 changed, 1 failed, 1 skipped\n  failed uid=a: no such user\n  skipped uid=b: not attempted: context canceled\n", true},
	} {
		var b bytes.Buffer
		if bad := printSummary(&b, tc.sum); b.String() != tc.want || bad != tc.bad {
			t.Errorf("printSummary(%+v) = %v\n%s\nwant %v\n%s", tc.sum, bad, b.String(), tc.bad, tc.want)
		}
	}
}
