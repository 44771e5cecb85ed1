package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"text/template"
	"time"

	"github.com/go-ldap/ldap/v3"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/internal/testkit/simkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// Helpers of the operations tests (ops_*_test.go): a "serve" process with
// a configuration file, both simulators in the test process, and the
// admin endpoints.

// opsEnv is what an operations test runs against.
type opsEnv struct {
	dir        string
	cfgPath    string
	ldap       string // LDAP listener host:port
	strict     string // when set, a second listener, "strict", that refuses cleartext binds
	admin      string // admin listener host:port
	pdURL      string
	p1URL      string
	auditFile  string // "" = audit records in the log
	level      string
	format     string
	watch      bool
	extraRoute string // appended to the routes (YAML)
	extra      string // appended to the file (YAML)
}

var opsConfigTmpl = template.Must(template.New("ops").Parse(`listeners:
  - name: ldap
    address: "{{.LDAP}}"
{{if .Strict}}  - name: strict
    address: "{{.Strict}}"
    cleartext: refuse
{{end}}backends:
  - name: pd
    type: pingdirectory
    timeout: 20s
    pingdirectory:
      url: "{{.PD}}"
  - name: p1
    type: pingone
    timeout: 20s
    pingone:
      environment_id: "` + demoEnvID + `"
      auth_url: "{{.P1}}"
      api_url: "{{.P1}}/v1"
      client_id: "` + demoClientID + `"
      client_secret: "` + demoClientSecret + `"
routes:
  - base: "dc=example,dc=com"
    backend: pd
  - base: "ou=people,dc=example,dc=com"
    backend: p1
    admins: ["` + demoAdminDN + `"]
{{.ExtraRoute}}log:
  level: {{.Level}}
  format: {{.Format}}
  audit_file: "{{.Audit}}"
admin:
  address: "{{.Admin}}"
reload:
  watch_config: {{.Watch}}
{{.Extra}}`))

// newOpsEnv picks free ports and a temporary directory; the simulators'
// URLs are set by the caller.
func newOpsEnv(t *testing.T) *opsEnv {
	t.Helper()
	dir := t.TempDir()
	return &opsEnv{
		dir: dir, cfgPath: filepath.Join(dir, "ldapbridge.yaml"),
		ldap: freeAddr(t), admin: freeAddr(t), level: "info", format: "json",
	}
}

// write writes the configuration file.
func (e *opsEnv) write(t *testing.T) {
	t.Helper()
	var b bytes.Buffer
	if err := opsConfigTmpl.Execute(&b, map[string]any{
		"LDAP": e.ldap, "Strict": e.strict, "PD": e.pdURL, "P1": e.p1URL, "Level": e.level, "Format": e.format,
		"Audit": e.auditFile, "Admin": e.admin, "Watch": e.watch, "Extra": e.extra, "ExtraRoute": e.extraRoute,
	}); err != nil {
		t.Fatal(err)
	}
	opsWriteFile(t, e.cfgPath, b.String())
}

// opsWriteFile replaces a file in one step (a reader never sees half of
// it), as configuration management tools do.
func opsWriteFile(t *testing.T, path, content string) {
	t.Helper()
	testkit.ReplaceFile(t, path, content)
}

func opsRead(t *testing.T, path string) string { t.Helper(); return testkit.ReadFile(t, path) }

// opsDirectory starts a PingDirectory simulator with the demo's users.
func opsDirectory(t *testing.T) (*directorysim.Server, string) {
	t.Helper()
	return simkit.Directory(t, directorysim.Config{
		Policy: directorysim.Policy{MinLength: 8, MinDigits: 1, History: 3},
		Admins: []string{demoAdminDN},
	}, map[string]string{demoBobDN: demoBobPW, demoAdminDN: demoAdminPW})
}

// opsPingOne starts a PingOne simulator with alice.
func opsPingOne(t *testing.T) (*pingonesim.Server, string) {
	t.Helper()
	p1, u, _ := simkit.PingOne(t, pingonesim.Config{EnvironmentID: demoEnvID, ClientID: demoClientID, ClientSecret: demoClientSecret},
		simkit.User{Name: "alice", Email: "alice@example.com", Password: demoAlicePW})
	return p1, u
}

// opsServe runs "ldapbridge serve" on e's configuration and waits until it
// logs that it serves.
func opsServe(t *testing.T, e *opsEnv) *proc {
	t.Helper()
	return testkit.MustStart(t, testkit.Spec{Path: binPath, Args: []string{"serve", "--config", e.cfgPath},
		Ready: "ldapbridge serving", ReadyOn: testkit.Stderr})
}

// opsWaitLog waits until the process has logged n lines containing every
// one of parts.
func opsWaitLog(t *testing.T, p *proc, n int, parts ...string) {
	t.Helper()
	p.WaitOutput(t, testkit.Stderr, 30*time.Second, fmt.Sprintf("%d log lines with %q", n, parts), func(text string) bool {
		found := 0
		for _, l := range strings.Split(text, "\n") {
			ok := true
			for _, s := range parts {
				ok = ok && strings.Contains(l, s)
			}
			if ok {
				found++
			}
		}
		return found >= n
	})
}

// opsGet fetches an admin URL.
func opsGet(t *testing.T, url string) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 20 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// opsWaitStatus polls url until it answers want.
func opsWaitStatus(t *testing.T, url string, want int) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := opsGet(t, url)
		if code == want {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET %s: %d, want %d:\n%s", url, code, want, body)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// opsMetrics is one scrape of /metrics, parsed by Prometheus' own parser.
type opsMetrics map[string]*dto.MetricFamily

func opsScrape(t *testing.T, admin string) opsMetrics {
	t.Helper()
	code, body := opsGet(t, "http://"+admin+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics: %d\n%s", code, body)
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	mfs, err := p.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("the Prometheus text parser rejects /metrics: %v\n%s", err, body)
	}
	return mfs
}

// get returns the sum of the series of name whose labels include labels
// (counters, gauges, or histograms' sample counts). It fails the test when
// the family is not in the scrape or no series has those labels, and then
// returns NaN, which equals nothing: an absent series must not read as
// zero.
func (m opsMetrics) get(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	if m[name] == nil {
		t.Errorf("/metrics has no %s", name)
		return math.NaN()
	}
	sum, n := m.sum(name, labels)
	if n == 0 {
		t.Errorf("/metrics has no %s series with labels %v; it has %v", name, labels, m.series(name))
		return math.NaN()
	}
	return sum
}

// total is get for counts that may not have started yet: an absent family
// or series is zero.
func (m opsMetrics) total(name string, labels map[string]string) float64 {
	sum, _ := m.sum(name, labels)
	return sum
}

// sum adds up the matching series and says how many matched.
func (m opsMetrics) sum(name string, labels map[string]string) (float64, int) {
	mf := m[name]
	if mf == nil {
		return 0, 0
	}
	var sum float64
	n := 0
	for _, mt := range mf.Metric {
		have := map[string]string{}
		for _, l := range mt.Label {
			have[l.GetName()] = l.GetValue()
		}
		match := true
		for k, v := range labels {
			got, ok := have[k]
			match = match && ok && got == v
		}
		if !match {
			continue
		}
		n++
		switch {
		case mt.Counter != nil:
			sum += mt.Counter.GetValue()
		case mt.Gauge != nil:
			sum += mt.Gauge.GetValue()
		case mt.Histogram != nil:
			sum += float64(mt.Histogram.GetSampleCount())
		}
	}
	return sum, n
}

// series lists the label sets of name's series, for failure messages.
func (m opsMetrics) series(name string) []map[string]string {
	var out []map[string]string
	if mf := m[name]; mf != nil {
		for _, mt := range mf.Metric {
			ls := map[string]string{}
			for _, l := range mt.Label {
				ls[l.GetName()] = l.GetValue()
			}
			out = append(out, ls)
		}
	}
	return out
}

// labelValues lists every label value of the ldapbridge_ series.
func (m opsMetrics) labelValues() []string {
	var out []string
	for name, mf := range m {
		if !strings.HasPrefix(name, "ldapbridge_") {
			continue
		}
		for _, mt := range mf.Metric {
			for _, l := range mt.Label {
				out = append(out, name+" "+l.GetName()+"="+l.GetValue())
			}
		}
	}
	return out
}

// opsDial connects to the LDAP listener.
func opsDial(t *testing.T, addr string) *ldap.Conn {
	t.Helper()
	return opsDialFrom(t, addr, "")
}

// opsDialFrom connects from the loopback address src ("" = any): all of
// 127.0.0.0/8 is local on Linux, which gives a test more than one client
// address.
func opsDialFrom(t *testing.T, addr, src string) *ldap.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 5 * time.Second}
	if src != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(src)}
	}
	c, err := ldap.DialURL("ldap://"+addr, ldap.DialWithDialer(d))
	if err != nil {
		t.Fatal(err)
	}
	c.SetTimeout(30 * time.Second)
	t.Cleanup(func() { c.Close() })
	return c
}

// opsJSONLines parses the JSON log lines whose msg is msg.
func opsJSONLines(t *testing.T, text, msg string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range strings.Split(text, "\n") {
		if !strings.HasPrefix(l, "{") {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("log line is not JSON: %q: %v", l, err)
		}
		if msg == "" || m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}
