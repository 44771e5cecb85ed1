package metrics

import (
	"bytes"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// lookup gathers reg, as a scrape would, and returns the value of the
// series of family name whose labels are exactly labels (name, value
// pairs): a counter's or gauge's value, or a histogram's sample count. ok
// is false when there is no such series. Reading through the registry, not
// through WithLabelValues, matters: WithLabelValues creates the series it
// is asked for, so a test reading with it cannot see a series go missing.
func lookup(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) (v float64, ok bool) {
	t.Helper()
	if len(labels)%2 != 0 {
		t.Fatalf("labels %q are not name, value pairs", labels)
	}
	want := map[string]string{}
	for i := 0; i < len(labels); i += 2 {
		want[labels[i]] = labels[i+1]
	}
	mf := family(t, reg, name, false)
	if mf == nil {
		return 0, false
	}
	for _, mt := range mf.Metric {
		if len(mt.Label) != len(want) {
			continue
		}
		match := true
		for _, l := range mt.Label {
			if w, ok := want[l.GetName()]; !ok || w != l.GetValue() {
				match = false
			}
		}
		if !match {
			continue
		}
		switch {
		case mt.Counter != nil:
			return mt.Counter.GetValue(), true
		case mt.Gauge != nil:
			return mt.Gauge.GetValue(), true
		case mt.Histogram != nil:
			return float64(mt.Histogram.GetSampleCount()), true
		}
		t.Fatalf("%s%v is not a counter, gauge or histogram", name, want)
	}
	return 0, false
}

// read is lookup that fails the test when the series is absent.
func read(t *testing.T, reg prometheus.Gatherer, name string, labels ...string) float64 {
	t.Helper()
	v, ok := lookup(t, reg, name, labels...)
	if !ok {
		var have []string
		if mf := family(t, reg, name, false); mf != nil {
			for _, mt := range mf.Metric {
				var ls []string
				for _, l := range mt.Label {
					ls = append(ls, l.GetName()+"="+l.GetValue())
				}
				have = append(have, strings.Join(ls, ","))
			}
		}
		t.Fatalf("no series %s%q in the registry; it has %q", name, labels, have)
	}
	return v
}

// family is the gathered family name; when must is set, its absence fails
// the test.
func family(t *testing.T, reg prometheus.Gatherer, name string, must bool) *dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf
		}
	}
	if must {
		t.Fatalf("no family %s in the registry", name)
	}
	return nil
}

func newMetrics(t *testing.T) (*Metrics, *prometheus.Registry) {
	t.Helper()
	reg := prometheus.NewRegistry()
	m, err := New(reg, BuildInfo{Version: "1.2.3", Revision: "abc", GoVersion: "go1.x"})
	if err != nil {
		t.Fatal(err)
	}
	return m, reg
}

// scrape renders the registry as /metrics would and parses it back with
// Prometheus' own text parser.
func scrape(t *testing.T, reg *prometheus.Registry) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatal(err)
		}
	}
	p := expfmt.NewTextParser(model.LegacyValidation)
	out, err := p.TextToMetricFamilies(&buf)
	if err != nil {
		t.Fatalf("the text parser rejects the output: %v\n%s", err, buf.String())
	}
	return out
}

func TestNewRegistersOnce(t *testing.T) {
	_, reg := newMetrics(t)
	if _, err := New(reg, BuildInfo{}); err == nil {
		t.Fatal("a second New on the same registry succeeded; want a registration error")
	}
	mfs := scrape(t, reg)
	bi := mfs["ldapbridge_build_info"]
	if bi == nil || len(bi.Metric) != 1 || bi.Metric[0].GetGauge().GetValue() != 1 {
		t.Fatalf("build_info: %v", bi)
	}
	labels := map[string]string{}
	for _, l := range bi.Metric[0].Label {
		labels[l.GetName()] = l.GetValue()
	}
	if labels["version"] != "1.2.3" || labels["revision"] != "abc" || labels["goversion"] != "go1.x" {
		t.Fatalf("build_info labels: %v", labels)
	}
	for name, mf := range mfs {
		if !strings.HasPrefix(name, "ldapbridge_") {
			t.Errorf("%s: no ldapbridge_ prefix", name)
		}
		if mf.GetType() == dto.MetricType_COUNTER && !strings.HasSuffix(name, "_total") {
			t.Errorf("counter %s does not end in _total", name)
		}
		if mf.GetType() == dto.MetricType_HISTOGRAM && !strings.HasSuffix(name, "_seconds") {
			t.Errorf("histogram %s is not in seconds", name)
		}
	}
}

func TestObserverMethods(t *testing.T) {
	m, reg := newMetrics(t)
	m.Listener("ldaps")
	m.ConnOpened("ldap")
	m.ConnOpened("ldap")
	m.ConnClosed("ldap")
	m.OpDone("bind", bridge.Success, 3*time.Millisecond)
	m.OpDone("bind", bridge.InvalidCredentials, time.Millisecond)
	m.OpDone("bind", bridge.InvalidCredentials, time.Millisecond)
	m.OpDone("search", bridge.ResultCode(4242), time.Millisecond)
	m.LimitHit("max_ops_per_conn")

	for _, tc := range []struct {
		name   string
		family string
		labels []string
		want   float64
	}{
		{"open ldap", "ldapbridge_ldap_connections", []string{"listener", "ldap"}, 1},
		{"accepted ldap", "ldapbridge_ldap_connections_total", []string{"listener", "ldap"}, 2},
		{"open ldaps (initialised)", "ldapbridge_ldap_connections", []string{"listener", "ldaps"}, 0},
		{"accepted ldaps (initialised)", "ldapbridge_ldap_connections_total", []string{"listener", "ldaps"}, 0},
		{"bind success", "ldapbridge_ldap_operations_total", []string{"operation", "bind", "result", "success"}, 1},
		{"bind invalidCredentials", "ldapbridge_ldap_operations_total", []string{"operation", "bind", "result", "invalidCredentials"}, 2},
		{"odd code", "ldapbridge_ldap_operations_total", []string{"operation", "search", "result", "unknown"}, 1},
		{"limit", "ldapbridge_ldap_limit_hits_total", []string{"limit", "max_ops_per_conn"}, 1},
	} {
		if got := read(t, reg, tc.family, tc.labels...); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if n := len(family(t, reg, "ldapbridge_ldap_connections", true).Metric); n != 2 {
		t.Errorf("%d open-connection series, want 2 (ldap, ldaps)", n)
	}
	mfs := scrape(t, reg)
	h := mfs["ldapbridge_ldap_operation_duration_seconds"]
	if h == nil || len(h.Metric) != 2 {
		t.Fatalf("duration histogram: %v", h)
	}
	for _, mt := range h.Metric {
		if mt.Label[0].GetValue() == "bind" && mt.GetHistogram().GetSampleCount() != 3 {
			t.Errorf("bind duration count %d, want 3", mt.GetHistogram().GetSampleCount())
		}
	}
	if _, ok := mfs["ldapbridge_ldap_operations_total"]; !ok {
		t.Error("operations_total missing from the scrape")
	}
}

func TestPasswordChangeLabels(t *testing.T) {
	m, reg := newMetrics(t)
	m.Backend("pd")
	dn := "uid=bob,ou=staff,dc=example,dc=com"
	secret := "Gen-Passw0rd-123"
	for _, tc := range []struct {
		d             bridge.Decision
		out           bridge.Outcome
		backend, kind string
		outcome       string
	}{
		{bridge.Decision{Actor: bridge.Identity{DN: dn}, Target: bridge.Identity{DN: dn, Backend: "pd"}, Kind: bridge.SelfChange}, bridge.Outcome{}, "pd", "self", "success"},
		{bridge.Decision{Actor: bridge.Identity{DN: dn}, Target: bridge.Identity{DN: dn, Backend: "pd"}, Kind: bridge.SelfChange}, bridge.Outcome{GeneratedPassword: bridge.SecretString(secret)}, "pd", "generated", "success"},
		{bridge.Decision{Actor: bridge.Identity{DN: "cn=admin"}, Target: bridge.Identity{DN: dn, Backend: "pd"}, Kind: bridge.AdminReset}, bridge.Fail(bridge.ConstraintViolation, "too short"), "pd", "administrative", "refused"},
		{bridge.Decision{Actor: bridge.Identity{DN: dn}, Target: bridge.Identity{DN: dn, Backend: "pd"}, Kind: bridge.SelfChange}, bridge.Fail(bridge.Unavailable, "down"), "pd", "self", "error"},
		{bridge.Decision{Target: bridge.Identity{DN: dn}}, bridge.Fail(bridge.ConfidentialityRequired, "tls"), "none", "unknown", "refused"},
	} {
		labels := []string{"backend", tc.backend, "kind", tc.kind, "outcome", tc.outcome}
		before, _ := lookup(t, reg, "ldapbridge_password_changes_total", labels...)
		tc.d.Outcome = tc.out
		m.PasswordChange(tc.d)
		if got := read(t, reg, "ldapbridge_password_changes_total", labels...); got != before+1 {
			t.Errorf("%s/%s/%s did not move", tc.backend, tc.kind, tc.outcome)
		}
	}
	// Pre-initialised series exist at zero for dashboards.
	if got := read(t, reg, "ldapbridge_password_changes_total", "backend", "pd", "kind", "administrative", "outcome", "success"); got != 0 {
		t.Errorf("administrative success: %v", got)
	}
	// No DN, source address or password in any label.
	for _, mf := range scrape(t, reg) {
		for _, mt := range mf.Metric {
			for _, l := range mt.Label {
				v := l.GetValue()
				if strings.Contains(v, "uid=") || strings.Contains(v, "127.0.0.1") || strings.Contains(v, secret) {
					t.Errorf("%s has label %s=%q", mf.GetName(), l.GetName(), v)
				}
			}
		}
	}
}

func TestBindFailedLabels(t *testing.T) {
	m, reg := newMetrics(t)
	m.Backend("p1")
	for _, tc := range []struct {
		backend, label, outcome string
		out                     bridge.Outcome
	}{
		{"p1", "p1", "refused", bridge.Fail(bridge.InvalidCredentials, "invalid credentials")},
		{"p1", "p1", "error", bridge.Fail(bridge.Unavailable, "PingOne is unavailable")},
		{"p1", "p1", "error", bridge.Fail(bridge.Busy, "too many failed binds for this DN; try again later")},
		{"", "none", "refused", bridge.Fail(bridge.InvalidCredentials, "")},
		{"", "none", "refused", bridge.Fail(bridge.AuthMethodNotSupported, "SASL EXTERNAL is not supported")},
		{"local", "local", "refused", bridge.Fail(bridge.ConfidentialityRequired, "needs TLS")},
	} {
		labels := []string{"backend", tc.label, "outcome", tc.outcome}
		before, _ := lookup(t, reg, "ldapbridge_bind_failures_total", labels...)
		m.BindFailed(tc.backend, tc.out)
		if got := read(t, reg, "ldapbridge_bind_failures_total", labels...); got != before+1 {
			t.Errorf("BindFailed(%q, %v): %s/%s = %v, want %v", tc.backend, tc.out.Code, tc.label, tc.outcome, got, before+1)
		}
	}
	mf := scrape(t, reg)["ldapbridge_bind_failures_total"]
	if mf == nil {
		t.Fatal("ldapbridge_bind_failures_total missing from the scrape")
	}
	// p1/refused, p1/error, p1/limited, none/refused, local/refused: the
	// p1 series existed before any failure.
	if len(mf.Metric) != 5 {
		t.Errorf("%d series: %v", len(mf.Metric), mf.Metric)
	}
	var total float64
	for _, mt := range mf.Metric {
		total += mt.GetCounter().GetValue()
	}
	if total != 6 {
		t.Errorf("%v failed binds counted, want 6", total)
	}
}

func TestTransport(t *testing.T) {
	m, reg := newMetrics(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/token-bad":
			w.WriteHeader(http.StatusUnauthorized)
		case "/missing":
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	defer srv.Close()
	classify := func(r *http.Request) string {
		if strings.HasPrefix(r.URL.Path, "/token") {
			return CallToken
		}
		return "lookup"
	}
	c := &http.Client{Transport: m.Transport("p1", classify, http.DefaultTransport)}
	for _, p := range []string{"/token", "/token-bad", "/missing", "/x"} {
		resp, err := c.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// A request that gets no response.
	dead := httptest.NewServer(http.NotFoundHandler())
	deadURL := dead.URL
	dead.Close()
	if _, err := c.Get(deadURL + "/x"); err == nil {
		t.Fatal("request to a closed server succeeded")
	}

	for _, tc := range []struct {
		name   string
		family string
		labels []string
		want   float64
	}{
		{"token 200", "ldapbridge_backend_requests_total", []string{"backend", "p1", "call", "token", "status", "200"}, 1},
		{"token 401", "ldapbridge_backend_requests_total", []string{"backend", "p1", "call", "token", "status", "401"}, 1},
		{"lookup 404", "ldapbridge_backend_requests_total", []string{"backend", "p1", "call", "lookup", "status", "404"}, 1},
		{"lookup 200", "ldapbridge_backend_requests_total", []string{"backend", "p1", "call", "lookup", "status", "200"}, 1},
		{"lookup error", "ldapbridge_backend_requests_total", []string{"backend", "p1", "call", "lookup", "status", "error"}, 1},
		{"refresh ok", "ldapbridge_backend_token_refreshes_total", []string{"backend", "p1", "result", "success"}, 1},
		{"refresh failed", "ldapbridge_backend_token_refreshes_total", []string{"backend", "p1", "result", "failure"}, 1},
		{"token duration", "ldapbridge_backend_request_duration_seconds", []string{"backend", "p1", "call", "token"}, 2},
		{"lookup duration", "ldapbridge_backend_request_duration_seconds", []string{"backend", "p1", "call", "lookup"}, 3},
	} {
		if got := read(t, reg, tc.family, tc.labels...); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if n := len(family(t, reg, "ldapbridge_backend_requests_total", true).Metric); n != 5 {
		t.Errorf("request series: %d, want 5", n)
	}
	if n := len(family(t, reg, "ldapbridge_backend_request_duration_seconds", true).Metric); n != 2 {
		t.Errorf("duration series: %d, want 2 (token, lookup)", n)
	}
}

func TestCacheAndReload(t *testing.T) {
	m, reg := newMetrics(t)
	m.CacheLookup("p1", "user", true)
	m.CacheLookup("p1", "user", true)
	m.CacheLookup("p1", "user", false)
	hits := read(t, reg, "ldapbridge_backend_cache_hits_total", "backend", "p1", "cache", "user")
	misses := read(t, reg, "ldapbridge_backend_cache_misses_total", "backend", "p1", "cache", "user")
	if hits != 2 || misses != 1 {
		t.Errorf("cache hits %v misses %v, want 2 and 1", hits, misses)
	}
	ok := func() float64 { return read(t, reg, "ldapbridge_config_last_reload_successful") }
	reloads := func(result string) float64 { return read(t, reg, "ldapbridge_config_reloads_total", "result", result) }
	m.ConfigLoaded(true, false)
	if ok() != 1 || read(t, reg, "ldapbridge_config_last_reload_success_timestamp_seconds") == 0 {
		t.Error("initial load not recorded")
	}
	if reloads("success") != 0 || reloads("failure") != 0 {
		t.Error("the initial load counted as a reload")
	}
	m.ConfigLoaded(false, true)
	if ok() != 0 || reloads("failure") != 1 {
		t.Error("failed reload not recorded")
	}
	m.ConfigLoaded(true, true)
	if ok() != 1 || reloads("success") != 1 {
		t.Error("successful reload not recorded")
	}
	if read(t, reg, "ldapbridge_audit_write_errors_total") != 0 {
		t.Error("audit write errors before any")
	}
	m.AuditWriteFailed()
	if read(t, reg, "ldapbridge_audit_write_errors_total") != 1 {
		t.Error("audit write error not counted")
	}
}

func TestLabels(t *testing.T) {
	for _, tc := range []struct {
		code bridge.ResultCode
		want string
	}{
		{bridge.Success, "success"}, {bridge.InvalidCredentials, "invalidCredentials"},
		{bridge.Busy, "busy"}, {bridge.ResultCode(999), "unknown"}, {bridge.ResultCode(65535), "unknown"},
	} {
		if got := ResultLabel(tc.code); got != tc.want {
			t.Errorf("ResultLabel(%d) = %q, want %q", tc.code, got, tc.want)
		}
	}
	for _, tc := range []struct {
		code int
		want string
	}{{200, "200"}, {503, "503"}, {0, "invalid"}, {99, "invalid"}, {600, "invalid"}, {-1, "invalid"}} {
		if got := StatusLabel(tc.code); got != tc.want {
			t.Errorf("StatusLabel(%d) = %q, want %q", tc.code, got, tc.want)
		}
	}
}

// errTransport fails every request without sending it.
type errTransport struct{}

func (errTransport) RoundTrip(*http.Request) (*http.Response, error) {
	return nil, errors.New("no route to host")
}

func TestTransportPassesErrorsThrough(t *testing.T) {
	m, reg := newMetrics(t)
	rt := m.Transport("pd", func(*http.Request) string { return "bind" }, errTransport{})
	req := httptest.NewRequest(http.MethodGet, "http://pd.invalid/directory/v1/me", nil)
	resp, err := rt.RoundTrip(req)
	if err == nil || resp != nil || err.Error() != "no route to host" {
		t.Fatalf("RoundTrip = %v, %v; want the transport's own error", resp, err)
	}
	if got := read(t, reg, "ldapbridge_backend_requests_total", "backend", "pd", "call", "bind", "status", "error"); got != 1 {
		t.Errorf("error not counted: %v", got)
	}
}

// series reads the family name from a gathered registry: each series's
// labels (name=value, comma-separated, in the registry's order) and its
// value. Gathering, unlike WithLabelValues, creates nothing.
func series(t *testing.T, reg *prometheus.Registry, name string) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.Metric {
			var ls []string
			for _, l := range m.Label {
				ls = append(ls, l.GetName()+"="+l.GetValue())
			}
			v := m.GetCounter().GetValue()
			if m.Gauge != nil {
				v = m.GetGauge().GetValue()
			}
			out[strings.Join(ls, ",")] = v
		}
	}
	return out
}

// TestSeriesPresentFromTheStart: the series alerts divide or rate are
// exported at zero before anything happens.
func TestSeriesPresentFromTheStart(t *testing.T) {
	_, reg := newMetrics(t)
	limits := series(t, reg, "ldapbridge_ldap_limit_hits_total")
	if len(limits) != len(LimitNames) {
		t.Errorf("limit series %v, want one per limit %v", limits, LimitNames)
	}
	for _, l := range LimitNames {
		if v, ok := limits["limit="+l]; !ok || v != 0 {
			t.Errorf("limit %s: %v present=%v, want 0 from the start", l, v, ok)
		}
	}
	reloads := series(t, reg, "ldapbridge_config_reloads_total")
	if len(reloads) != 2 || reloads["result=success"] != 0 || reloads["result=failure"] != 0 {
		t.Errorf("reload series %v, want result=success and result=failure at 0", reloads)
	}
}

// TestLimitNamesCoverTheFrontEnd: every limit name the LDAP front end
// reports (in its Observer documentation or a LimitHit call) is in
// LimitNames, so that a new limit cannot miss its zero series.
func TestLimitNamesCoverTheFrontEnd(t *testing.T) {
	files, err := filepath.Glob("../ldapfront/*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("ldapfront sources: %v %v", files, err)
	}
	known := map[string]bool{}
	for _, l := range LimitNames {
		known[l] = true
	}
	call := regexp.MustCompile(`LimitHit\("([a-z_]+)"\)`)
	doc := regexp.MustCompile(`(?s)LimitHit names the limit:(.*?)LimitHit\(name string\)`)
	quoted := regexp.MustCompile(`"([a-z_]+)"`)
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range call.FindAllStringSubmatch(string(src), -1) {
			names = append(names, m[1])
		}
		for _, d := range doc.FindAllStringSubmatch(string(src), -1) {
			for _, m := range quoted.FindAllStringSubmatch(d[1], -1) {
				names = append(names, m[1])
			}
		}
		for _, n := range names {
			found++
			if !known[n] {
				t.Errorf("%s reports limit %q, which LimitNames lacks", f, n)
			}
		}
	}
	if found == 0 {
		t.Fatal("no limit names found in ldapfront: the pattern no longer matches")
	}
}

func TestCertificateExpiry(t *testing.T) {
	m, reg := newMetrics(t)
	const name = "ldapbridge_tls_certificate_expiry_timestamp_seconds"
	if s := series(t, reg, name); len(s) != 0 {
		t.Fatalf("expiry series before any certificate: %v", s)
	}
	first := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	m.CertificateLoaded("ldaps", first)
	m.CertificateLoaded("ldap", first.Add(time.Hour))
	renewed := first.Add(90 * 24 * time.Hour)
	m.CertificateLoaded("ldaps", renewed) // a reload replaces the value
	got := series(t, reg, name)
	want := map[string]float64{"listener=ldaps": float64(renewed.Unix()), "listener=ldap": float64(first.Add(time.Hour).Unix())}
	if len(got) != len(want) {
		t.Fatalf("expiry series %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s %s = %v, want %v", name, k, got[k], v)
		}
	}
}

// TestSuccessFailureLabels: the counters of things that succeed or fail
// as a whole use one label, result, with the same two values.
func TestSuccessFailureLabels(t *testing.T) {
	m, reg := newMetrics(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.WriteHeader(http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	c := &http.Client{Transport: m.Transport("p1", func(*http.Request) string { return CallToken }, http.DefaultTransport)}
	for _, p := range []string{"/ok", "/bad"} {
		resp, err := c.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	m.ConfigLoaded(true, true)
	m.ConfigLoaded(false, true)
	for name, want := range map[string]map[string]float64{
		"ldapbridge_config_reloads_total":          {"result=success": 1, "result=failure": 1},
		"ldapbridge_backend_token_refreshes_total": {"backend=p1,result=success": 1, "backend=p1,result=failure": 1},
	} {
		got := series(t, reg, name)
		if len(got) != len(want) {
			t.Errorf("%s: %v, want %v", name, got, want)
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s{%s} = %v, want %v (all: %v)", name, k, got[k], v, got)
			}
		}
	}
}
