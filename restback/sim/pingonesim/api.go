package pingonesim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strings"
	"time"
)

// The password media types of the PingOne Platform API.
const (
	MediaCheck      = "application/vnd.pingidentity.password.check+json"
	MediaReset      = "application/vnd.pingidentity.password.reset+json"
	MediaSet        = "application/vnd.pingidentity.password.set+json"
	MediaSetGateway = "application/vnd.pingidentity.password.setGateway+json"

	halJSON      = "application/hal+json;charset=UTF-8"
	maxBodyBytes = 64 << 10
)

// api serves /v1/environments/{envID}/ + rest.
func (s *Server) api(w http.ResponseWriter, r *http.Request, rest []string) {
	switch {
	case len(rest) == 1 && rest[0] == "users":
		if !allow(w, r, http.MethodGet) {
			return
		}
		s.searchUsers(w, r)
	case len(rest) == 2 && rest[0] == "users":
		if !allow(w, r, http.MethodGet) {
			return
		}
		s.readUser(w, rest[1])
	case len(rest) == 3 && rest[0] == "users" && rest[2] == "password":
		s.password(w, r, rest[1])
	case len(rest) == 1 && rest[0] == "passwordPolicies":
		if !allow(w, r, http.MethodGet) {
			return
		}
		s.listPolicies(w)
	case len(rest) == 2 && rest[0] == "passwordPolicies":
		if !allow(w, r, http.MethodGet) {
			return
		}
		s.readPolicy(w, rest[1])
	default:
		writeStatus(w, http.StatusNotFound)
	}
}

func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	for _, m := range methods {
		if r.Method == m {
			return true
		}
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeStatus(w, http.StatusMethodNotAllowed)
	return false
}

// searchUsers is the users list: SCIM filter, limit and cursor paging
// (search.go).
func (s *Server) searchUsers(w http.ResponseWriter, r *http.Request) { s.listUsers(w, r) }

func (s *Server) readUser(w http.ResponseWriter, id string) {
	s.mu.Lock()
	u, ok := s.users[id]
	var body map[string]any
	if ok {
		body = s.userJSON(u)
	}
	s.mu.Unlock()
	if !ok {
		writeStatus(w, http.StatusNotFound)
		return
	}
	writeJSON(w, http.StatusOK, halJSON, body)
}

func (s *Server) listPolicies(w http.ResponseWriter) {
	all := append([]policy{s.policy}, s.others...)
	writeJSON(w, http.StatusOK, halJSON, map[string]any{
		"_links":    map[string]any{"self": map[string]string{"href": s.href("/passwordPolicies")}},
		"_embedded": map[string]any{"passwordPolicies": all},
		"count":     len(all),
		"size":      len(all),
	})
}

func (s *Server) readPolicy(w http.ResponseWriter, id string) {
	for _, p := range append([]policy{s.policy}, s.others...) {
		if p.ID == id {
			writeJSON(w, http.StatusOK, halJSON, p)
			return
		}
	}
	writeStatus(w, http.StatusNotFound)
}

// password serves /users/{id}/password: GET reads the state, POST checks
// a password, PUT resets, sets or delegates it, by media type.
func (s *Server) password(w http.ResponseWriter, r *http.Request, id string) {
	if !allow(w, r, http.MethodGet, http.MethodPost, http.MethodPut) {
		return
	}
	s.mu.Lock()
	_, ok := s.users[id]
	s.mu.Unlock()
	if !ok {
		writeStatus(w, http.StatusNotFound)
		return
	}
	if r.Method == http.MethodGet {
		s.mu.Lock()
		body := s.stateJSON(s.users[id], s.now())
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, halJSON, body)
		return
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil {
		writeStatus(w, http.StatusUnsupportedMediaType)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	if err != nil {
		writeError(w, http.StatusBadRequest, apiError{Code: "INVALID_REQUEST", Message: "The request could not be completed. The request body is too large or unreadable."})
		return
	}
	// mime.ParseMediaType lowers the case; PingOne's names have capitals.
	switch {
	case r.Method == http.MethodPost && strings.EqualFold(mt, MediaCheck):
		var req checkRequest
		if decodeBody(w, body, &req) {
			s.check(w, id, req)
		}
	case r.Method == http.MethodPut && strings.EqualFold(mt, MediaReset):
		var req resetRequest
		if decodeBody(w, body, &req) {
			s.reset(w, id, req)
		}
	case r.Method == http.MethodPut && strings.EqualFold(mt, MediaSet):
		var req setRequest
		if decodeBody(w, body, &req) {
			s.set(w, id, req)
		}
	case r.Method == http.MethodPut && strings.EqualFold(mt, MediaSetGateway):
		var req gatewayRequest
		if decodeBody(w, body, &req) {
			s.setGateway(w, id, req)
		}
	default:
		writeStatus(w, http.StatusUnsupportedMediaType)
	}
}

// The request bodies. Pointers tell an absent field from an empty one.
type checkRequest struct {
	Password *string `json:"password"`
}

type resetRequest struct {
	CurrentPassword *string `json:"currentPassword"`
	NewPassword     *string `json:"newPassword"`
}

type setRequest struct {
	Value        *string `json:"value"`
	ForceChange  bool    `json:"forceChange"`
	BypassPolicy bool    `json:"bypassPolicy"`
	External     *struct {
		Gateway *gatewayRef `json:"gateway"`
	} `json:"external"`
}

type gatewayRequest struct {
	ID                    string            `json:"id"`
	UserType              *ref              `json:"userType"`
	CorrelationAttributes map[string]string `json:"correlationAttributes"`
}

// DecodeRequest decodes a password request body of the given media type
// the way the simulator does (unknown fields and trailing data refused),
// for fuzzing.
func DecodeRequest(mediaType string, body []byte) error {
	var v any
	switch mediaType {
	case MediaCheck:
		v = &checkRequest{}
	case MediaReset:
		v = &resetRequest{}
	case MediaSet:
		v = &setRequest{}
	case MediaSetGateway:
		v = &gatewayRequest{}
	default:
		return fmt.Errorf("unsupported media type %q", mediaType)
	}
	return decodeStrict(body, v)
}

func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("decode request body: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("decode request body: trailing data")
	}
	return nil
}

func decodeBody(w http.ResponseWriter, body []byte, v any) bool {
	if err := decodeStrict(body, v); err != nil {
		writeError(w, http.StatusBadRequest, apiError{
			Code:    "INVALID_REQUEST",
			Message: "The request could not be completed. The request body is not valid for its media type.",
		})
		return false
	}
	return true
}

func required(w http.ResponseWriter, target string) {
	writeInvalid(w, errorDetail{Code: "REQUIRED_VALUE", Target: target, Message: target + " is required"})
}

// stateJSON is the password state resource. Callers hold s.mu.
func (s *Server) stateJSON(u *user, now time.Time) map[string]any {
	self := s.href("/users/" + u.id + "/password")
	m := map[string]any{
		"_links": map[string]any{
			"self":             map[string]string{"href": self},
			"environment":      map[string]string{"href": s.href("")},
			"user":             map[string]string{"href": s.href("/users/" + u.id)},
			"passwordPolicy":   map[string]string{"href": s.href("/passwordPolicies/" + s.policy.ID)},
			"password.check":   map[string]string{"href": self},
			"password.reset":   map[string]string{"href": self},
			"password.set":     map[string]string{"href": self},
			"password.recover": map[string]string{"href": self},
		},
		"environment":    ref{s.cfg.EnvironmentID},
		"user":           ref{u.id},
		"passwordPolicy": ref{s.policy.ID},
		"status":         s.status(u, now),
	}
	if u.hasPassword {
		m["lastChangedAt"] = u.lastChanged.UTC().Format(timeFormat)
	}
	if now.Before(u.lockedUntil) {
		m["secondsUntilUnlock"] = int64(u.lockedUntil.Sub(now).Seconds())
	}
	if exp, ok := s.expiresAt(u); ok && u.hasPassword && now.Before(exp) && exp.Sub(now) < expiryWarnWindow {
		m["warnings"] = map[string]string{"expires": exp.UTC().Format(timeFormat)}
	}
	// No page shows the gateway in the password state (the Update
	// Password answers end with status, lastChangedAt and warnings), so
	// the simulator does not either; UserState reports it to tests.
	return m
}

// lockedOut is the answer to a password operation on a locked-out user.
// The Password Check page documents a 400 for PASSWORD_LOCKED_OUT without
// showing the body; its shape (detail code PASSWORD_LOCKED_OUT,
// innerError.secondsUntilUnlock, named after the password state's
// secondsUntilUnlock) is the simulator's choice: an assumption listed in
// docs/ping-api.md.
func lockedOut(w http.ResponseWriter, target string, secs int64) {
	writeInvalid(w, errorDetail{
		Code: "PASSWORD_LOCKED_OUT", Target: target,
		Message:    "The password is locked because of too many failed attempts.",
		InnerError: map[string]any{"secondsUntilUnlock": secs},
	})
}

// noPassword is the answer to a check or self change for a user whose
// password is not held by PingOne. The Password Check page documents a 400
// for NO_PASSWORD without showing the body: the simulator sends detail
// code NO_PASSWORD, a code of the public OpenAPI description
// (BadRequestErrorDetailCode). For EXTERNAL (an LDAP gateway holds the
// password) it sends REQUEST_FAILED, which the User Passwords page
// documents for self-service actions of users whose password PingOne does
// not manage.
func noPassword(w http.ResponseWriter, status, target string) {
	if status == statusExternal {
		writeRequestFailed(w, "The request could not be completed. The user's password is managed by an external directory.")
		return
	}
	writeInvalid(w, errorDetail{Code: "NO_PASSWORD", Target: target, Message: "No password has been set for the account."})
}

// userOr404 finds user id, or answers 404 for it. Callers hold s.mu.
func (s *Server) userOr404(w http.ResponseWriter, id string) (*user, bool) {
	u, ok := s.users[id]
	if !ok {
		writeStatus(w, http.StatusNotFound)
	}
	return u, ok
}

// passwordHolder finds user id for an operation on its password and
// answers for it when there is none, it holds no password, or it is locked
// out (target names the field the lockout error points at). Callers hold
// s.mu.
func (s *Server) passwordHolder(w http.ResponseWriter, id, target string) (*user, time.Time, bool) {
	u, ok := s.userOr404(w, id)
	if !ok {
		return nil, time.Time{}, false
	}
	now := s.now()
	s.unlockIfDue(u, now)
	switch st := s.status(u, now); st {
	case statusNoPassword, statusExternal:
		noPassword(w, st, target)
		return nil, time.Time{}, false
	case statusLockedOut:
		lockedOut(w, target, int64(u.lockedUntil.Sub(now).Seconds()))
		return nil, time.Time{}, false
	}
	return u, now, true
}

func (s *Server) check(w http.ResponseWriter, id string, req checkRequest) {
	if req.Password == nil || *req.Password == "" {
		required(w, "password")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, now, ok := s.passwordHolder(w, id, "password")
	if !ok {
		return
	}
	if !s.verify(u, *req.Password) {
		left := s.recordFailure(u, now)
		d := errorDetail{Code: "INVALID_VALUE", Target: "password", Message: "The provided password did not match provided user"}
		if left >= 0 {
			d.InnerError = map[string]any{"failuresRemaining": left}
		}
		writeInvalid(w, d)
		return
	}
	u.failures = 0
	writeJSON(w, http.StatusOK, halJSON, s.stateJSON(u, now))
}

func policyFailure(w http.ResponseWriter, target string, unmet []string) {
	writeInvalid(w, errorDetail{
		Code: "INVALID_VALUE", Target: target,
		Message:    "The password did not satisfy password policy requirements",
		InnerError: map[string]any{"unsatisfiedRequirements": unmet},
	})
}

func (s *Server) reset(w http.ResponseWriter, id string, req resetRequest) {
	if req.NewPassword == nil || *req.NewPassword == "" {
		required(w, "newPassword")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, now, ok := s.passwordHolder(w, id, "currentPassword")
	if !ok {
		return
	}
	if req.CurrentPassword == nil || *req.CurrentPassword == "" {
		required(w, "currentPassword")
		return
	}
	if !s.verify(u, *req.CurrentPassword) {
		left := s.recordFailure(u, now)
		d := errorDetail{Code: "INVALID_VALUE", Target: "currentPassword", Message: "The current password is not correct"}
		if left >= 0 {
			d.InnerError = map[string]any{"failuresRemaining": left}
		}
		writeInvalid(w, d)
		return
	}
	// PingOne's minimum age applies to self changes, not to a password an
	// administrator set with forceChange. Its error shape is not
	// documented; the simulator reports it as the unmet "minAgeDays".
	if s.policy.minAge > 0 && !u.mustChange && now.Sub(u.lastChanged) < s.policy.minAge {
		policyFailure(w, "newPassword", []string{"minAgeDays"})
		return
	}
	unmet := s.policy.unsatisfied(*req.NewPassword, evalContext{
		profile:   s.profile(u),
		current:   *req.CurrentPassword,
		inHistory: func(c string) bool { return s.inHistory(u, c, now) },
	})
	if len(unmet) > 0 {
		policyFailure(w, "newPassword", unmet)
		return
	}
	s.setPassword(u, *req.NewPassword, now)
	u.mustChange = false
	writeJSON(w, http.StatusOK, halJSON, s.stateJSON(u, now))
}

func (s *Server) set(w http.ResponseWriter, id string, req setRequest) {
	if req.Value == nil || *req.Value == "" {
		required(w, "value")
		return
	}
	var gw *gatewayRef
	if req.External != nil && req.External.Gateway != nil {
		gw = req.External.Gateway
		if gw.ID == "" || gw.UserType.ID == "" {
			required(w, "external.gateway.id")
			return
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.userOr404(w, id)
	if !ok {
		return
	}
	now := s.now()
	// Cleartext values are checked against the policy unless bypassed;
	// pre-encoded values never are (PingOne's documented behaviour).
	if !req.BypassPolicy && encodedScheme(*req.Value) == "" {
		unmet := s.policy.unsatisfied(*req.Value, evalContext{
			profile:   s.profile(u),
			inHistory: func(c string) bool { return s.inHistory(u, c, now) },
		})
		if len(unmet) > 0 {
			policyFailure(w, "value", unmet)
			return
		}
	}
	s.setPassword(u, *req.Value, now)
	u.mustChange = req.ForceChange
	if gw != nil {
		u.gateway = gw
	}
	writeJSON(w, http.StatusOK, halJSON, s.stateJSON(u, now))
}

func (s *Server) setGateway(w http.ResponseWriter, id string, req gatewayRequest) {
	empty := req.ID == "" && req.UserType == nil && len(req.CorrelationAttributes) == 0
	if !empty && (req.ID == "" || req.UserType == nil || req.UserType.ID == "") {
		required(w, "id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.userOr404(w, id)
	if !ok {
		return
	}
	now := s.now()
	// Either way the password leaves PingOne: {} unsets it, a gateway
	// makes the LDAP directory its authority (status EXTERNAL).
	u.hasPassword, u.digest, u.encoded = false, [32]byte{}, ""
	u.mustChange, u.failures, u.lockedUntil = false, 0, time.Time{}
	u.gateway = nil
	if !empty {
		u.gateway = &gatewayRef{ID: req.ID, UserType: *req.UserType, CorrelationAttributes: req.CorrelationAttributes}
	}
	writeJSON(w, http.StatusOK, halJSON, s.stateJSON(u, now))
}
