// Package pingonesim is an in-memory simulator of the parts of the PingOne
// Platform API the bridge uses, served over real HTTP: the worker-app
// token endpoint, user search with SCIM filters, password check, self
// change, administrative set and LDAP-gateway set, password policies and
// PingOne's error bodies; with switches for rate limiting, outages, hangs
// and latency. It is for tests, the demo and benchmarks.
//
// One Server plays both hosts: the auth host's /{envID}/as/token and the
// API host's /v1/environments/{envID}/...; give its URL as both the
// client's auth and API URL.
package pingonesim

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge/restback/sim/simhttp"
)

// Config configures a simulated environment.
type Config struct {
	EnvironmentID, ClientID, ClientSecret string
	// TokenTTL is the access tokens' lifetime (PingOne: 1 hour, the
	// default).
	TokenTTL time.Duration
	// MinAge is the Standard policy's minimum password age for self
	// changes; 0 turns it off.
	MinAge time.Duration
	// Now is the simulator's clock (default time.Now): token expiry,
	// lockout, password age and expiry all follow it.
	Now func() time.Time
}

// FaultTarget selects which requests a Fault affects.
type FaultTarget string

// The fault targets.
const (
	TargetAPI      FaultTarget = ""         // every API request (not the token endpoint)
	TargetToken    FaultTarget = "token"    // the token endpoint only
	TargetUsers    FaultTarget = "users"    // user searches and reads
	TargetPassword FaultTarget = "password" // password check, reset, set, setGateway
	TargetPolicies FaultTarget = "policies" // password policy reads
)

// Fault makes the simulator misbehave, for tests. The zero Fault clears it.
type Fault struct {
	Target FaultTarget
	// Status answers with this HTTP status and PingOne's error body for it
	// (429 REQUEST_LIMITED, 5xx, 403 ACCESS_FAILED...).
	Status int
	// RetryAfter adds a Retry-After header (whole seconds, rounded up).
	RetryAfter time.Duration
	// Hang holds the request until the client gives up or the server
	// closes; it takes precedence over Status.
	Hang bool
	// Times limits the fault to that many requests; 0 means until cleared.
	Times int
}

// Server is a simulated PingOne environment. It is an http.Handler; Start
// serves it on a listener of its own.
type Server struct {
	cfg Config
	now func() time.Time
	// key makes the simulator's stored password digests unguessable.
	key []byte

	mu        sync.Mutex
	users     map[string]*user
	order     []string // user ids in creation order
	tokens    map[string]time.Time
	fault     Fault
	faultLeft int
	policy    policy
	others    []policy

	requests atomic.Int64
	grants   atomic.Int64

	web *simhttp.Server
}

// New makes a simulator with the Standard policy and no users.
func New(cfg Config) *Server {
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = time.Hour
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	created := now()
	return &Server{
		cfg:    cfg,
		now:    now,
		key:    key,
		users:  map[string]*user{},
		tokens: map[string]time.Time{},
		policy: standardPolicy(cfg.EnvironmentID, cfg.MinAge, created),
		others: otherPolicies(cfg.EnvironmentID, created),
		web:    simhttp.New("pingonesim"),
	}
}

// Start serves the simulator on addr ("127.0.0.1:0" for any free port)
// and returns its base URL.
func (s *Server) Start(addr string) (string, error) { return s.web.Start(addr, s) }

// Close stops the listener started by Start, releases hanging requests
// and closes open connections.
func (s *Server) Close() error { return s.web.Close() }

// SetFault installs f (the zero Fault clears it).
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = f
	s.faultLeft = f.Times
}

// SetLatency delays every request by fixed plus a random part up to jitter.
func (s *Server) SetLatency(fixed, jitter time.Duration) { s.web.SetLatency(fixed, jitter) }

// Requests is the number of API requests received (token requests are not
// counted), including those a fault answered.
func (s *Server) Requests() int64 { return s.requests.Load() }

// TokenGrants is the number of access tokens issued.
func (s *Server) TokenGrants() int64 { return s.grants.Load() }

// RevokeTokens invalidates every access token issued so far, so that the
// next API request gets 401.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// ServeHTTP routes a request to the token endpoint or the API.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Date", s.now().UTC().Format(http.TimeFormat))
	w.Header().Set("Correlation-Id", newID())
	if !s.web.Delay(r.Context()) {
		simhttp.Abort()
	}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	if len(parts) == 3 && parts[1] == "as" && parts[2] == "token" {
		if s.applyFault(w, r, TargetToken) {
			return
		}
		s.token(w, r, parts[0])
		return
	}
	if len(parts) < 3 || parts[0] != "v1" || parts[1] != "environments" {
		writeStatus(w, http.StatusNotFound)
		return
	}
	s.requests.Add(1)
	if s.applyFault(w, r, targetOf(parts)) {
		return
	}
	if parts[2] != s.cfg.EnvironmentID {
		writeStatus(w, http.StatusNotFound)
		return
	}
	if !s.authorized(r) {
		writeStatus(w, http.StatusUnauthorized)
		return
	}
	s.api(w, r, parts[3:])
}

func targetOf(parts []string) FaultTarget {
	switch {
	case len(parts) >= 4 && parts[3] == "passwordPolicies":
		return TargetPolicies
	case len(parts) == 6 && parts[3] == "users" && parts[5] == "password":
		return TargetPassword
	case len(parts) >= 4 && parts[3] == "users":
		return TargetUsers
	}
	return TargetAPI
}

// applyFault answers r as the installed fault says, if it applies.
func (s *Server) applyFault(w http.ResponseWriter, r *http.Request, target FaultTarget) bool {
	s.mu.Lock()
	f := s.fault
	active := f.Hang || f.Status != 0
	switch {
	case !active:
	case f.Target == TargetAPI && target == TargetToken:
		active = false
	case f.Target != TargetAPI && f.Target != target:
		active = false
	case f.Times > 0 && s.faultLeft == 0:
		active = false
	case f.Times > 0:
		s.faultLeft--
	}
	s.mu.Unlock()
	if !active {
		return false
	}
	if f.Hang {
		s.web.Hang(r)
	}
	simhttp.SetRetryAfter(w.Header(), f.RetryAfter)
	if target == TargetToken {
		writeOAuthError(w, f.Status, "server_error", http.StatusText(f.Status))
		return true
	}
	writeStatus(w, f.Status)
	return true
}

func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	const prefix = "Bearer "
	if len(h) <= len(prefix) || !strings.EqualFold(h[:len(prefix)], prefix) {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	exp, ok := s.tokens[h[len(prefix):]]
	return ok && s.now().Before(exp)
}

// digest is how the simulator remembers a cleartext password.
func (s *Server) digest(pw string) [32]byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(pw))
	var d [32]byte
	copy(d[:], m.Sum(nil))
	return d
}

// newID is a random version 4 UUID, the form of PingOne's ids.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
