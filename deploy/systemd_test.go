package deploy

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/config"
)

const (
	unitPath       = "systemd/ldapbridge.service"
	unitConfigPath = "systemd/ldapbridge.yaml"
	// credentialsDir is $CREDENTIALS_DIRECTORY for a system service.
	credentialsDir = "/run/credentials/ldapbridge.service"
)

// unitFile is a parsed systemd unit: section -> key -> values in order. A
// bare "Key=" empties the list, as systemd does for list settings.
type unitFile map[string]map[string][]string

// parseUnit reads a systemd unit file: [Section] headers, Key=Value
// lines, # and ; comments, and lines continued with a backslash.
func parseUnit(data []byte) (unitFile, error) {
	u := unitFile{}
	var section string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	n := 0
	pending := ""
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if pending == "" && (line == "" || line[0] == '#' || line[0] == ';') {
			continue
		}
		if strings.HasSuffix(line, `\`) {
			pending += strings.TrimSpace(strings.TrimSuffix(line, `\`)) + " "
			continue
		}
		line, pending = strings.TrimSpace(pending+line), ""
		if strings.HasPrefix(line, "[") {
			if !strings.HasSuffix(line, "]") || len(line) < 3 {
				return nil, fmt.Errorf("line %d: bad section header %q", n, line)
			}
			section = line[1 : len(line)-1]
			if u[section] == nil {
				u[section] = map[string][]string{}
			}
			continue
		}
		if section == "" {
			return nil, fmt.Errorf("line %d: setting outside a section", n)
		}
		k, v, ok := strings.Cut(line, "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			return nil, fmt.Errorf("line %d: not Key=Value: %q", n, line)
		}
		if v == "" {
			u[section][k] = []string{}
		} else {
			u[section][k] = append(u[section][k], v)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if pending != "" {
		return nil, fmt.Errorf("line %d: the file ends inside a continued line", n)
	}
	return u, nil
}

// last returns the effective value of a single-valued setting.
func (u unitFile) last(section, key string) (string, bool) {
	vs, ok := u[section][key]
	if !ok || len(vs) == 0 {
		return "", ok
	}
	return vs[len(vs)-1], true
}

// words returns the space-separated items of a list setting, all lines.
func (u unitFile) words(section, key string) []string {
	var out []string
	for _, v := range u[section][key] {
		out = append(out, strings.Fields(v)...)
	}
	return out
}

// systemdBool normalises systemd's boolean spellings.
func systemdBool(s string) string {
	switch strings.ToLower(s) {
	case "1", "yes", "y", "true", "t", "on":
		return "yes"
	case "0", "no", "n", "false", "f", "off":
		return "no"
	}
	return s
}

var bareNumberRE = regexp.MustCompile(`^[0-9]+(\.[0-9]+)?$`)

var spanRE = regexp.MustCompile(`^\s*([0-9]+(?:\.[0-9]+)?)\s*([a-z]+)`)

// systemdDuration reads a systemd time span such as 45s, 1min 30s or 90.
func systemdDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if bareNumberRE.MatchString(s) {
		s += "s"
	}
	units := map[string]time.Duration{
		"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second, "sec": time.Second,
		"m": time.Minute, "min": time.Minute, "h": time.Hour, "hr": time.Hour,
	}
	var total float64
	rest := s
	for rest != "" {
		m := spanRE.FindStringSubmatch(rest)
		if m == nil {
			return 0, fmt.Errorf("bad time span %q", s)
		}
		u, ok := units[m[2]]
		if !ok {
			return 0, fmt.Errorf("bad time unit %q in %q", m[2], s)
		}
		n, _ := strconv.ParseFloat(m[1], 64)
		total += n * float64(u)
		rest = strings.TrimSpace(rest[len(m[0]):])
	}
	if s == "" || total >= math.MaxInt64 {
		return 0, fmt.Errorf("bad time span %q", s)
	}
	return time.Duration(total), nil
}

// unitProblems checks the unit against the sandboxing the bridge needs
// and against the configuration it ships with.
func unitProblems(u unitFile, cfgText string) []string {
	var probs []string
	addf := func(format string, args ...any) { probs = append(probs, fmt.Sprintf(format, args...)) }

	const S = "Service"
	for _, want := range []struct{ key, value string }{
		{"DynamicUser", "yes"},
		{"ProtectSystem", "strict"},
		{"ProtectHome", "yes"},
		{"PrivateTmp", "yes"},
		{"PrivateDevices", "yes"},
		{"NoNewPrivileges", "yes"},
		{"MemoryDenyWriteExecute", "yes"},
		{"LockPersonality", "yes"},
		{"RestrictNamespaces", "yes"},
		{"ProtectKernelTunables", "yes"},
		{"ProtectKernelModules", "yes"},
		{"ProtectKernelLogs", "yes"},
		{"ProtectControlGroups", "yes"},
		{"ProtectClock", "yes"},
		{"ProtectHostname", "yes"},
		{"RestrictRealtime", "yes"},
		{"RestrictSUIDSGID", "yes"},
		{"UMask", "0077"},
		{"Restart", "on-failure"},
		{"RestrictAddressFamilies", "AF_INET AF_INET6 AF_UNIX"},
	} {
		got, ok := u.last(S, want.key)
		if !ok {
			addf("%s= is not set", want.key)
		} else if systemdBool(got) != want.value {
			addf("%s=%s; want %s", want.key, got, want.value)
		}
	}
	if !contains(u.words(S, "SystemCallFilter"), "@system-service") {
		addf("SystemCallFilter does not allow only @system-service")
	}
	if len(u.words(S, "ReadOnlyPaths")) == 0 {
		addf("ReadOnlyPaths= is not set")
	}

	start, _ := u.last(S, "ExecStart")
	argv := strings.Fields(start)
	if len(argv) != 4 || path.Base(argv[0]) != "ldapbridge" || argv[1] != "serve" || argv[2] != "--config" {
		addf("ExecStart=%s; want .../ldapbridge serve --config FILE", start)
		return probs
	}
	bin, cfgFile := argv[0], argv[3]
	if path.Base(cfgFile) != path.Base(unitConfigPath) {
		addf("ExecStart reads %s; the shipped configuration is %s", cfgFile, path.Base(unitConfigPath))
	}
	if !underAny(cfgFile, u.words(S, "ReadOnlyPaths")) {
		addf("the configuration %s is not under ReadOnlyPaths", cfgFile)
	}
	reload := u[S]["ExecReload"]
	if len(reload) == 0 || reload[len(reload)-1] != "/bin/kill -HUP $MAINPID" {
		addf("ExecReload= does not end with /bin/kill -HUP $MAINPID (SIGHUP reloads)")
	}
	for _, r := range reload[:max(len(reload)-1, 0)] {
		if r != bin+" check-config --config "+cfgFile {
			addf("ExecReload=%s is neither the kill nor a check-config of %s", r, cfgFile)
		}
	}

	// The configuration, with the credentials directory systemd sets.
	env := map[string]string{"CREDENTIALS_DIRECTORY": credentialsDir}
	cfg, err := parseConfigErr(cfgText, env)
	if err != nil {
		addf("%v", err)
		return probs
	}

	// Capabilities: exactly what the ports need.
	low := false
	for _, l := range cfg.Listeners {
		if _, port, err := hostPort(l.Address); err == nil && port < 1024 {
			low = true
		}
	}
	if _, port, err := hostPort(cfg.Admin.Address); err == nil && port < 1024 {
		low = true
	}
	wantCaps := ""
	if low {
		wantCaps = "CAP_NET_BIND_SERVICE"
	}
	for _, key := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
		_, set := u[S][key]
		got := strings.Join(u.words(S, key), " ")
		switch {
		case !set && key == "CapabilityBoundingSet":
			addf("CapabilityBoundingSet= is not set (every capability would stay in the bounding set)")
		case got != wantCaps:
			addf("%s=%s; the listeners need %q", key, got, wantCaps)
		}
	}

	// Stopping: the drain must end before SIGKILL.
	stop, ok := u.last(S, "TimeoutStopSec")
	if !ok {
		addf("TimeoutStopSec= is not set (the default, 90s, may be changed system-wide)")
	} else if d, err := systemdDuration(stop); err != nil {
		addf("TimeoutStopSec: %v", err)
	} else if d <= time.Duration(cfg.Limits.DrainTimeout) {
		addf("TimeoutStopSec=%s is not above limits.drain_timeout (%s)", stop, time.Duration(cfg.Limits.DrainTimeout))
	}

	// Every credential the configuration reads is loaded, and nothing else.
	loaded := map[string]bool{}
	for _, lc := range u[S]["LoadCredential"] {
		name, src, _ := strings.Cut(lc, ":")
		loaded[name] = true
		if !underAny(src, u.words(S, "ReadOnlyPaths")) {
			addf("LoadCredential %s reads %s, outside ReadOnlyPaths", name, src)
		}
	}
	used := map[string]bool{}
	for _, p := range credentialFiles(cfg) {
		name, ok := strings.CutPrefix(p, credentialsDir+"/")
		if !ok {
			addf("%s is not a credential (secrets reach the dynamic user only as credentials)", p)
			continue
		}
		used[name] = true
		if !loaded[name] {
			addf("the configuration reads credential %s, which no LoadCredential= provides", name)
		}
	}
	for name := range loaded {
		if !used[name] {
			addf("LoadCredential %s is loaded but never read", name)
		}
	}

	// The audit file needs a writable directory under ProtectSystem=strict.
	if af := cfg.Log.AuditFile; af != "" {
		ok := false
		for _, d := range u.words(S, "LogsDirectory") {
			ok = ok || path.Dir(af) == "/var/log/"+d
		}
		for _, d := range u.words(S, "StateDirectory") {
			ok = ok || path.Dir(af) == "/var/lib/"+d
		}
		if !ok {
			addf("log.audit_file %s is not in a LogsDirectory= or StateDirectory=", af)
		}
	}
	return probs
}

// credentialFiles lists the files a configuration reads certificates,
// keys and secrets from.
func credentialFiles(cfg *config.Config) []string {
	var out []string
	for _, l := range cfg.Listeners {
		if l.TLS != config.TLSNone {
			out = append(out, l.CertFile, l.KeyFile)
		}
	}
	for _, b := range cfg.Backends {
		if b.CAFile != "" {
			out = append(out, b.CAFile)
		}
		if b.PingOne != nil && b.PingOne.ClientSecretFile != "" {
			out = append(out, b.PingOne.ClientSecretFile)
		}
	}
	return out
}

func underAny(p string, dirs []string) bool {
	for _, d := range dirs {
		d = strings.TrimPrefix(strings.TrimPrefix(d, "-"), "+")
		if p == d || strings.HasPrefix(p, strings.TrimSuffix(d, "/")+"/") {
			return true
		}
	}
	return false
}

// TestSystemdUnit checks the unit's sandboxing and its agreement with the
// configuration shipped beside it.
func TestSystemdUnit(t *testing.T) {
	data, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	u, err := parseUnit(data)
	if err != nil {
		t.Fatal(err)
	}
	cfgText, err := os.ReadFile(unitConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	if probs := unitProblems(u, string(cfgText)); len(probs) > 0 {
		t.Errorf("%d problems:\n  %s", len(probs), strings.Join(probs, "\n  "))
	}
	if got, want := strings.Join(placeholdersIn(t, unitConfigPath, unitPath), " "), phClientID+" "+phEnvironmentID; got != want {
		t.Errorf("placeholders %q; want %q", got, want)
	}
}

// TestSystemdUnitChecksCatchMistakes breaks the unit and its configuration
// and requires the checks to say so.
func TestSystemdUnitChecksCatchMistakes(t *testing.T) {
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile(unitConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name             string
		unitOld, unitNew string
		cfgOld, cfgNew   string
		want             string
	}{
		{name: "short stop timeout", unitOld: "TimeoutStopSec=45s", unitNew: "TimeoutStopSec=30s", want: "TimeoutStopSec=30s is not above"},
		{name: "no capability for port 389", unitOld: "AmbientCapabilities=CAP_NET_BIND_SERVICE", unitNew: "AmbientCapabilities=", want: "AmbientCapabilities="},
		{name: "capability not needed", cfgOld: "address: :", cfgNew: "address: :1", want: "CapabilityBoundingSet=CAP_NET_BIND_SERVICE; the listeners need \"\""},
		{name: "credential not loaded", unitOld: "LoadCredential=tls.key:/etc/ldapbridge/tls.key\n", unitNew: "", want: "which no LoadCredential= provides"},
		{name: "no reload", unitOld: "ExecReload=/bin/kill -HUP $MAINPID", unitNew: "ExecReload=/bin/true", want: "SIGHUP"},
		{name: "writable home", unitOld: "ProtectHome=yes", unitNew: "ProtectHome=no", want: "ProtectHome=no"},
		{name: "system call filter", unitOld: "SystemCallFilter=@system-service", unitNew: "SystemCallFilter=@default", want: "@system-service"},
		{name: "audit file elsewhere", cfgOld: "/var/log/ldapbridge/audit.log", cfgNew: "/srv/audit.log", want: "log.audit_file"},
		{name: "secret outside credentials", cfgOld: "${CREDENTIALS_DIRECTORY}/pingone-client-secret", cfgNew: "/etc/ldapbridge/pingone-client-secret", want: "is not a credential"},
		{name: "config typo", cfgOld: "drain_timeout:", cfgNew: "drain_timout:", want: "drain_timout"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			un, cf := string(unit), string(cfg)
			if tc.unitOld != "" {
				if !strings.Contains(un, tc.unitOld) {
					t.Fatalf("the unit has no %q", tc.unitOld)
				}
				un = strings.Replace(un, tc.unitOld, tc.unitNew, 1)
			}
			if tc.cfgOld != "" {
				if !strings.Contains(cf, tc.cfgOld) {
					t.Fatalf("the configuration has no %q", tc.cfgOld)
				}
				cf = strings.ReplaceAll(cf, tc.cfgOld, tc.cfgNew)
			}
			u, err := parseUnit([]byte(un))
			if err != nil {
				t.Fatal(err)
			}
			probs := unitProblems(u, cf)
			for _, p := range probs {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("no problem mentions %q; got:\n  %s", tc.want, strings.Join(probs, "\n  "))
		})
	}
}

// TestParseUnit pins the unit parser.
func TestParseUnit(t *testing.T) {
	u, err := parseUnit([]byte("# c\n[Service]\nA=1\n; c\nA=2\nB=x \\\n  y\nC=\n[Install]\nWantedBy=multi-user.target\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(u["Service"]); got != "map[A:[1 2] B:[x y] C:[]]" {
		t.Errorf("Service = %s", got)
	}
	if v, _ := u.last("Install", "WantedBy"); v != "multi-user.target" {
		t.Errorf("WantedBy = %q", v)
	}
	for _, bad := range []string{"A=1\n", "[Service]\nnot a setting\n", "[Service]\nA=1 \\\n", "[\n", "[Service]\nA B=1\n"} {
		if _, err := parseUnit([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	for in, want := range map[string]time.Duration{"45s": 45 * time.Second, "1min 30s": 90 * time.Second, "90": 90 * time.Second, "2m": 2 * time.Minute, "500ms": 500 * time.Millisecond} {
		if got, err := systemdDuration(in); err != nil || got != want {
			t.Errorf("systemdDuration(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "45 fortnights", "s", "1x", "NaN", "Inf", "1e400s", "99999999999999999999h"} {
		if _, err := systemdDuration(bad); err == nil {
			t.Errorf("systemdDuration(%q): no error", bad)
		}
	}
}

// TestSystemdAnalyze runs systemd's own checks where systemd-analyze is
// installed (the parsing checks above run everywhere): verify must be
// silent, and the offline security analysis must rate the sandbox "OK"
// (exposure at most 2.0 of 10).
func TestSystemdAnalyze(t *testing.T) {
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Log("systemd-analyze is not installed: only the parsing checks ran")
		return
	}
	unit, err := os.ReadFile(unitPath)
	if err != nil {
		t.Fatal(err)
	}
	// verify insists that ExecStart's binary exists: use the one built
	// from the Dockerfile's command.
	dir := t.TempDir()
	uf := filepath.Join(dir, "ldapbridge.service")
	if err := os.WriteFile(uf, bytes.ReplaceAll(unit, []byte("/usr/local/bin/ldapbridge"), []byte(binary(t))), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(sa, "verify", uf).CombinedOutput()
	if err != nil || len(bytes.TrimSpace(out)) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	ver, _ := exec.Command(sa, "--version").Output()
	m := regexp.MustCompile(`^systemd (\d+)`).FindSubmatch(ver)
	if m == nil {
		t.Fatalf("systemd-analyze --version: %q", ver)
	}
	if n, _ := strconv.Atoi(string(m[1])); n < 250 {
		t.Logf("systemd %d has no offline security analysis (250+)", n)
		return
	}
	out, err = exec.Command(sa, "security", "--offline=true", "--threshold=20", "--no-pager", uf).CombinedOutput()
	if err != nil {
		t.Errorf("systemd-analyze security rates the unit above 2.0: %v\n%s", err, out)
	}
}

// TestSystemdConfigWithBinary runs the real binary's check-config on the
// shipped configuration, filled in, with the credentials in place.
func TestSystemdConfigWithBinary(t *testing.T) {
	text, err := os.ReadFile(unitConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	creds := t.TempDir()
	logs := t.TempDir()
	for _, name := range []string{"tls.crt", "tls.key", "pingone-client-secret"} {
		if err := os.WriteFile(filepath.Join(creds, name), fileContent(t, name, phClientSecret), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg := strings.ReplaceAll(fill(string(text)), "/var/log/ldapbridge/", logs+"/")
	cfgFile := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := runBinary(t, []string{"CREDENTIALS_DIRECTORY=" + creds}, "check-config", "--config", cfgFile)
	if err != nil || strings.TrimSpace(out) != "ok" {
		t.Errorf("ldapbridge check-config: %v\n%s", err, out)
	}
}
