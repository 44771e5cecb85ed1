package config

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"
)

func TestMinimalGetsDefaults(t *testing.T) {
	cfg := mustParse(t, base, ParseOptions{})

	l := cfg.Listeners[0]
	if l.TLS != TLSNone || l.MinTLSVersion != "1.2" || l.Cleartext != CleartextLoopback {
		t.Errorf("listener defaults: %+v", l)
	}
	if want := Defaults().Limits; cfg.Limits != want {
		t.Errorf("limits = %+v, want %+v", cfg.Limits, want)
	}
	if cfg.Limits.IdleTimeout.Duration() != 10*time.Minute || cfg.Limits.MaxMessageBytes != 1048576 {
		t.Errorf("limit defaults: %+v", cfg.Limits)
	}
	p1 := cfg.Backends[0]
	if p1.Timeout.Duration() != 10*time.Second {
		t.Errorf("backend timeout %v", p1.Timeout)
	}
	po := p1.PingOne
	switch {
	case po.AuthURL != "https://auth.pingone.eu", po.APIURL != "https://api.pingone.eu/v1":
		t.Errorf("urls from region eu: %q %q", po.AuthURL, po.APIURL)
	case po.TokenURL() != "https://auth.pingone.eu/5caa81af-ec05-41ff-a709-c7378007a99c/as/token":
		t.Errorf("token url %q", po.TokenURL())
	case po.ClientSecret.Reveal() != secretValue:
		t.Errorf("client_secret not expanded from the environment")
	case po.TokenAuthMethod != AuthClientSecretBasic, po.UserFilter != `username eq "{uid}"`:
		t.Errorf("pingone defaults: %q %q", po.TokenAuthMethod, po.UserFilter)
	case po.UserCache != Cache{Size: 10000, TTL: Duration(5 * time.Minute)}, po.PolicyTTL.Duration() != 10*time.Minute:
		t.Errorf("cache defaults: %+v %v", po.UserCache, po.PolicyTTL)
	}
	if !cfg.Routes[0].ForceChange || cfg.Routes[0].BypassPolicy || cfg.Routes[0].AllowOldPasswordProof {
		t.Errorf("route defaults: %+v", cfg.Routes[0])
	}
	if cfg.Log != (Log{Level: "info", Format: "json"}) || cfg.Admin.Address != "127.0.0.1:9389" || cfg.Reload.WatchConfig {
		t.Errorf("log/admin/reload defaults: %+v %+v %+v", cfg.Log, cfg.Admin, cfg.Reload)
	}
}

// Writing every default out gives the same Config as leaving them out.
func TestExplicitDefaultsEqualImplicit(t *testing.T) {
	explicit := `listeners:
  - name: ldap
    address: 127.0.0.1:1389
    tls: none
    min_tls_version: "1.2"
    cleartext: loopback
limits:
  max_message_bytes: 1048576
  max_connections: 4096
  max_connections_per_ip: 0
  max_ops_per_connection: 16
  idle_timeout: 10m
  message_timeout: 30s
  write_timeout: 30s
  operation_timeout: 30s
  drain_timeout: 30s
  rate_per_ip: 0
  failed_binds_per_dn: 0
backends:
  - name: p1
    type: pingone
    timeout: 10s
    pingone:
      environment_id: 5caa81af-ec05-41ff-a709-c7378007a99c
      region: eu
      auth_url: ""
      api_url: ""
      client_id: app
      client_secret: ${P1_SECRET}
      client_secret_file: ""
      token_auth_method: client_secret_basic
      user_filter: 'username eq "{uid}"'
      user_cache: {size: 10000, ttl: 5m}
      policy_ttl: 10m
  - name: pd
    type: pingdirectory
    timeout: 10s
    pingdirectory:
      url: https://pd.example.com:1443
routes:
  - base: ou=people,dc=example,dc=com
    backend: p1
    allow_old_password_proof: false
    force_change: true
    bypass_policy: false
  - base: ou=staff,dc=example,dc=com
    backend: pd
accounts:
  - dn: cn=svc,dc=example,dc=com
    password_hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
log:
  level: info
  format: json
  audit_file: ""
admin:
  address: 127.0.0.1:9389
reload:
  watch_config: false
`
	a := mustParse(t, base, ParseOptions{})
	b := mustParse(t, explicit, ParseOptions{})
	if !reflect.DeepEqual(a, b) {
		t.Errorf("explicit defaults differ:\n%+v\n%+v", a, b)
	}
}

func TestFullConfigWithFiles(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	cert := writeFile(t, dir, "tls.crt", certPEM)
	key := writeFile(t, dir, "tls.key", keyPEM)
	secret := writeFile(t, dir, "p1-secret", "file-secret-XYZ\n")
	src := fmt.Sprintf(`listeners:
  - name: ldap
    address: 127.0.0.1:1389
    tls: starttls
    cert_file: %[1]s
    key_file: %[2]s
    min_tls_version: "1.3"
    cleartext: refuse
  - name: ldaps
    address: "[::1]:1636"
    tls: ldaps
    cert_file: %[1]s
    key_file: %[2]s
    cleartext: allow
limits:
  max_message_bytes: 65536
  max_message_bytes_anonymous: 16384
  max_connections: 100
  max_connections_per_ip: 10
  max_ops_per_connection: 4
  idle_timeout: 1h30m
  message_timeout: 5s
  write_timeout: 6s
  operation_timeout: 7s
  drain_timeout: 8s
  rate_per_ip: 2.5
  failed_binds_per_dn: 5
backends:
  - name: p1
    type: pingone
    timeout: 3s
    ca_file: %[1]s
    pingone:
      environment_id: 5caa81af-ec05-41ff-a709-c7378007a99c
      auth_url: http://127.0.0.1:8443/
      api_url: http://localhost:8443/v1
      client_id: app
      client_secret_file: %[3]s
      token_auth_method: client_secret_post
      user_filter: 'email eq "{mail}" and username eq "{uid}"'
      user_cache: {size: 0, ttl: 1m}
      policy_ttl: 2m
  - name: pd
    type: pingdirectory
    pingdirectory: {url: "https://pd.example.com:1443/"}
routes:
  - base: ""
    backend: pd
  - base: ou=people,dc=example,dc=com
    backend: p1
    admins:
      - cn=admin,dc=example,dc=com
      - "cn=svc,dc=example,dc=com"
    allow_old_password_proof: true
    force_change: false
    bypass_policy: true
    gateway:
      id: gw-1
      user_type_id: ut-1
      correlation: {uid: "{uid}", mail: "{mail}"}
accounts:
  - dn: cn=svc,dc=example,dc=com
    password_hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
log:
  level: debug
  format: text
  audit_file: %[4]s
admin:
  address: ""
reload:
  watch_config: true
`, cert, key, secret, filepath.Join(dir, "audit.log"))
	cfg := mustParse(t, src, ParseOptions{})

	if l := cfg.Listeners[0]; l.TLS != TLSStartTLS || l.TLSMinVersion() != 0x0304 || l.Cleartext != CleartextRefuse {
		t.Errorf("listener 0: %+v", l)
	}
	if l := cfg.Listeners[1]; l.Address != "[::1]:1636" || l.TLSMinVersion() != 0x0303 {
		t.Errorf("listener 1: %+v", l)
	}
	wantLimits := Limits{65536, 100, 10, 4, Duration(90 * time.Minute), Duration(5 * time.Second),
		Duration(6 * time.Second), Duration(7 * time.Second), Duration(8 * time.Second), 2.5, 5, 16384, 1000}
	if cfg.Limits != wantLimits {
		t.Errorf("limits %+v", cfg.Limits)
	}
	po := cfg.Backends[0].PingOne
	if po.ClientSecret.Reveal() != "file-secret-XYZ" {
		t.Errorf("secret from file: got %d bytes", po.ClientSecret.Len())
	}
	if po.AuthURL != "http://127.0.0.1:8443" || po.APIURL != "http://localhost:8443/v1" || po.Region != "" {
		t.Errorf("explicit urls: %q %q", po.AuthURL, po.APIURL)
	}
	if po.UserCache.Size != 0 || po.TokenAuthMethod != AuthClientSecretPost {
		t.Errorf("pingone: %+v", po)
	}
	if u := cfg.Backends[1].PingDirectory.URL; u != "https://pd.example.com:1443" {
		t.Errorf("pd url %q", u)
	}
	r := cfg.Routes[1]
	if len(r.Admins) != 2 || !r.AllowOldPasswordProof || r.ForceChange || !r.BypassPolicy ||
		r.Gateway == nil || r.Gateway.Correlation["mail"] != "{mail}" {
		t.Errorf("route: %+v %+v", r, r.Gateway)
	}
	if cfg.Log.Level != "debug" || cfg.Admin.Address != "" || !cfg.Reload.WatchConfig {
		t.Errorf("log/admin/reload: %+v %+v %+v", cfg.Log, cfg.Admin, cfg.Reload)
	}

	// The same file through Load.
	path := writeFile(t, dir, "ldapbridge.yaml", src)
	loaded, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(loaded, cfg) {
		t.Error("Load and Parse disagree")
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
	if err == nil || !strings.Contains(err.Error(), "nope.yaml") {
		t.Fatalf("err = %v", err)
	}
}

func TestExampleValidates(t *testing.T) {
	env := envOf(map[string]string{"P1_CLIENT_SECRET": "example-secret"})
	cfg, err := LoadWithOptions("../deploy/ldapbridge.example.yaml", ParseOptions{SkipFileChecks: true, LookupEnv: env})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Listeners) != 2 || len(cfg.Backends) != 2 || len(cfg.Routes) != 2 || len(cfg.Accounts) != 2 {
		t.Errorf("example shape: %d listeners, %d backends, %d routes, %d accounts",
			len(cfg.Listeners), len(cfg.Backends), len(cfg.Routes), len(cfg.Accounts))
	}
	if got := cfg.Routes[0].Admins; len(got) != 1 || got[0] != "cn=provisioner,dc=example,dc=com" {
		t.Errorf("example admins = %q", got)
	}
	if cfg.Routes[0].Gateway == nil {
		t.Error("example gateway missing")
	}
	// Every key of the schema appears in the example.
	data, err := os.ReadFile("../deploy/ldapbridge.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range schemaKeys(reflect.TypeOf(Config{})) {
		if !strings.Contains(string(data), key+":") {
			t.Errorf("example lacks key %q", key)
		}
	}
	// Without skipping file checks the example's paths do not exist here.
	_, err = LoadWithOptions("../deploy/ldapbridge.example.yaml", ParseOptions{LookupEnv: env})
	if err == nil || !strings.Contains(err.Error(), "listeners[1].cert_file") {
		t.Errorf("file checks: %v", err)
	}
}

func schemaKeys(t reflect.Type) []string {
	var keys []string
	for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct || t == secretType {
		return nil
	}
	for i := 0; i < t.NumField(); i++ {
		if name := yamlName(t.Field(i)); name != "" {
			keys = append(keys, name)
			keys = append(keys, schemaKeys(t.Field(i).Type)...)
		}
	}
	return keys
}

// The effective configuration written by YAML parses back to the same
// Config.
func TestYAMLRoundTrip(t *testing.T) {
	dir := t.TempDir()
	secret := writeFile(t, dir, "s", "from-file\n")
	src := edit(base, map[int]string{
		12: "      client_secret_file: " + secret,
		22: `    admins: ["cn=a,dc=example,dc=com"]`,
		28: `    password_hash: "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"`,
		31: `admin: {address: "127.0.0.1:0"}`,
	})
	cfg := mustParse(t, src, ParseOptions{})
	out, err := cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), "from-file") {
		t.Fatal("YAML output contains the secret")
	}
	again := mustParse(t, string(out), ParseOptions{})
	if !reflect.DeepEqual(cfg, again) {
		t.Errorf("round trip differs:\n%s", out)
	}

	// A secret from the environment is redacted, not written.
	cfg = mustParse(t, base, ParseOptions{})
	out, err = cfg.YAML()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(out), secretValue) || !strings.Contains(string(out), "[REDACTED]") {
		t.Errorf("environment secret not redacted:\n%s", out)
	}
}

func TestEscapeDollarsRoundTrip(t *testing.T) {
	for _, s := range []string{"", "a", "$", "$$", "${X}", "$${X}", "a$b", "$2a$05$x", "$$$", "${", "x$"} {
		got, _, err := expand(escapeString(s), envOf(nil))
		if err != nil || got != s {
			t.Errorf("expand(escape(%q)) = %q, %v", s, got, err)
		}
	}
}

func TestEnvExpansion(t *testing.T) {
	env := envOf(map[string]string{
		"P1_SECRET": secretValue, "MAXC": "77", "WATCH": "true", "RATE": "1.5", "IDLE": "2m",
		"EMPTY": "", "HOST": "127.0.0.1", "REGION": "ca",
	})
	src := edit(base, map[int]string{
		3:  `    address: "${HOST}:1389"`,
		10: `      region: ${REGION}`,
		31: "limits:\n  max_connections: ${MAXC}\n  rate_per_ip: \"${RATE}\"\n  idle_timeout: ${IDLE}",
		30: `  audit_file: "$${NOT_A_VAR}-$$-a$b"`,
	})
	src += "reload:\n  watch_config: ${WATCH}\n"
	cfg, ps := parse(t, src, ParseOptions{LookupEnv: env, SkipFileChecks: true})
	if ps != nil {
		t.Fatal(ps)
	}
	if cfg.Listeners[0].Address != "127.0.0.1:1389" || cfg.Backends[0].PingOne.APIURL != "https://api.pingone.ca/v1" {
		t.Errorf("string expansion: %q %q", cfg.Listeners[0].Address, cfg.Backends[0].PingOne.APIURL)
	}
	if cfg.Limits.MaxConnections != 77 || cfg.Limits.RatePerIP != 1.5 || cfg.Limits.IdleTimeout.Duration() != 2*time.Minute || !cfg.Reload.WatchConfig {
		t.Errorf("typed expansion: %+v %+v", cfg.Limits, cfg.Reload)
	}
	if cfg.Log.AuditFile != "${NOT_A_VAR}-$-a$b" {
		t.Errorf("escapes: %q", cfg.Log.AuditFile)
	}
}

func TestFileSecrets(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct{ content, want string }{
		{"s3cret", "s3cret"},
		{"s3cret\n", "s3cret"},
		{"s3cret\r\n", "s3cret"},
		{"s3cret\n\n", "s3cret\n"},
		{" spaced \n", " spaced "},
	} {
		f := writeFile(t, dir, "secret", tc.content)
		cfg := mustParse(t, edit(base, map[int]string{12: "      client_secret_file: " + f}), ParseOptions{})
		if got := cfg.Backends[0].PingOne.ClientSecret.Reveal(); got != tc.want {
			t.Errorf("file %q: secret %q, want %q", tc.content, got, tc.want)
		}
		if cfg.Backends[0].PingOne.ClientSecretFile != f {
			t.Errorf("file name not kept")
		}
	}
	// Skipping file checks leaves the secret empty rather than failing.
	cfg := mustParse(t, edit(base, map[int]string{12: "      client_secret_file: /nonexistent/secret"}), ParseOptions{SkipFileChecks: true})
	if !cfg.Backends[0].PingOne.ClientSecret.IsZero() {
		t.Error("secret read with file checks skipped")
	}
}

type want struct {
	line int
	path string
	msg  string // substring
}

func TestProblems(t *testing.T) {
	dir := t.TempDir()
	certPEM, keyPEM := selfSigned(t)
	_, otherKey := selfSigned(t)
	cert := writeFile(t, dir, "tls.crt", certPEM)
	key := writeFile(t, dir, "tls.key", keyPEM)
	wrongKey := writeFile(t, dir, "other.key", otherKey)
	garbage := writeFile(t, dir, "garbage.pem", "not pem\n")
	emptySecret := writeFile(t, dir, "empty", "\n")

	// 300 routes sharing one list of 1000 admins through an alias: small
	// on disk, 300000 values once expanded.
	var bomb strings.Builder
	bomb.WriteString("listeners: [{name: l, address: \":1\"}]\nbackends: [{name: pd, type: pingdirectory, pingdirectory: {url: \"https://x\"}}]\nroutes:\n")
	bomb.WriteString("  - {base: \"ou=0\", backend: pd, admins: &a [" + strings.Repeat(`"cn=a,dc=x",`, 999) + "\"cn=a,dc=x\"]}\n")
	for i := 1; i < 300; i++ {
		fmt.Fprintf(&bomb, "  - {base: \"ou=%d\", backend: pd, admins: *a}\n", i)
	}

	cases := []struct {
		name  string
		src   string // whole file; "" means base with edits
		edits map[int]string
		env   map[string]string
		want  []want
	}{
		{name: "region", edits: map[int]string{10: "      region: moon"},
			want: []want{{10, "backends[0].pingone.region", `"moon" is not one of com, ca, eu, com.au, sg, asia`}}},
		{name: "bind cache bounds", edits: map[int]string{31: "bind_cache: {enabled: true, ttl: 10m, size: 0}"},
			want: []want{
				{31, "bind_cache.ttl", "10m must be at most 5m: a password changed in the backend keeps binding for this long"},
				{31, "bind_cache.size", "0 must be between 1 and 1048576"},
			}},
		{name: "unknown top-level key", edits: map[int]string{31: "listner: x"},
			want: []want{{31, "listner", `unknown key (did you mean "listeners"?)`}}},
		{name: "unknown key in a list item", edits: map[int]string{4: "    tsl: starttls"},
			want: []want{{4, "listeners[0].tsl", `unknown key (did you mean "tls"?)`}}},
		{name: "unknown key deep in a flow mapping", edits: map[int]string{13: "      user_cache: {size: 1, ttl: 5m, tll: 1m}"},
			want: []want{{13, "backends[0].pingone.user_cache.tll", `unknown key (did you mean "ttl"?)`}}},
		{name: "unknown key under pingdirectory", edits: map[int]string{17: "      uri: https://pd.example.com:1443"},
			want: []want{
				{17, "backends[1].pingdirectory.uri", `unknown key (did you mean "url"?)`},
				{16, "backends[1].pingdirectory.url", "is required"},
			}},
		{name: "section given twice", edits: map[int]string{18: "    pingdirectory: {url: \"https://x\", bogus: 1}"},
			want: []want{
				{18, "backends[1].pingdirectory", "is given twice (first on line 16)"},
			}},
		{name: "address without port", edits: map[int]string{3: "    address: localhost"},
			want: []want{{3, "listeners[0].address", `"localhost" is not host:port`}}},
		{name: "port out of range", edits: map[int]string{3: "    address: 127.0.0.1:99999"},
			want: []want{{3, "listeners[0].address", "the port must be a number from 0 to 65535"}}},
		{name: "bad host", edits: map[int]string{3: `    address: "bad host:389"`},
			want: []want{{3, "listeners[0].address", "the host is not an IP address or host name"}}},
		{name: "duplicate listener", edits: map[int]string{4: `  - {name: ldap, address: ":1389"}`},
			want: []want{
				{4, "listeners[1].name", `"ldap" is also the name of listeners[0]`},
				{4, "listeners[1].address", `conflicts with listeners[0].address`},
			}},
		{name: "admin address conflicts", edits: map[int]string{31: `admin: {address: "127.0.0.1:1389"}`},
			want: []want{{31, "admin.address", "conflicts with listeners[0].address"}}},
		{name: "starttls without cert", edits: map[int]string{4: "    tls: starttls"},
			want: []want{
				{2, "listeners[0].cert_file", "is required"},
				{2, "listeners[0].key_file", "is required"},
			}},
		{name: "cert file missing",
			src:  "listeners:\n  - name: l\n    address: \":636\"\n    tls: ldaps\n    cert_file: " + filepath.Join(dir, "missing.crt") + "\n    key_file: " + key + "\n" + strings.SplitN(base, "    # spare 4\n", 2)[1],
			want: []want{{5, "listeners[0].cert_file", "no such file or directory"}}},
		{name: "key does not match cert",
			src:  "listeners:\n  - name: l\n    address: \":636\"\n    tls: ldaps\n    cert_file: " + cert + "\n    key_file: " + wrongKey + "\n" + strings.SplitN(base, "    # spare 4\n", 2)[1],
			want: []want{{5, "listeners[0].cert_file", "private key does not match public key"}}},
		{name: "cert file is not PEM",
			src:  "listeners:\n  - name: l\n    address: \":636\"\n    tls: starttls\n    cert_file: " + garbage + "\n    key_file: " + key + "\n" + strings.SplitN(base, "    # spare 4\n", 2)[1],
			want: []want{{5, "listeners[0].cert_file", "cannot load"}}},
		{name: "cert_file without tls", edits: map[int]string{4: "    cert_file: " + cert},
			want: []want{{4, "listeners[0].cert_file", "is set but tls is none"}}},
		{name: "min_tls_version", edits: map[int]string{4: "    min_tls_version: 1.1"},
			want: []want{{4, "listeners[0].min_tls_version", `"1.1" is not one of 1.2, 1.3`}}},
		{name: "http to a remote host", edits: map[int]string{17: "      url: http://pd.example.com"},
			want: []want{{17, "backends[1].pingdirectory.url", "must use https (http is allowed only for a loopback host"}}},
		{name: "relative url", edits: map[int]string{17: "      url: pd.example.com/api"},
			want: []want{{17, "backends[1].pingdirectory.url", "is not an absolute URL"}}},
		{name: "url with credentials", edits: map[int]string{17: "      url: https://admin:hunter2@pd.example.com"},
			want: []want{{17, "backends[1].pingdirectory.url", "must not contain credentials"}}},
		{name: "url with a query", edits: map[int]string{17: "      url: https://pd.example.com/?x=1"},
			want: []want{{17, "backends[1].pingdirectory.url", "must not have a query"}}},
		// Wrong place is not wrong password: an API path pasted into a
		// base URL is caught before every bind fails with it.
		{name: "url with the API path", edits: map[int]string{17: "      url: https://pd.example.com:1443/directory/v1/"},
			want: []want{{17, "backends[1].pingdirectory.url", "contains the API path /directory/v1"}}},
		{name: "api_url with the environment path", edits: map[int]string{13: "      api_url: https://api.pingone.eu/v1/environments/x"},
			want: []want{{13, "backends[0].pingone.api_url", "contains an API path"}}},
		{name: "ca_file unreadable", edits: map[int]string{18: "    ca_file: " + filepath.Join(dir, "nope.pem")},
			want: []want{{18, "backends[1].ca_file", "no such file"}}},
		{name: "ca_file without certificates", edits: map[int]string{18: "    ca_file: " + garbage},
			want: []want{{18, "backends[1].ca_file", "contains no PEM certificate"}}},
		{name: "ca_file a device", edits: map[int]string{18: "    ca_file: /dev/null"},
			want: []want{{18, "backends[1].ca_file", "not a regular file"}}},
		{name: "both secrets", edits: map[int]string{13: "      client_secret_file: /run/secrets/x"},
			want: []want{{12, "backends[0].pingone.client_secret", "not both"}}},
		{name: "no secret", edits: map[int]string{12: "      # none"},
			want: []want{{8, "backends[0].pingone.client_secret", "is required (or client_secret_file)"}}},
		{name: "unset variable", edits: map[int]string{12: "      client_secret: ${NOPE}"},
			want: []want{{12, "backends[0].pingone.client_secret", "environment variable NOPE is not set"}}},
		{name: "variable set but empty", edits: map[int]string{12: "      client_secret: ${P1_SECRET}"}, env: map[string]string{"P1_SECRET": ""},
			want: []want{{12, "backends[0].pingone.client_secret", `the value of "${P1_SECRET}" is empty`}}},
		{name: "bad variable reference", edits: map[int]string{12: "      client_secret: ab${x-y}"},
			want: []want{{12, "backends[0].pingone.client_secret", "not a variable reference"}}},
		{name: "unterminated variable", edits: map[int]string{30: "  audit_file: ${LOG"},
			want: []want{{30, "log.audit_file", "unterminated ${"}}},
		{name: "secret file missing", edits: map[int]string{12: "      client_secret_file: " + filepath.Join(dir, "nope")},
			want: []want{{12, "backends[0].pingone.client_secret_file", "no such file"}}},
		{name: "secret file empty", edits: map[int]string{12: "      client_secret_file: " + emptySecret},
			want: []want{{12, "backends[0].pingone.client_secret_file", "is empty"}}},
		{name: "environment id", edits: map[int]string{9: "      environment_id: prod"},
			want: []want{{9, "backends[0].pingone.environment_id", `"prod" is not an environment ID`}}},
		{name: "region missing with one url", edits: map[int]string{10: "      auth_url: https://auth.pingone.eu"},
			want: []want{{8, "backends[0].pingone.region", "is required (one of com, ca, eu, com.au, sg, asia) unless both auth_url and api_url are given"}}},
		{name: "token auth method", edits: map[int]string{13: "      token_auth_method: private_key_jwt"},
			want: []want{{13, "backends[0].pingone.token_auth_method", "is not one of client_secret_basic, client_secret_post"}}},
		{name: "user filter placeholder unquoted", edits: map[int]string{13: "      user_filter: 'username eq {uid}'"},
			want: []want{{13, "backends[0].pingone.user_filter", "must be inside a quoted string"}}},
		{name: "user filter without placeholder", edits: map[int]string{13: `      user_filter: 'username eq "jdoe"'`},
			want: []want{{13, "backends[0].pingone.user_filter", "names no RDN attribute"}}},
		{name: "user filter bad placeholder", edits: map[int]string{13: `      user_filter: 'username eq "{u id}"'`},
			want: []want{{13, "backends[0].pingone.user_filter", "is not an attribute name"}}},
		{name: "negative cache size", edits: map[int]string{13: "      user_cache: {size: -1}"},
			want: []want{{13, "backends[0].pingone.user_cache.size", "must not be negative"}}},
		{name: "backend type", edits: map[int]string{15: "    type: ldap"},
			want: []want{{15, "backends[1].type", `"ldap" is not one of pingdirectory, pingone`}}},
		{name: "section of the other type", edits: map[int]string{18: "    pingone: {environment_id: x}"},
			want: []want{{18, "backends[1].pingone", "is for type pingone, but this backend's type is pingdirectory"}}},
		{name: "missing section", edits: map[int]string{16: "    timeout: 5s", 17: "    # no section"},
			want: []want{{14, "backends[1].pingdirectory", "is required for type pingdirectory"}}},
		{name: "duplicate backend name", edits: map[int]string{14: "  - name: p1"},
			want: []want{
				{14, "backends[1].name", `"p1" is also the name of backends[0]`},
				{24, "routes[1].backend", `"pd" names no backend`},
			}},
		{name: "bad backend name", edits: map[int]string{14: `  - name: "p d"`},
			want: []want{
				{14, "backends[1].name", "must be letters, digits"},
				{24, "routes[1].backend", `"pd" names no backend (backends: "p1", "p d")`},
			}},
		{name: "invalid DN", edits: map[int]string{20: "  - base: not a dn"},
			want: []want{{20, "routes[0].base", `"not a dn" is not a valid DN`}}},
		{name: "base missing", edits: map[int]string{20: "  - backend: p1", 21: "    # none"},
			want: []want{{20, "routes[0].base", `is required (write base: "" to route every DN)`}}},
		{name: "duplicate base", edits: map[int]string{23: "  - base: OU=People,DC=example,DC=com"},
			want: []want{{23, "routes[1].base", "is also the base of routes[0]"}}},
		{name: "unknown backend", edits: map[int]string{21: "    backend: nope"},
			want: []want{{21, "routes[0].backend", `"nope" names no backend (backends: "p1", "pd")`}}},
		{name: "admin DN", edits: map[int]string{22: `    admins: ["cn=ok,dc=x", "=bad"]`},
			want: []want{{22, "routes[0].admins[1]", "is not a valid DN"}}},
		{name: "admins split at commas", edits: map[int]string{22: "    admins: [cn=admin,dc=example,dc=com]"},
			want: []want{{22, "routes[0].admins", "looks like DNs cut at their commas"}}},
		{name: "gateway on a pingdirectory route", edits: map[int]string{25: `    gateway: {id: g, user_type_id: u, correlation: {uid: "{uid}"}}`},
			want: []want{{25, "routes[1].gateway", `only applies to pingone backends, and backend "pd" is pingdirectory`}}},
		{name: "bypass_policy on a pingdirectory route", edits: map[int]string{25: "    bypass_policy: true"},
			want: []want{{25, "routes[1].bypass_policy", "only applies to pingone backends"}}},
		{name: "force_change off on a pingdirectory route", edits: map[int]string{25: "    force_change: false"},
			want: []want{{25, "routes[1].force_change", "only applies to pingone backends"}}},
		{name: "gateway incomplete", edits: map[int]string{22: `    gateway: {id: g, correlation: {"u id": x, mail: "{mail"}}`},
			want: []want{
				{22, "routes[0].gateway.user_type_id", "is required"},
				{22, `routes[0].gateway.correlation["u id"]`, "is not an attribute name"},
				{22, "routes[0].gateway.correlation.mail", "has a { without a closing }"},
			}},
		{name: "durations", edits: map[int]string{31: "limits: {idle_timeout: 0s, write_timeout: 30, message_timeout: soon, drain_timeout: -1s}"},
			want: []want{
				{31, "limits.idle_timeout", `"0s" must be positive`},
				{31, "limits.write_timeout", `has no unit; write it as "30s"`},
				{31, "limits.message_timeout", `"soon" is not a duration`},
				{31, "limits.drain_timeout", `"-1s" must be positive`},
			}},
		{name: "limits out of range", edits: map[int]string{31: "limits: {max_connections: 0, max_ops_per_connection: -3, rate_per_ip: -1, max_message_bytes: 2000000000, failed_binds_per_dn: -1}"},
			want: []want{
				{31, "limits.max_connections", "0 must be at least 1"},
				{31, "limits.max_ops_per_connection", "-3 must be at least 1"},
				{31, "limits.rate_per_ip", "must not be negative"},
				{31, "limits.max_message_bytes", "must be at most"},
				{31, "limits.failed_binds_per_dn", "-1 must be at least 0"},
			}},
		{name: "message limit before a bind", edits: map[int]string{31: "limits: {max_message_bytes: 65536, max_message_bytes_anonymous: 131072}"},
			want: []want{{31, "limits.max_message_bytes_anonymous", "131072 is more than limits.max_message_bytes (65536)"}}},
		{name: "message limit before a bind out of range", edits: map[int]string{31: "limits: {max_message_bytes_anonymous: 0}"},
			want: []want{{31, "limits.max_message_bytes_anonymous", "0 must be at least 1"}}},
		{name: "wrong scalar types", edits: map[int]string{31: `limits: {max_connections: many, max_ops_per_connection: "16", rate_per_ip: .nan}`},
			want: []want{
				{31, "limits.max_connections", `"many" is not an integer`},
				{31, "limits.max_ops_per_connection", `"16" is not an integer`},
				{31, "limits.rate_per_ip", "is not a finite number"},
			}},
		{name: "yes is not a boolean", edits: map[int]string{31: "reload: {watch_config: yes}"},
			want: []want{{31, "reload.watch_config", `"yes" is not true or false`}}},
		{name: "list where a mapping belongs", edits: map[int]string{31: "limits: [1, 2]"},
			want: []want{{31, "limits", "must be a mapping, not a list"}}},
		{name: "mapping where a list belongs", edits: map[int]string{22: "    admins: {a: b}"},
			want: []want{{22, "routes[0].admins", "must be a list, not a mapping"}}},
		{name: "mapping where a string belongs", edits: map[int]string{21: "    backend: {name: p1}"},
			want: []want{{21, "routes[0].backend", "must be a string, not a mapping"}}},
		{name: "key given twice", edits: map[int]string{22: "    backend: p1"},
			want: []want{{22, "routes[0].backend", "is given twice (first on line 21)"}}},
		{name: "value missing", edits: map[int]string{30: "  level:"},
			want: []want{{30, "log.level", "has no value"}}},
		{name: "duplicate key", edits: map[int]string{31: "log: {level: debug}"},
			want: []want{{31, "log", "is given twice (first on line 29)"}}},
		{name: "log level and format", edits: map[int]string{30: "  level: verbose", 31: "admin: {address: nowhere}"},
			want: []want{
				{30, "log.level", `"verbose" is not one of debug, info, warn, error`},
				{31, "admin.address", `"nowhere" is not host:port`},
			}},
		{name: "audit directory missing", edits: map[int]string{30: "  audit_file: " + filepath.Join(dir, "no", "audit.log")},
			want: []want{{30, "log.audit_file", "no such file or directory"}}},
		{name: "password hash unknown", edits: map[int]string{28: "    password_hash: plaintext-password"},
			want: []want{{28, "accounts[0].password_hash", "not a supported password hash"}}},
		{name: "password hash malformed bcrypt", edits: map[int]string{28: `    password_hash: "$2b$99$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"`},
			want: []want{{28, "accounts[0].password_hash", "cost must be"}}},
		{name: "section given twice at the top", edits: map[int]string{31: "accounts: []"},
			want: []want{{31, "accounts", "is given twice (first on line 26)"}}},
		{name: "account duplicate DN", src: strings.Replace(base, "log:\n", "  - {dn: \"CN=svc,DC=example,DC=com\", password_hash: \"$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW\"}\nlog:\n", 1),
			want: []want{{29, "accounts[1].dn", "is also the DN of accounts[0]"}}},
		{name: "merge keys", edits: map[int]string{31: "limits: {<<: {max_connections: 1}}"},
			want: []want{{31, "limits", "merge keys (<<) are not supported"}}},
		{name: "alias to an unknown anchor", edits: map[int]string{31: "limits: *nope"},
			want: []want{{0, "", "invalid YAML: unknown anchor 'nope' referenced"}}},
		{name: "syntax error", edits: map[int]string{3: "    address: [127.0.0.1"},
			want: []want{{0, "", "invalid YAML"}}},
		{name: "tab indentation", edits: map[int]string{4: "\ttls: none"},
			want: []want{{3, "", "invalid YAML: found a tab character"}}},
		{name: "empty file", src: "# nothing\n",
			want: []want{{0, "", "the configuration is empty"}}},
		{name: "root is a list", src: "- a\n- b\n",
			want: []want{{1, "", "must be a mapping of sections"}}},
		{name: "two documents", src: base + "---\nlog: {}\n",
			want: []want{{32, "", "only one YAML document is allowed"}}},
		{name: "nothing required", src: "log: {level: info}\n",
			want: []want{
				{1, "listeners", "at least one listener is required"},
				{1, "backends", "at least one backend is required"},
				{1, "routes", "at least one route is required"},
			}},
		{name: "file too large", src: base + "# " + strings.Repeat("x", 1<<20) + "\n",
			want: []want{{0, "", "larger than 1048576 bytes"}}},
		{name: "alias bomb", src: bomb.String(),
			want: []want{{0, "", "has too many values"}}},
		{name: "expanded value is not quoted back", edits: map[int]string{10: "      region: ${P1_SECRET}"},
			want: []want{{10, "backends[0].pingone.region", `the value of "${P1_SECRET}" is not one of`}}},
		{name: "many problems at once",
			edits: map[int]string{
				3:  "    address: nowhere",
				10: "      region: moon",
				15: "    type: ldap",
				21: "    backend: nope",
				30: "  level: loud",
				31: "bogus: 1",
			},
			want: []want{
				{3, "listeners[0].address", "is not host:port"},
				{10, "backends[0].pingone.region", "is not one of"},
				{15, "backends[1].type", "is not one of"},
				{21, "routes[0].backend", "names no backend"},
				{30, "log.level", "is not one of"},
				{31, "bogus", "unknown key"},
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := tc.src
			if src == "" {
				src = edit(base, tc.edits)
			}
			env := testEnv
			if tc.env != nil {
				env = envOf(tc.env)
			}
			_, ps := parse(t, src, ParseOptions{LookupEnv: env})
			if ps == nil {
				t.Fatalf("no problems; want %v", tc.want)
			}
			checkProblems(t, ps, tc.want)
			if strings.Contains(ps.Error(), secretValue) || strings.Contains(ps.Error(), "hunter2") {
				t.Errorf("a secret reached the error text:\n%v", ps)
			}
			for i := 1; i < len(ps); i++ {
				if ps[i].Line < ps[i-1].Line {
					t.Errorf("problems not in line order:\n%v", ps)
				}
			}
		})
	}
}

func checkProblems(t *testing.T, got Problems, wants []want) {
	t.Helper()
	used := make([]bool, len(got))
next:
	for _, w := range wants {
		for i, p := range got {
			if !used[i] && p.Path == w.path && (w.line == 0 || p.Line == w.line) && strings.Contains(p.Msg, w.msg) {
				used[i] = true
				continue next
			}
		}
		t.Errorf("missing problem line %d %s: ...%s...", w.line, w.path, w.msg)
	}
	for i, p := range got {
		if !used[i] {
			t.Errorf("unexpected problem: %v", p)
		}
	}
}

// Valid variations that strictness must not refuse.
func TestAccepted(t *testing.T) {
	cases := []struct {
		name  string
		edits map[int]string
	}{
		{"empty region with both urls", map[int]string{10: `      region: ""`, 13: "      auth_url: https://a.example.com\n      api_url: https://b.example.com/v1"}},
		{"http on loopback", map[int]string{17: "      url: http://127.0.0.1:8080"}},
		{"http on localhost ipv6", map[int]string{17: "      url: http://[::1]:8080/base/"}},
		{"force_change true on pingdirectory", map[int]string{25: "    force_change: true"}},
		{"both urls without region", map[int]string{10: "      auth_url: https://auth.example.com", 13: "      api_url: https://api.example.com/v1"}},
		{"quoted admins in a flow list", map[int]string{22: `    admins: ["cn=a,dc=x", 'cn=b,dc=x']`}},
		{"single-RDN admins in a block list", map[int]string{22: "    admins:\n      - cn=root\n      - cn=admin"}},
		{"anchors and aliases", map[int]string{22: "    admins: &adm [\"cn=a,dc=x\"]", 25: "    admins: *adm"}},
		{"port 0 listeners", map[int]string{3: `    address: "127.0.0.1:0"`, 4: `  - {name: l2, address: "127.0.0.1:0"}`}},
		{"same port on different hosts", map[int]string{4: `  - {name: l2, address: "127.0.0.2:1389"}`}},
		{"rate as integer", map[int]string{31: "limits: {rate_per_ip: 3}"}},
		{"hex integer", map[int]string{31: "limits: {max_message_bytes: 0x10000}"}},
		{"argon2id hash", map[int]string{28: `    password_hash: "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"`}},
		{"root base", map[int]string{23: `  - base: ""`}},
		{"empty client_secret_file beside client_secret", map[int]string{13: `      client_secret_file: ""`}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			mustParse(t, edit(base, tc.edits), ParseOptions{})
		})
	}
}

// No secret may appear in errors or in any printed form of the config.
func TestSecretsNeverPrinted(t *testing.T) {
	dir := t.TempDir()
	fileSecret := "file-secret-Kq7"
	f := writeFile(t, dir, "s", fileSecret+"\n")
	src := edit(base, map[int]string{
		12: "      client_secret_file: " + f,
		13: "      token_auth_method: ${P1_SECRET}", // a secret in the wrong place
	})
	src = strings.Replace(src, "  - name: pd", "  - name: p2\n    type: pingone\n    pingone: {environment_id: x, region: eu, client_id: c, client_secret: literal-Secret-Jw3, client_secret_file: /x}\n  - name: pd", 1)
	// A secret in a file name: file errors quote the reference, not the path.
	src = strings.Replace(src, "    # spare 4", "    tls: ldaps\n    cert_file: ${P1_SECRET}\n    key_file: /k", 1)
	_, ps := parse(t, src, ParseOptions{})
	checkProblems(t, ps, []want{
		{5, "listeners[0].cert_file", `the value of "${P1_SECRET}": no such file or directory`},
		{0, "backends[0].pingone.token_auth_method", `the value of "${P1_SECRET}" is not one of`},
		{0, "backends[1].pingone.environment_id", `"x" is not an environment ID`},
		{0, "backends[1].pingone.client_secret", "not both"},
	})
	text := ps.Error()
	for _, s := range []string{secretValue, fileSecret, "literal-Secret-Jw3"} {
		if strings.Contains(text, s) {
			t.Errorf("error text contains a secret %q:\n%s", s, text)
		}
	}

	// Valid configs: fmt, %+v, %#v and YAML never show the secret.
	cfg := mustParse(t, base, ParseOptions{})
	cfgFile := mustParse(t, edit(base, map[int]string{12: "      client_secret_file: " + f}), ParseOptions{})
	for _, c := range []*Config{cfg, cfgFile} {
		y, err := c.YAML()
		if err != nil {
			t.Fatal(err)
		}
		po := c.Backends[0].PingOne
		for _, s := range []string{
			fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c),
			fmt.Sprintf("%v", *po), fmt.Sprintf("%+v", po), fmt.Sprintf("%#v", *po),
			fmt.Sprint(c.Backends), string(y),
		} {
			if strings.Contains(s, secretValue) || strings.Contains(s, fileSecret) {
				t.Errorf("printed config contains the secret: %s", s)
			}
		}
		if po.ClientSecret.IsZero() {
			t.Error("secret not resolved")
		}
	}
}

func TestProblemFormat(t *testing.T) {
	ps := Problems{
		{Line: 12, Path: "backends[1].pingone.region", Msg: `"moon" is not one of com, ca, eu, com.au, sg, asia`},
		{Line: 0, Path: "", Msg: "the configuration is empty"},
	}
	want := "line 12: backends[1].pingone.region: \"moon\" is not one of com, ca, eu, com.au, sg, asia\nthe configuration is empty"
	if ps.Error() != want {
		t.Errorf("got %q", ps.Error())
	}
	e := &Error{Name: "x.yaml", Problems: ps[:1]}
	if !strings.HasPrefix(e.Error(), "config x.yaml: 1 problem:\nline 12: ") {
		t.Errorf("got %q", e.Error())
	}
}

func TestDurationYAML(t *testing.T) {
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{10 * time.Minute, "10m"}, {90 * time.Minute, "1h30m"}, {time.Hour, "1h"},
		{30 * time.Second, "30s"}, {1500 * time.Millisecond, "1.5s"}, {2*time.Hour + 5*time.Second, "2h0m5s"},
	} {
		if got := Duration(tc.d).String(); got != tc.want {
			t.Errorf("%v: %q, want %q", tc.d, got, tc.want)
		}
		var v struct{ D Duration }
		if err := yaml.Unmarshal([]byte("d: "+tc.want), &v); err != nil || v.D.Duration() != tc.d {
			t.Errorf("yaml %q = %v, %v", tc.want, v.D, err)
		}
	}
	var v struct{ D Duration }
	for _, bad := range []string{"d: 30", "d: soon", "d: -1s", "d: [1s]"} {
		if err := yaml.Unmarshal([]byte(bad), &v); err == nil {
			t.Errorf("yaml %q accepted", bad)
		}
	}
}
