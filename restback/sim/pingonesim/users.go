package pingonesim

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// user is a simulated PingOne user and its password state.
type user struct {
	id, username, email string
	created             time.Time
	// profile holds the other user attributes by their path (name.given,
	// title, ...): search.go SetProfile.
	profile map[string]string

	// Exactly one of digest (cleartext set) and encoded (pre-encoded set)
	// is meaningful when hasPassword is true.
	hasPassword bool
	digest      [32]byte
	encoded     string

	prior       []priorPassword // most recent first
	lastChanged time.Time
	mustChange  bool
	failures    int
	lockedUntil time.Time
	gateway     *gatewayRef
}

type priorPassword struct {
	digest [32]byte
	at     time.Time
}

// gatewayRef is the LDAP gateway a user's password is delegated to.
type gatewayRef struct {
	ID                    string            `json:"id"`
	UserType              ref               `json:"userType"`
	CorrelationAttributes map[string]string `json:"correlationAttributes,omitempty"`
}

// The password states of the PingOne API.
const (
	statusOK          = "OK"
	statusMustChange  = "MUST_CHANGE_PASSWORD"
	statusExpired     = "PASSWORD_EXPIRED"
	statusLockedOut   = "PASSWORD_LOCKED_OUT"
	statusNoPassword  = "NO_PASSWORD"
	statusExternal    = "EXTERNAL"
	expiryWarnWindow  = 21 * 24 * time.Hour
	maxUsernameLength = 128
)

// AddUser creates a user (as an import: the password is not checked
// against the policy). An empty password leaves the user without one.
func (s *Server) AddUser(username, email, password string) (string, error) {
	if username == "" || len(username) > maxUsernameLength {
		return "", fmt.Errorf("pingonesim: add user: username must have 1 to %d bytes", maxUsernameLength)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, u := range s.users {
		if strings.EqualFold(u.username, username) {
			return "", fmt.Errorf("pingonesim: add user %q: username already taken", username)
		}
	}
	now := s.now()
	u := &user{id: newID(), username: username, email: email, created: now}
	if password != "" {
		s.setPassword(u, password, now)
	}
	s.users[u.id] = u
	s.order = append(s.order, u.id)
	return u.id, nil
}

// DeleteUser removes a user, as an administrator deleting it in PingOne.
func (s *Server) DeleteUser(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.users[id]; !ok {
		return errors.New("pingonesim: delete user: no such user")
	}
	delete(s.users, id)
	for i, o := range s.order {
		if o == id {
			s.order = append(s.order[:i], s.order[i+1:]...)
			break
		}
	}
	return nil
}

// UserState is a user's password state, for tests.
type UserState struct {
	Status   string
	Failures int
	// Gateway is the LDAP gateway id the password is delegated to, if any.
	Gateway               string
	GatewayUserType       string
	CorrelationAttributes map[string]string
	// Encoded is the stored pre-encoded value, if the password was set
	// pre-encoded.
	Encoded string
}

// UserState reports the password state of user id.
func (s *Server) UserState(id string) (UserState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[id]
	if !ok {
		return UserState{}, errors.New("pingonesim: user state: no such user")
	}
	st := UserState{Status: s.status(u, s.now()), Failures: u.failures, Encoded: u.encoded}
	if u.gateway != nil {
		st.Gateway = u.gateway.ID
		st.GatewayUserType = u.gateway.UserType.ID
		st.CorrelationAttributes = u.gateway.CorrelationAttributes
	}
	return st, nil
}

// status computes the password status at now. Callers hold s.mu.
func (s *Server) status(u *user, now time.Time) string {
	switch {
	case !u.hasPassword && u.gateway != nil:
		return statusExternal
	case !u.hasPassword:
		return statusNoPassword
	case now.Before(u.lockedUntil):
		return statusLockedOut
	case u.mustChange:
		return statusMustChange
	case s.expired(u, now):
		return statusExpired
	}
	return statusOK
}

func (s *Server) expiresAt(u *user) (time.Time, bool) {
	if s.policy.MaxAgeDays == nil || u.lastChanged.IsZero() {
		return time.Time{}, false
	}
	return u.lastChanged.Add(time.Duration(*s.policy.MaxAgeDays) * 24 * time.Hour), true
}

func (s *Server) expired(u *user, now time.Time) bool {
	exp, ok := s.expiresAt(u)
	return ok && !now.Before(exp)
}

// setPassword stores a new password, remembering the old one for the
// history rule. Callers hold s.mu.
func (s *Server) setPassword(u *user, value string, now time.Time) {
	if u.hasPassword && u.encoded == "" {
		u.prior = append([]priorPassword{{digest: u.digest, at: now}}, u.prior...)
		if h := s.policy.History; h != nil && len(u.prior) > h.Count {
			u.prior = u.prior[:h.Count]
		}
	}
	u.hasPassword = true
	if encodedScheme(value) != "" {
		u.encoded, u.digest = value, [32]byte{}
	} else {
		u.encoded, u.digest = "", s.digest(value)
	}
	u.lastChanged = now
	u.failures = 0
	u.lockedUntil = time.Time{}
}

// inHistory: the current password or one of the retained prior ones.
func (s *Server) inHistory(u *user, candidate string, now time.Time) bool {
	d := s.digest(candidate)
	if u.hasPassword && u.encoded == "" && d == u.digest {
		return true
	}
	h := s.policy.History
	if h == nil {
		return false
	}
	for i, p := range u.prior {
		if i >= h.Count {
			break
		}
		if h.RetentionDays > 0 && now.Sub(p.at) > time.Duration(h.RetentionDays)*24*time.Hour {
			break
		}
		if p.digest == d {
			return true
		}
	}
	return false
}

// verify checks a password against the stored one. Callers hold s.mu.
func (s *Server) verify(u *user, password string) bool {
	if !u.hasPassword {
		return false
	}
	if u.encoded != "" {
		return verifyEncoded(u.encoded, password)
	}
	d := s.digest(password)
	return d == u.digest
}

// unlockIfDue ends an expired lockout. Callers hold s.mu.
func (s *Server) unlockIfDue(u *user, now time.Time) {
	if !u.lockedUntil.IsZero() && !now.Before(u.lockedUntil) {
		u.lockedUntil = time.Time{}
		u.failures = 0
	}
}

// recordFailure counts a wrong password and returns the failures left
// before lockout. Callers hold s.mu.
func (s *Server) recordFailure(u *user, now time.Time) int {
	lo := s.policy.Lockout
	if lo == nil {
		return -1
	}
	u.failures++
	left := lo.FailureCount - u.failures
	if left <= 0 {
		u.lockedUntil = now.Add(time.Duration(lo.DurationSeconds) * time.Second)
		left = 0
	}
	return left
}

func (s *Server) profile(u *user) []string {
	local, _, _ := strings.Cut(u.email, "@")
	return []string{u.username, u.email, local}
}

func (s *Server) userJSON(u *user) map[string]any {
	m := map[string]any{
		"_links":      map[string]any{"self": map[string]string{"href": s.href("/users/" + u.id)}},
		"id":          u.id,
		"environment": ref{s.cfg.EnvironmentID},
		"username":    u.username,
		"enabled":     true,
		"createdAt":   u.created.UTC().Format(timeFormat),
		"updatedAt":   u.created.UTC().Format(timeFormat),
		"lifecycle":   map[string]string{"status": "ACCOUNT_OK"},
		"population":  ref{"00000000-0000-4000-8000-000000000001"},
	}
	if u.email != "" {
		m["email"] = u.email
	}
	addProfile(m, u.profile)
	return m
}

func (s *Server) href(path string) string {
	return "https://api.pingone.com/v1/environments/" + s.cfg.EnvironmentID + path
}
