package deploy

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"sigs.k8s.io/yaml"
)

// The monitoring pack (deploy/monitoring/): alerting rules, their
// promtool unit tests and a Grafana dashboard.
const (
	monitoringDir = "monitoring"
	rulesFile     = "ldapbridge.rules.yaml"
	rulesTestFile = "ldapbridge.rules.test.yaml"
	dashboardFile = "ldapbridge-dashboard.json"
)

// promtool returns promtool's path; a missing promtool fails the test
// (CI must run these checks: scripts/deps.sh installs it).
func promtool(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatal("promtool is not installed: run `make deps` (scripts/deps.sh installs Debian's prometheus package, which ships it)")
	}
	return p
}

func runPromtool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := exec.CommandContext(ctx, promtool(t), args...)
	c.Dir = monitoringDir
	out, err := c.CombinedOutput()
	return string(out), err
}

// TestPromtoolRules runs promtool on the rules and on their unit tests.
func TestPromtoolRules(t *testing.T) {
	if out, err := runPromtool(t, "check", "rules", rulesFile); err != nil {
		t.Errorf("promtool check rules: %v\n%s", err, out)
	}
	if out, err := runPromtool(t, "test", "rules", rulesTestFile); err != nil {
		t.Errorf("promtool test rules: %v\n%s", err, out)
	}
}

// TestPromtoolCatchesBrokenRules pins that the rule tests can fail: a copy
// of the rules with a threshold moved must fail them.
func TestPromtoolCatchesBrokenRules(t *testing.T) {
	rules, err := os.ReadFile(filepath.Join(monitoringDir, rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	tests, err := os.ReadFile(filepath.Join(monitoringDir, rulesTestFile))
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string][2]string{
		"certificate threshold": {"< 14 * 86400", "< 7 * 86400"},
		"idle timeouts counted": {`{limit!="idle_timeout"}`, ""},
	} {
		t.Run(name, func(t *testing.T) {
			if !bytes.Contains(rules, []byte(edit[0])) {
				t.Fatalf("no %q in the rules", edit[0])
			}
			dir := t.TempDir()
			broken := bytes.Replace(rules, []byte(edit[0]), []byte(edit[1]), 1)
			if err := os.WriteFile(filepath.Join(dir, rulesFile), broken, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, rulesTestFile), tests, 0o600); err != nil {
				t.Fatal(err)
			}
			c := exec.Command(promtool(t), "test", "rules", rulesTestFile)
			c.Dir = dir
			if out, err := c.CombinedOutput(); err == nil {
				t.Errorf("promtool test rules passes with the rules broken (%s):\n%s", name, out)
			}
		})
	}
}

// Prometheus rule files, as far as these tests read them.
type ruleFile struct {
	Groups []ruleGroup `json:"groups"`
}

type ruleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []rule `json:"rules"`
}

type rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

type ruleTests struct {
	RuleFiles          []string `json:"rule_files"`
	EvaluationInterval string   `json:"evaluation_interval"`
	Tests              []struct {
		Interval    string `json:"interval"`
		InputSeries []struct {
			Series string `json:"series"`
			Values string `json:"values"`
		} `json:"input_series"`
		AlertRuleTest []struct {
			EvalTime  string `json:"eval_time"`
			Alertname string `json:"alertname"`
			ExpAlerts []struct {
				ExpLabels      map[string]string `json:"exp_labels"`
				ExpAnnotations map[string]string `json:"exp_annotations"`
			} `json:"exp_alerts"`
		} `json:"alert_rule_test"`
	} `json:"tests"`
}

func loadRules(t *testing.T) ruleFile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(monitoringDir, rulesFile))
	if err != nil {
		t.Fatal(err)
	}
	var rf ruleFile
	if err := yaml.UnmarshalStrict(data, &rf); err != nil {
		t.Fatalf("%s: %v", rulesFile, err)
	}
	return rf
}

// The alerts issue 13 asks for, by what they watch.
var wantAlerts = map[string]string{
	"LDAPBridgeBackendUnavailable":      "backend unavailable",
	"LDAPBridgeErrorRatioHigh":          "error ratio",
	"LDAPBridgeOperationsSlow":          "latency",
	"LDAPBridgeCertificateExpiringSoon": "certificate expiring in < 14 days",
	"LDAPBridgeLimitHits":               "limit hits",
	"LDAPBridgeTokenRefreshFailing":     "token refresh failures",
	"LDAPBridgeConfigReloadFailed":      "reload failures",
}

// TestRulesCoverage checks that every wanted alert exists with a severity
// and a summary, and that the promtool tests make each alert fire and
// also not fire.
func TestRulesCoverage(t *testing.T) {
	rf := loadRules(t)
	alerts := map[string]bool{}
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue
			}
			alerts[r.Alert] = true
			if s := r.Labels["severity"]; s != "warning" && s != "critical" {
				t.Errorf("alert %s: severity %q; want warning or critical", r.Alert, s)
			}
			if r.Annotations["summary"] == "" || r.Annotations["description"] == "" {
				t.Errorf("alert %s: no summary or description", r.Alert)
			}
		}
	}
	for a, what := range wantAlerts {
		if !alerts[a] {
			t.Errorf("no alert %s (%s)", a, what)
		}
	}

	data, err := os.ReadFile(filepath.Join(monitoringDir, rulesTestFile))
	if err != nil {
		t.Fatal(err)
	}
	var rt ruleTests
	if err := yaml.UnmarshalStrict(data, &rt); err != nil {
		t.Fatalf("%s: %v", rulesTestFile, err)
	}
	if len(rt.RuleFiles) != 1 || rt.RuleFiles[0] != rulesFile {
		t.Errorf("%s tests %q; want [%s]", rulesTestFile, rt.RuleFiles, rulesFile)
	}
	fires, quiet := map[string]bool{}, map[string]bool{}
	for _, tc := range rt.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname] = true
			} else {
				quiet[a.Alertname] = true
			}
		}
	}
	for a := range alerts {
		if !fires[a] || !quiet[a] {
			t.Errorf("alert %s: the rule tests make it fire: %v, stay quiet: %v; want both", a, fires[a], quiet[a])
		}
	}
}

// dashboard is the part of a Grafana dashboard these tests read.
type dashboard struct {
	Title         string           `json:"title"`
	UID           string           `json:"uid"`
	SchemaVersion int              `json:"schemaVersion"`
	Panels        []dashboardPanel `json:"panels"`
	Templating    struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

type dashboardPanel struct {
	ID      int    `json:"id"`
	Type    string `json:"type"`
	Title   string `json:"title"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []dashboardPanel `json:"panels"` // a collapsed row's
}

func loadDashboard(t *testing.T) dashboard {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(monitoringDir, dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	if !json.Valid(data) {
		t.Fatalf("%s is not valid JSON", dashboardFile)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s: %v", dashboardFile, err)
	}
	return d
}

// dashboardExprs returns every query of the dashboard, by panel title,
// and the template variables' queries.
func dashboardExprs(t *testing.T, d dashboard) map[string]string {
	t.Helper()
	out := map[string]string{}
	ids := map[int]bool{}
	var walk func(ps []dashboardPanel)
	walk = func(ps []dashboardPanel) {
		for _, p := range ps {
			if ids[p.ID] {
				t.Errorf("panel id %d twice", p.ID)
			}
			ids[p.ID] = true
			if p.Type != "row" && len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				if strings.TrimSpace(tg.Expr) == "" {
					t.Errorf("panel %q, query %s: empty expr", p.Title, tg.RefID)
				}
				out[fmt.Sprintf("panel %q query %s", p.Title, tg.RefID)] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			switch q := v.Query.(type) {
			case string:
				out["variable "+v.Name] = q
			case map[string]any:
				s, _ := q["query"].(string)
				out["variable "+v.Name] = s
			}
		}
	}
	return out
}

// TestDashboard checks the dashboard's shape: valid JSON, a title and
// uid, a query in each panel, and its variables used.
func TestDashboard(t *testing.T) {
	d := loadDashboard(t)
	if d.Title == "" || d.UID == "" || d.SchemaVersion == 0 {
		t.Errorf("title %q uid %q schemaVersion %d; want all set", d.Title, d.UID, d.SchemaVersion)
	}
	exprs := dashboardExprs(t, d)
	if len(exprs) < 10 {
		t.Errorf("%d queries; want the operations, backends, limits, certificates and reloads covered", len(exprs))
	}
	for where, e := range exprs {
		if strings.HasPrefix(where, "panel") && !strings.Contains(e, `job=~"$job"`) {
			t.Errorf("%s ignores the job variable: %s", where, e)
		}
	}
}

// metricNameRE finds the metric names in a PromQL expression once its
// strings are removed: every identifier with one of the binary's prefixes.
var (
	promStringRE = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	metricNameRE = regexp.MustCompile(`\b(?:ldapbridge|go|process|promhttp)_[a-zA-Z0-9_:]*`)
	// An identifier right before a selector's brace or a range: a metric
	// name, whatever its prefix (catches a name the regexp above misses).
	selectorRE = regexp.MustCompile(`([a-zA-Z_:][a-zA-Z0-9_:]*)\s*[{\[]`)
)

func metricNames(expr string) []string {
	e := promStringRE.ReplaceAllString(expr, `""`)
	seen := map[string]bool{}
	for _, m := range metricNameRE.FindAllString(e, -1) {
		seen[m] = true
	}
	for _, m := range selectorRE.FindAllStringSubmatch(e, -1) {
		switch m[1] {
		case "by", "without", "on", "ignoring", "group_left", "group_right", "offset":
		default:
			seen[m[1]] = true
		}
	}
	out := make([]string, 0, len(seen))
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`sum by (job) (rate(ldapbridge_a_total{result=~"ldapbridge_not_a_name|x"}[5m])) / on (job) go_goroutines{job="x"} + other_metric[5m]`)
	if want := "go_goroutines ldapbridge_a_total other_metric"; strings.Join(got, " ") != want {
		t.Errorf("metricNames = %q; want %q", got, want)
	}
}

// Metric families the demo cannot show without an event a test does not
// cause: they must be declared in the source instead (and are checked
// against the scrape whenever they do show).
var eventOnlyFamilies = map[string]string{
	"ldapbridge_backend_cache_hits_total":   "depends on the backend's caches",
	"ldapbridge_backend_cache_misses_total": "depends on the backend's caches",
}

// declaredInSource reports whether a Go file of the binary (metrics/ or
// cmd/ldapbridge/, tests excluded) declares family name.
func declaredInSource(t *testing.T, name string) bool {
	t.Helper()
	var files []string
	for _, dir := range []string{"metrics", "cmd/ldapbridge"} {
		fs, err := filepath.Glob(filepath.Join(moduleRoot, dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, fs...)
	}
	rest, ok := strings.CutPrefix(name, "ldapbridge_")
	if !ok {
		return false
	}
	var pats []*regexp.Regexp
	pats = append(pats, regexp.MustCompile(regexp.QuoteMeta(`"`+name+`"`)),
		regexp.MustCompile(`Namespace:\s*namespace,\s*Name:\s*"`+regexp.QuoteMeta(rest)+`"`))
	for i := 0; i < len(rest); i++ {
		if rest[i] == '_' {
			sub, n := rest[:i], rest[i+1:]
			pats = append(pats,
				regexp.MustCompile(`Subsystem:\s*"`+regexp.QuoteMeta(sub)+`",\s*Name:\s*"`+regexp.QuoteMeta(n)+`"`),
				regexp.MustCompile(`(?s)BuildFQName\("ldapbridge",\s*"`+regexp.QuoteMeta(sub)+`".*"`+regexp.QuoteMeta(n)+`"`))
		}
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range pats {
			if p.Match(data) {
				return true
			}
		}
	}
	return false
}

// TestMonitoringMetricsExist starts the real binary's demo, drives a few
// binds through both simulators, scrapes /metrics, and requires every
// metric name in the alert rules and the dashboard to be a family the
// binary exposes (a histogram's _bucket, _sum and _count included).
func TestMonitoringMetricsExist(t *testing.T) {
	families := scrapeDemo(t)
	known := func(n string) bool {
		if _, ok := families[n]; ok {
			return true
		}
		for _, suf := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(n, suf); ok {
				if typ := families[base]; typ == "HISTOGRAM" || (suf != "_bucket" && typ == "SUMMARY") {
					return true
				}
			}
		}
		return false
	}
	uses := map[string][]string{} // name -> where
	for _, g := range loadRules(t).Groups {
		for _, r := range g.Rules {
			for _, n := range metricNames(r.Expr) {
				uses[n] = append(uses[n], "alert "+r.Alert)
			}
		}
	}
	for where, e := range dashboardExprs(t, loadDashboard(t)) {
		for _, n := range metricNames(e) {
			uses[n] = append(uses[n], where)
		}
	}
	if len(uses) < 10 {
		t.Fatalf("only %d metric names found in the rules and the dashboard", len(uses))
	}
	for n, where := range uses {
		switch {
		case known(n):
		case eventOnlyFamilies[n] != "" && declaredInSource(t, n):
			t.Logf("%s is not in the demo's scrape (%s); declared in the source", n, eventOnlyFamilies[n])
		default:
			sort.Strings(where)
			t.Errorf("%s is not a metric the binary exposes; used by %s", n, strings.Join(where, ", "))
		}
	}
}

// scrapeDemo runs `ldapbridge demo` on free loopback ports, binds through
// both routes (and fails one bind), and returns its /metrics families'
// types (COUNTER, HISTOGRAM, ...) by name.
func scrapeDemo(t *testing.T) map[string]string {
	t.Helper()
	bin := binary(t)
	var ldapsAddr, adminAddr string
	var cmd *exec.Cmd
	var done chan struct{}
	var stderr bytes.Buffer
	for attempt := 0; ; attempt++ {
		ldapsAddr, adminAddr = freeLoopback(t), freeLoopback(t)
		cmd = exec.Command(bin, "demo", "--ldap-addr", freeLoopback(t), "--ldaps-addr", ldapsAddr, "--admin-addr", adminAddr)
		stderr.Reset()
		cmd.Stdout, cmd.Stderr = io.Discard, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done = make(chan struct{})
		go func(c *exec.Cmd, done chan struct{}) { _ = c.Wait(); close(done) }(cmd, done)
		err := waitHealthy(adminAddr, done)
		if err == nil {
			break
		}
		_ = cmd.Process.Kill()
		<-done
		if attempt == 3 || !strings.Contains(stderr.String(), "address already in use") {
			t.Fatalf("ldapbridge demo: %v\n%s", err, stderr.String())
		}
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})

	conn, err := ldap.DialURL("ldaps://"+ldapsAddr, ldap.DialWithTLSConfig(&tls.Config{InsecureSkipVerify: true})) // the demo's generated certificate
	if err != nil {
		t.Fatalf("dial the demo: %v", err)
	}
	defer conn.Close()
	// The demo's published users (cmd/ldapbridge/demo.go).
	for _, b := range []struct {
		dn, pw string
		ok     bool
	}{
		{"uid=bob,ou=staff,dc=example,dc=com", "Bob-Passw0rd!", true},
		{"uid=alice,ou=people,dc=example,dc=com", "Alice-Passw0rd!", true},
		{"uid=alice,ou=people,dc=example,dc=com", "wrong", false},
	} {
		if err := conn.Bind(b.dn, b.pw); (err == nil) != b.ok {
			t.Fatalf("bind %s: %v (want success %v)", b.dn, err, b.ok)
		}
	}

	resp, err := http.Get("http://" + adminAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	types := map[string]string{}
	for name, mf := range mfs {
		types[name] = mf.GetType().String()
	}
	return types
}

func freeLoopback(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// waitHealthy polls the admin listener's /healthz until it answers 200,
// the process exits (done is closed), or 30 s pass.
func waitHealthy(admin string, done <-chan struct{}) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + admin + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("exited before /healthz answered")
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("/healthz on %s did not answer 200 within 30 s", admin)
}
