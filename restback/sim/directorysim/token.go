package directorysim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// TokenPath is the simulator's own OAuth 2 token endpoint, named as
// PingFederate's (/as/token.oauth2): PingDirectory itself issues no
// tokens; its access token validators accept those of an authorization
// server. It serves the client credentials grant (RFC 6749 §4.4) for the
// clients AddClient registers, so that a test can go the whole way from
// client secret to bearer token to changePassword.
const TokenPath = "/as/token.oauth2"

// tokenLifetime is the expires_in of the tokens the endpoint issues.
const tokenLifetime = 3600

// oauthClient is a client of the token endpoint.
type oauthClient struct {
	secret string
	dnKey  string   // the entry its tokens act as
	scopes []string // the scopes it may ask for; empty: any
}

// AddClient registers an OAuth 2 client of the token endpoint: its tokens
// act as the entry dn. When scopes are given, a request for any other
// scope is refused (invalid_scope), as an authorization server would.
func (s *Server) AddClient(clientID, secret, dn string, scopes ...string) error {
	if clientID == "" || secret == "" {
		return fmt.Errorf("add client: empty client id or secret")
	}
	ndn, err := parseDN(dn)
	if err != nil {
		return fmt.Errorf("add client for %q: %w", dn, err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := dnKey(ndn)
	if _, ok := s.users[k]; !ok {
		return fmt.Errorf("add client for %q: no such entry", dn)
	}
	s.clients[clientID] = oauthClient{secret: secret, dnKey: k, scopes: append([]string(nil), scopes...)}
	return nil
}

// TokenRequests is the number of requests the token endpoint received.
func (s *Server) TokenRequests() int64 { return s.tokenRequests.Load() }

// serveToken is POST /as/token.oauth2: client_secret_basic or
// client_secret_post, grant_type=client_credentials, an optional scope.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request) {
	s.tokenRequests.Add(1)
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		oauthError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the request body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxBody)
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request", "the request body is not a valid form")
		return
	}
	form := r.PostForm
	id, secret, basic := r.BasicAuth()
	if basic {
		// RFC 6749 §2.3.1: both parts are form-urlencoded before Basic.
		var e1, e2 error
		id, e1 = url.QueryUnescape(id)
		secret, e2 = url.QueryUnescape(secret)
		if e1 != nil || e2 != nil {
			oauthError(w, http.StatusUnauthorized, "invalid_client", "malformed client credentials")
			return
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
	}
	s.mu.Lock()
	cl, known := s.clients[id]
	s.mu.Unlock()
	if !known || subtle.ConstantTimeCompare([]byte(secret), []byte(cl.secret)) != 1 {
		oauthError(w, http.StatusUnauthorized, "invalid_client", "invalid client credentials")
		return
	}
	if form.Get("grant_type") != "client_credentials" {
		oauthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	scope := strings.Fields(form.Get("scope"))
	if len(cl.scopes) > 0 {
		for _, sc := range scope {
			allowed := false
			for _, a := range cl.scopes {
				allowed = allowed || a == sc
			}
			if !allowed {
				oauthError(w, http.StatusBadRequest, "invalid_scope", "the client may not ask for scope "+sc)
				return
			}
		}
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	s.mu.Lock()
	s.tokens[tok] = cl.dnKey
	s.mu.Unlock()
	body := map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": tokenLifetime}
	if len(scope) > 0 {
		body["scope"] = strings.Join(scope, " ")
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, response{status: http.StatusOK, contentType: plainJSON, body: body})
}

// oauthError writes an RFC 6749 §5.2 error answer.
func oauthError(w http.ResponseWriter, status int, code, desc string) {
	b, _ := json.Marshal(map[string]string{"error": code, "error_description": desc})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
	}
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// RevokeAllTokens forgets every bearer token, those of AddToken and those
// the token endpoint issued (requests with them then answer 401).
func (s *Server) RevokeAllTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}
