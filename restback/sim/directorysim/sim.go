// Package directorysim is an in-memory PingDirectory Directory REST API for
// tests, the demo and benchmarks: Basic authentication against hashed
// passwords, a password policy (length, character classes, history,
// minimum age, lockout, expiry), GET /directory/v1/me and
// POST /directory/v1/{dn}/changePassword with the Password Validation
// Details control, served over real HTTP, with injectable faults.
//
// Where the public documentation is silent the simulator makes a choice and
// keeps it in one place: failure bodies have the same shape as the 200
// answer (resultCode, diagnosticMessage, matchedDN, _controls) and their
// HTTP status comes from httpStatus.
package directorysim

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/ldapbridge/ldapbridge/restback/sim/simhttp"
)

// Policy is the password policy every user is subject to.
type Policy struct {
	MinLength                                 int
	MinDigits, MinUpper, MinLower, MinSpecial int
	History                                   int // the last N passwords, the current one included
	MinAge                                    time.Duration
	LockoutFailures                           int
	LockoutDuration                           time.Duration // 0: locked until an administrative reset
	MaxAge                                    time.Duration // 0: passwords never expire
	ExpiryWarning                             time.Duration // 0: 5 days, PingDirectory's default
}

// Config configures a simulator.
type Config struct {
	Policy Policy
	Admins []string         // DNs allowed to reset anyone's password
	Now    func() time.Time // nil: time.Now
}

// Server is the simulated Directory REST API; it is an http.Handler.
type Server struct {
	policy    Policy
	now       func() time.Time
	admins    []*ldap.DN
	configErr error

	mu      sync.Mutex
	users   map[string]*user  // by dnKey
	tokens  map[string]string // bearer access token -> dnKey of its identity
	clients map[string]oauthClient
	fault   faultState

	requests      atomic.Int64
	tokenRequests atomic.Int64

	web *simhttp.Server
}

// New makes a simulator with no users. A bad admin DN is reported by
// Start and by every request.
func New(cfg Config) *Server {
	s := &Server{
		policy:  cfg.Policy,
		now:     cfg.Now,
		users:   make(map[string]*user),
		tokens:  make(map[string]string),
		clients: make(map[string]oauthClient),
		web:     simhttp.New("directorysim"),
	}
	if s.now == nil {
		s.now = time.Now
	}
	var bad []string
	for _, a := range cfg.Admins {
		dn, err := parseDN(a)
		if err != nil {
			bad = append(bad, fmt.Sprintf("%q: %v", a, err))
			continue
		}
		s.admins = append(s.admins, dn)
	}
	if len(bad) > 0 {
		s.configErr = fmt.Errorf("directorysim: bad admin DN %s", strings.Join(bad, "; "))
	}
	return s
}

// AddUser creates an entry with a password (stored as a salted SSHA-512
// hash, never in clear).
func (s *Server) AddUser(dn string, password string) error {
	ndn, err := parseDN(dn)
	if err != nil {
		return fmt.Errorf("add user %q: %w", dn, err)
	}
	if password == "" {
		return fmt.Errorf("add user %q: empty password", dn)
	}
	h, err := hashPassword([]byte(password))
	if err != nil {
		return fmt.Errorf("add user %q: %w", dn, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dnKey(ndn)
	if _, ok := s.users[k]; ok {
		return fmt.Errorf("add user %q: entry already exists", dn)
	}
	s.users[k] = &user{dn: dn, ndn: ndn, hash: h, changedAt: s.now()}
	return nil
}

// AddToken registers an OAuth 2.0 bearer access token for the entry dn, as
// an authorization server (PingFederate) would issue one: requests that
// carry "Authorization: Bearer token" act as dn. The Getting Started page
// of the Directory REST API documents both Basic and Bearer
// authentication; the token's scopes and audience, which PingDirectory
// checks, are out of the simulator's scope.
func (s *Server) AddToken(token, dn string) error {
	if token == "" || strings.ContainsAny(token, " \t") {
		return fmt.Errorf("add token: not a bearer token")
	}
	ndn, err := parseDN(dn)
	if err != nil {
		return fmt.Errorf("add token for %q: %w", dn, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dnKey(ndn)
	if _, ok := s.users[k]; !ok {
		return fmt.Errorf("add token for %q: no such entry", dn)
	}
	s.tokens[token] = k
	return nil
}

// RevokeToken forgets a bearer token (it then answers 401).
func (s *Server) RevokeToken(token string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.tokens, token)
}

// Start listens on addr ("127.0.0.1:0" in tests) and serves in the
// background; it returns the base URL. Close stops it.
func (s *Server) Start(addr string) (string, error) {
	if s.configErr != nil {
		return "", s.configErr
	}
	return s.web.Start(addr, s)
}

// Close releases hung requests and stops the server started by Start.
func (s *Server) Close() error { return s.web.Close() }

// Requests is the number of HTTP requests received, faulted ones included.
func (s *Server) Requests() int64 { return s.requests.Load() }

// MustChange reports whether dn must change its password (after an
// administrative reset); false for an unknown DN.
func (s *Server) MustChange(dn string) bool {
	u := s.lookup(dn)
	return u != nil && u.mustChange
}

// CheckPassword reports whether password is dn's current password, without
// counting as an authentication attempt.
func (s *Server) CheckPassword(dn, password string) bool {
	u := s.lookup(dn)
	return u != nil && checkPassword(u.hash, []byte(password))
}

func (s *Server) lookup(dn string) *user {
	ndn, err := parseDN(dn)
	if err != nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.users[dnKey(ndn)]
	if u == nil {
		return nil
	}
	c := *u
	return &c
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	if !s.web.Delay(r.Context()) {
		return
	}
	w.Header().Set("Correlation-Id", newCorrelationID())
	if f, ok := s.takeFault(r.URL.EscapedPath()); ok {
		s.serveFault(w, r, f, s.route)
		return
	}
	s.route(w, r)
}

const apiPrefix = "/directory/v1"

// route dispatches on the escaped path, so that a %2F inside a DN never
// splits a segment.
func (s *Server) route(w http.ResponseWriter, r *http.Request) {
	if s.configErr != nil {
		writeJSON(w, errorResponse(http.StatusInternalServerError, resultOther, s.configErr.Error()))
		return
	}
	path := r.URL.EscapedPath()
	if path == TokenPath {
		s.serveToken(w, r)
		return
	}
	if path == apiPrefix || path == apiPrefix+"/" {
		if r.Method != http.MethodGet {
			writeJSON(w, methodNotAllowed(http.MethodGet))
			return
		}
		writeJSON(w, response{status: http.StatusOK, contentType: halJSON, body: map[string]any{
			"vendorName":    "Ping Identity Corporation",
			"vendorVersion": "Ping Identity Directory Server (directorysim)",
		}})
		return
	}
	rest, ok := strings.CutPrefix(path, apiPrefix+"/")
	if !ok {
		writeJSON(w, errorResponse(http.StatusNotFound, resultUnwilling, "The requested resource does not exist"))
		return
	}
	segs := strings.Split(rest, "/")
	switch {
	case len(segs) == 1 && segs[0] == "me":
		if r.Method != http.MethodGet {
			writeJSON(w, methodNotAllowed(http.MethodGet))
			return
		}
		writeJSON(w, s.handleMe(r))
	case len(segs) == 2 && segs[1] == "changePassword":
		if r.Method != http.MethodPost {
			writeJSON(w, methodNotAllowed(http.MethodPost))
			return
		}
		writeJSON(w, s.handleChangePassword(w, r, segs[0]))
	case len(segs) == 3 && segs[1] == "subtree" && segs[2] == "search":
		if r.Method != http.MethodPost {
			writeJSON(w, methodNotAllowed(http.MethodPost))
			return
		}
		writeJSON(w, s.handleSearch(w, r, segs[0]))
	case len(segs) == 1 && segs[0] != "":
		if r.Method != http.MethodGet {
			writeJSON(w, methodNotAllowed(http.MethodGet))
			return
		}
		writeJSON(w, s.handleEntry(r, segs[0]))
	default:
		writeJSON(w, errorResponse(http.StatusNotFound, resultUnwilling, "The requested resource does not exist"))
	}
}

const (
	halJSON   = "application/hal+json"
	plainJSON = "application/json"
)

// response is an answer computed under the lock and written after it.
type response struct {
	status      int
	contentType string
	header      map[string]string
	body        any
}

func writeJSON(w http.ResponseWriter, resp response) {
	b, err := json.Marshal(resp.body)
	if err != nil {
		http.Error(w, "encode response: "+err.Error(), http.StatusInternalServerError)
		return
	}
	for k, v := range resp.header {
		w.Header().Set(k, v)
	}
	ct := resp.contentType
	if ct == "" {
		ct = plainJSON
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(resp.status)
	_, _ = w.Write(b)
}

func methodNotAllowed(allow string) response {
	r := errorResponse(http.StatusMethodNotAllowed, resultUnwilling, "The HTTP method is not allowed on this resource")
	r.header = map[string]string{"Allow": allow}
	return r
}

func newCorrelationID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
