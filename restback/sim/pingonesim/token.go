package pingonesim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"mime"
	"net/http"
	"net/url"
)

// token is POST /{envID}/as/token: the client credentials grant with
// client_secret_basic or client_secret_post. The answer is the Worker
// applications page's: access_token, token_type and expires_in, and no
// scope ("It does not list any scopes").
func (s *Server) token(w http.ResponseWriter, r *http.Request, envID string) {
	if envID != s.cfg.EnvironmentID {
		writeOAuthError(w, http.StatusNotFound, "invalid_request", "unknown environment")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeOAuthError(w, http.StatusMethodNotAllowed, "invalid_request", "the token endpoint takes POST")
		return
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the request body must be application/x-www-form-urlencoded")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the request body is not a valid form")
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
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Request denied: malformed client credentials")
			return
		}
		if form.Has("client_secret") {
			writeOAuthError(w, http.StatusBadRequest, "invalid_request", "use one client authentication method")
			return
		}
	} else {
		id, secret = form.Get("client_id"), form.Get("client_secret")
		if id == "" || secret == "" {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Request denied: client authentication required")
			return
		}
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(s.cfg.ClientID)) == 1
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(s.cfg.ClientSecret)) == 1
	if !idOK || !secretOK {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "Request denied: invalid client credentials")
		return
	}
	if gt := form.Get("grant_type"); gt != "client_credentials" {
		writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "only client_credentials is supported")
		return
	}
	var b [32]byte
	_, _ = rand.Read(b[:])
	tok := hex.EncodeToString(b[:])
	now := s.now()
	s.mu.Lock()
	for t, exp := range s.tokens {
		if !now.Before(exp) {
			delete(s.tokens, t)
		}
	}
	s.tokens[tok] = now.Add(s.cfg.TokenTTL)
	s.mu.Unlock()
	s.grants.Add(1)
	secs := int64(s.cfg.TokenTTL.Seconds())
	if secs < 1 {
		secs = 1
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, "application/json", map[string]any{
		"access_token": tok,
		"token_type":   "Bearer",
		"expires_in":   secs,
	})
}
