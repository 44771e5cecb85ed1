// Package metrics defines the bridge's Prometheus metrics and the hooks
// that move them: the LDAP front end's observer methods, an instrumenting
// http.RoundTripper for backend clients, cache and reload events.
//
// Every label value comes from a small fixed set or from the operator's
// configuration (listener and backend names): never a DN, a user name or a
// password, so neither cardinality nor secrets depend on clients.
package metrics

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ldapbridge/ldapbridge/audit"
	"github.com/ldapbridge/ldapbridge/bridge"
)

const namespace = "ldapbridge"

// Buckets for LDAP operations and backend requests, in seconds: binds
// against a healthy REST backend take milliseconds to a few hundred; the
// long tail up to the default 30 s operation deadline is where outages
// show.
var durationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30}

// BuildInfo labels ldapbridge_build_info.
type BuildInfo struct {
	Version   string
	Revision  string
	GoVersion string
}

// LimitNames are the limits ldapfront reports by name (its Observer's
// LimitHit): each series of ldapbridge_ldap_limit_hits_total exists, at
// zero, from the start, so that rate() and alerts see the first hit.
var LimitNames = []string{
	"max_connections", "max_conns_per_ip", "max_ops_per_conn", "max_message_bytes",
	"max_message_bytes_anonymous", "message_structure",
	"idle_timeout", "message_timeout", "rate_per_ip", "failed_binds_per_dn",
	"max_search_entries", "search_time_limit", "search_max_scan",
}

// Result label values of the counters of things that succeed or fail as a
// whole: configuration reloads and token refreshes.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
)

// CallToken is the call name of an OAuth token request; each one also
// counts as a token refresh.
const CallToken = "token"

// Metrics holds the bridge's collectors. Its methods are safe for
// concurrent use.
type Metrics struct {
	ops         *prometheus.CounterVec
	opDuration  *prometheus.HistogramVec
	conns       *prometheus.GaugeVec
	connsTotal  *prometheus.CounterVec
	limits      *prometheus.CounterVec
	beRequests  *prometheus.CounterVec
	beDuration  *prometheus.HistogramVec
	changes     *prometheus.CounterVec
	bindFails   *prometheus.CounterVec
	tokens      *prometheus.CounterVec
	cacheHits   *prometheus.CounterVec
	cacheMisses *prometheus.CounterVec
	reloads     *prometheus.CounterVec
	reloadOK    prometheus.Gauge
	reloadTime  prometheus.Gauge
	auditErrors prometheus.Counter
	certExpiry  *prometheus.GaugeVec
}

// New creates the collectors and registers them with reg (one registry per
// process, never the global default).
func New(reg prometheus.Registerer, bi BuildInfo) (*Metrics, error) {
	m := &Metrics{
		ops: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "ldap", Name: "operations_total",
			Help: "LDAP operations answered, by operation and LDAP result code name.",
		}, []string{"operation", "result"}),
		opDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "ldap", Name: "operation_duration_seconds",
			Help:    "Time from reading an LDAP request to writing its response, by operation.",
			Buckets: durationBuckets,
		}, []string{"operation"}),
		conns: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "ldap", Name: "connections",
			Help: "LDAP client connections open now, by listener.",
		}, []string{"listener"}),
		connsTotal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "ldap", Name: "connections_total",
			Help: "LDAP client connections accepted, by listener.",
		}, []string{"listener"}),
		limits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "ldap", Name: "limit_hits_total",
			Help: "Requests or connections refused or closed because a limit was reached, by limit.",
		}, []string{"limit"}),
		beRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "backend", Name: "requests_total",
			Help: `HTTP requests to backends, by backend, call and HTTP status ("error" when no response arrived).`,
		}, []string{"backend", "call", "status"}),
		beDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: namespace, Subsystem: "backend", Name: "request_duration_seconds",
			Help:    "Time until a backend's response headers arrived (or the request failed), by backend and call.",
			Buckets: durationBuckets,
		}, []string{"backend", "call"}),
		changes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "password_changes_total",
			Help: "Password change attempts, by backend, kind (self, administrative, generated, unknown) and outcome (success, refused, error).",
		}, []string{"backend", "kind", "outcome"}),
		bindFails: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Name: "bind_failures_total",
			Help: "Failed binds, by the backend that serves the DN (none when no route does) and outcome (refused, error, limited: refused by the bridge's failed-binds or rate limit).",
		}, []string{"backend", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "backend", Name: "token_refreshes_total",
			Help: "OAuth access token requests, by backend and result (success, failure).",
		}, []string{"backend", "result"}),
		cacheHits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "backend", Name: "cache_hits_total",
			Help: "Backend cache lookups answered from the cache, by backend and cache.",
		}, []string{"backend", "cache"}),
		cacheMisses: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "backend", Name: "cache_misses_total",
			Help: "Backend cache lookups that had to ask the backend, by backend and cache.",
		}, []string{"backend", "cache"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "config", Name: "reloads_total",
			Help: "Configuration reloads, by result (success, failure).",
		}, []string{"result"}),
		reloadOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "config", Name: "last_reload_successful",
			Help: "1 when the last configuration load or reload succeeded, 0 when it failed and the previous configuration stayed.",
		}),
		reloadTime: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "config", Name: "last_reload_success_timestamp_seconds",
			Help: "Unix time of the last successful configuration load or reload.",
		}),
		auditErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: namespace, Subsystem: "audit", Name: "write_errors_total",
			Help: "Audit records that could not be written.",
		}),
		certExpiry: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Namespace: namespace, Subsystem: "tls", Name: "certificate_expiry_timestamp_seconds",
			Help: "Unix time at which the certificate a TLS listener serves expires, by listener; follows certificate reloads.",
		}, []string{"listener"}),
	}
	build := prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: namespace, Name: "build_info",
		Help:        "Always 1; the labels say which build is running.",
		ConstLabels: prometheus.Labels{"version": bi.Version, "revision": bi.Revision, "goversion": bi.GoVersion},
	})
	build.Set(1)
	for _, c := range []prometheus.Collector{
		m.ops, m.opDuration, m.conns, m.connsTotal, m.limits, m.beRequests, m.beDuration,
		m.changes, m.bindFails, m.tokens, m.cacheHits, m.cacheMisses, m.reloads, m.reloadOK, m.reloadTime,
		m.auditErrors, m.certExpiry, build,
	} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	for _, r := range []string{ResultSuccess, ResultFailure} {
		m.reloads.WithLabelValues(r)
	}
	for _, l := range LimitNames {
		m.limits.WithLabelValues(l)
	}
	return m, nil
}

// Listener makes the series of a listener exist (at zero) before its
// first connection, so that dashboards and rate() see it from the start.
func (m *Metrics) Listener(name string) {
	m.conns.WithLabelValues(name)
	m.connsTotal.WithLabelValues(name)
}

// Backend does the same for a backend's password change and failed bind
// series.
func (m *Metrics) Backend(name string) {
	for _, k := range []string{"self", "administrative", "generated"} {
		for _, o := range []string{audit.OutcomeSuccess, audit.OutcomeRefused, audit.OutcomeError} {
			m.changes.WithLabelValues(name, k, o)
		}
	}
	for _, o := range []string{audit.OutcomeRefused, audit.OutcomeError, audit.OutcomeLimited} {
		m.bindFails.WithLabelValues(name, o)
	}
}

// CertificateLoaded records when the certificate listener now serves
// expires: at start and after each certificate reload.
func (m *Metrics) CertificateLoaded(listener string, notAfter time.Time) {
	m.certExpiry.WithLabelValues(listener).Set(float64(notAfter.Unix()))
}

// ConnOpened counts a connection accepted on listener.
func (m *Metrics) ConnOpened(listener string) {
	m.conns.WithLabelValues(listener).Inc()
	m.connsTotal.WithLabelValues(listener).Inc()
}

// ConnClosed counts a connection on listener closed.
func (m *Metrics) ConnClosed(listener string) {
	m.conns.WithLabelValues(listener).Dec()
}

// OpDone counts an answered (or abandoned) operation.
func (m *Metrics) OpDone(op string, code bridge.ResultCode, d time.Duration) {
	m.ops.WithLabelValues(op, ResultLabel(code)).Inc()
	m.opDuration.WithLabelValues(op).Observe(d.Seconds())
}

// LimitHit counts a limit reached.
func (m *Metrics) LimitHit(name string) {
	m.limits.WithLabelValues(name).Inc()
}

// PasswordChange counts a password change attempt; backend is "none" when
// the request was refused before a route was chosen. Who asked, from
// where and on which connection are not labels: they are in the audit
// record.
func (m *Metrics) PasswordChange(d bridge.Decision) {
	m.changes.WithLabelValues(backendLabel(d.Target.Backend), ChangeKindLabel(d), audit.Outcome(d.Outcome.Code)).Inc()
}

// BindFailed counts a failed bind (ldapfront reports every one that named
// someone) against backend, the backend that serves the DN ("" when none
// does). The DN is not a label: it is in the audit record. Every bind,
// failed or not, is also in ldapbridge_ldap_operations_total by result.
func (m *Metrics) BindFailed(backend string, out bridge.Outcome) {
	m.bindFails.WithLabelValues(backendLabel(backend), audit.Outcome(out.Code)).Inc()
}

// BindLimited counts a bind that a limit of the front end refused
// (limit: failed_binds_per_dn, rate_per_ip) before any backend was asked,
// with the outcome "limited" under backend, the backend that serves the
// DN: never as that backend's error, for it said nothing. The limit
// itself is counted by LimitHit.
func (m *Metrics) BindLimited(backend string) {
	m.bindFails.WithLabelValues(backendLabel(backend), audit.OutcomeLimited).Inc()
}

func backendLabel(name string) string {
	if name == "" {
		return "none"
	}
	return name
}

// ChangeKindLabel is "generated" when the change produced a generated
// password, otherwise the kind the core decided on ("unknown" when the
// request was refused before that).
func ChangeKindLabel(d bridge.Decision) string {
	if !d.Outcome.GeneratedPassword.IsZero() {
		return "generated"
	}
	return d.Kind.String()
}

// ResultLabel is the RFC 4511 name of a result code the bridge knows, and
// "unknown" for any other, so that a backend passing odd codes through
// cannot grow the series without bound.
func ResultLabel(code bridge.ResultCode) string {
	s := code.String()
	if strings.HasPrefix(s, "resultCode") {
		return "unknown"
	}
	return s
}

// CacheLookup counts a lookup in one of a backend's caches.
func (m *Metrics) CacheLookup(backend, cache string, hit bool) {
	if hit {
		m.cacheHits.WithLabelValues(backend, cache).Inc()
	} else {
		m.cacheMisses.WithLabelValues(backend, cache).Inc()
	}
}

// ConfigLoaded records a configuration load or reload and its result.
func (m *Metrics) ConfigLoaded(ok bool, reload bool) {
	if ok {
		m.reloadOK.Set(1)
		m.reloadTime.Set(float64(time.Now().UnixNano()) / 1e9)
	} else {
		m.reloadOK.Set(0)
	}
	if reload {
		result := ResultFailure
		if ok {
			result = ResultSuccess
		}
		m.reloads.WithLabelValues(result).Inc()
	}
}

// AuditWriteFailed counts an audit record that could not be written.
func (m *Metrics) AuditWriteFailed() { m.auditErrors.Inc() }

// Transport instruments rt, the transport of backend's HTTP client: each
// request counts in ldapbridge_backend_requests_total and its time in
// ldapbridge_backend_request_duration_seconds, labelled with the call
// name classify gives (it must return one of a small fixed set). Requests
// named CallToken also count as token refreshes. The request goes to rt
// unchanged, so httptrace hooks in its context keep working.
func (m *Metrics) Transport(backend string, classify func(*http.Request) string, rt http.RoundTripper) http.RoundTripper {
	return &transport{m: m, backend: backend, classify: classify, next: rt}
}

type transport struct {
	m        *Metrics
	backend  string
	classify func(*http.Request) string
	next     http.RoundTripper
}

func (t *transport) RoundTrip(req *http.Request) (*http.Response, error) {
	call := t.classify(req)
	start := time.Now()
	resp, err := t.next.RoundTrip(req)
	d := time.Since(start)
	status := "error"
	if err == nil {
		status = StatusLabel(resp.StatusCode)
	}
	t.m.beRequests.WithLabelValues(t.backend, call, status).Inc()
	t.m.beDuration.WithLabelValues(t.backend, call).Observe(d.Seconds())
	if call == CallToken {
		result := ResultFailure
		if err == nil && resp.StatusCode/100 == 2 {
			result = ResultSuccess
		}
		t.m.tokens.WithLabelValues(t.backend, result).Inc()
	}
	return resp, err
}

// StatusLabel is an HTTP status as a label: the number for a valid status,
// "invalid" otherwise.
func StatusLabel(code int) string {
	if code < 100 || code > 599 {
		return "invalid"
	}
	return strconv.Itoa(code)
}
