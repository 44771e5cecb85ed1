package directorysim

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

// LDAP result codes the simulator answers with.
const (
	resultSuccess                = 0
	resultProtocolError          = 2
	resultUnavailableCritical    = 12
	resultConstraintViolation    = 19
	resultNoSuchObject           = 32
	resultInvalidDNSyntax        = 34
	resultInvalidCredentials     = 49
	resultInsufficientAccess     = 50
	resultUnwilling              = 53
	resultOther                  = 80
	validationRequestOID         = "1.3.6.1.4.1.30221.2.5.40"
	ppolicyOID                   = "1.3.6.1.4.1.42.2.27.8.5.1"
	diagMustChange               = "You must change your password before you will be allowed to request any other operations"
	diagInvalidCredentials       = "Invalid credentials"
	diagTooYoung                 = "The password cannot be changed because it has not been long enough since the last password change"
	diagLocked                   = "The user account is locked"
	defaultPasswordPolicyDN      = "cn=Default Password Policy,cn=Password Policies,cn=config"
	generatedPasswordMaxAttempts = 20
)

// httpStatus is the HTTP status the simulator pairs with a non-success LDAP
// result. The Directory REST API documentation only says that the
// diagnostic is in "the HTTP failure response"; this table is the
// simulator's choice. Authentication failures are 401 (see authFailure).
func httpStatus(code int) int {
	switch code {
	case resultSuccess:
		return http.StatusOK
	case resultProtocolError, resultUnavailableCritical, resultConstraintViolation,
		resultInvalidDNSyntax, resultInvalidCredentials, resultUnwilling:
		return http.StatusBadRequest
	case resultInsufficientAccess:
		return http.StatusForbidden
	case resultNoSuchObject:
		return http.StatusNotFound
	default:
		return http.StatusInternalServerError
	}
}

// ldapResult is the body of a changePassword answer and of every failure.
type ldapResult struct {
	Links             map[string]any      `json:"_links,omitempty"`
	ResultCode        resultCode          `json:"resultCode"`
	MatchedDN         string              `json:"matchedDN,omitempty"`
	DiagnosticMessage string              `json:"diagnosticMessage,omitempty"`
	GeneratedPassword string              `json:"generatedPassword,omitempty"`
	Controls          []pwcontrol.Control `json:"_controls,omitempty"`
}

type resultCode struct {
	Value int    `json:"value"`
	Name  string `json:"name"`
}

func newResult(code int, diag string) ldapResult {
	return ldapResult{ResultCode: resultCode{Value: code, Name: bridge.ResultCode(code).String()}, DiagnosticMessage: diag}
}

func errorResponse(status, code int, diag string) response {
	return response{status: status, contentType: plainJSON, body: newResult(code, diag)}
}

func ldapFailure(res ldapResult) response {
	return response{status: httpStatus(res.ResultCode.Value), contentType: plainJSON, body: res}
}

// authFailure answers a request whose credentials do not authenticate.
// For Basic it challenges with Basic; for a bearer token, as RFC 6750 §3.1
// says, with Bearer error="invalid_token". The body's shape (an LDAP
// result, invalidCredentials) is the simulator's choice: no page shows a
// Directory REST API 401 body.
func authFailure(bearer bool) response {
	r := errorResponse(http.StatusUnauthorized, resultInvalidCredentials, diagInvalidCredentials)
	r.header = map[string]string{"WWW-Authenticate": `Basic realm="Directory REST API"`}
	if bearer {
		r.header["WWW-Authenticate"] = `Bearer realm="Directory REST API", error="invalid_token"`
	}
	return r
}

// authenticate checks the request's credentials: Basic (the DN and its
// password) or a bearer access token (AddToken), the two authentication
// types of the Directory REST API's Getting Started page; s.mu must be
// held. bearer tells which was tried, for the challenge. A Basic failure
// counts against the account and never says why (locked, expired, wrong
// password and unknown DN look alike), as a directory answers a bind.
func (s *Server) authenticate(r *http.Request) (u *user, ok, bearer bool) {
	if tok, isBearer := bearerToken(r.Header.Get("Authorization")); isBearer {
		u := s.users[s.tokens[tok]]
		if tok == "" || u == nil {
			return nil, false, true
		}
		now := s.now()
		// A token proves no password: the password's state does not
		// stop it, but a failure lock does (the account is not usable).
		if u.locked(s.policy, now) {
			return nil, false, true
		}
		return u, true, true
	}
	u, ok = s.authenticateBasic(r)
	return u, ok, false
}

// bearerToken reads an "Authorization: Bearer ..." header (the scheme is
// case-insensitive, RFC 7235 §2.1).
func bearerToken(h string) (string, bool) {
	scheme, tok, found := strings.Cut(strings.TrimSpace(h), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	return strings.TrimSpace(tok), true
}

func (s *Server) authenticateBasic(r *http.Request) (*user, bool) {
	name, password, ok := r.BasicAuth()
	if !ok || password == "" {
		return nil, false
	}
	dn, err := parseDN(name)
	if err != nil {
		return nil, false
	}
	u := s.users[dnKey(dn)]
	if u == nil {
		return nil, false
	}
	now := s.now()
	if u.locked(s.policy, now) {
		return nil, false
	}
	if !checkPassword(u.hash, []byte(password)) {
		u.recordFailure(s.policy, now)
		return nil, false
	}
	if u.expired(s.policy, now) {
		return nil, false
	}
	u.failures = nil
	return u, true
}

func (s *Server) isAdmin(dn *ldap.DN) bool {
	for _, a := range s.admins {
		if a.EqualFold(dn) {
			return true
		}
	}
	return false
}

// matchedDN is the longest proper suffix of dn under which some entry
// exists, standing in for the entries above the users.
func (s *Server) matchedDN(dn *ldap.DN) string {
	for i := 1; i < len(dn.RDNs); i++ {
		parent := &ldap.DN{RDNs: dn.RDNs[i:]}
		for _, u := range s.users {
			if parent.AncestorOfFold(u.ndn) {
				return parent.String()
			}
		}
	}
	return ""
}

func entryHref(r *http.Request, dn string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// The DN as the Password Modify page's example link prints it: its
	// "," and "=" as they are, anything else percent-encoded.
	return scheme + "://" + r.Host + apiPrefix + "/" + strings.ReplaceAll(url.PathEscape(dn), "%2C", ",")
}

// handleChangePassword is POST /directory/v1/{dn}/changePassword.
func (s *Server) handleChangePassword(w http.ResponseWriter, r *http.Request, seg string) response {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	if err != nil {
		return errorResponse(http.StatusRequestEntityTooLarge, resultProtocolError, "The request body is too large")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	actor, ok, bearer := s.authenticate(r)
	if !ok {
		return authFailure(bearer)
	}
	req, err := decodeChangeRequest(r.Header.Get("Content-Type"), body)
	if errors.Is(err, errUnsupportedMedia) {
		return errorResponse(http.StatusUnsupportedMediaType, resultProtocolError, err.Error())
	}
	if err != nil {
		return errorResponse(http.StatusBadRequest, resultProtocolError, err.Error())
	}
	dnStr, err := url.PathUnescape(seg)
	if err != nil {
		return errorResponse(http.StatusBadRequest, resultInvalidDNSyntax, "The DN in the request path is not validly percent-encoded")
	}
	tdn, err := parseDN(dnStr)
	if err != nil {
		return ldapFailure(newResult(resultInvalidDNSyntax, fmt.Sprintf("Unable to parse %q as a DN: %v", dnStr, err)))
	}
	wantDetails, wantPolicy := false, false
	for _, c := range req.Controls {
		switch {
		case c.OID == validationRequestOID:
			wantDetails = true
		case c.OID == ppolicyOID:
			wantPolicy = true
		case c.Criticality:
			return ldapFailure(newResult(resultUnavailableCritical, "The critical request control "+c.OID+" is not supported for this operation"))
		}
	}
	// failWith answers a failure, with the validation details control and
	// the ppolicy control (pe, when not PolicyErrorNone) when asked for.
	failWith := func(code int, diag string, vd *bridge.ValidationDetails, pe bridge.PolicyError) response {
		res := newResult(code, diag)
		if code == resultNoSuchObject {
			res.MatchedDN = s.matchedDN(tdn)
		}
		if wantDetails {
			if vd == nil {
				vd = &bridge.ValidationDetails{ResponseType: bridge.NoValidationAttempted}
			}
			res.Controls = append(res.Controls, pwcontrol.ValidationControl(vd))
		}
		if wantPolicy && pe != bridge.PolicyErrorNone {
			res.Controls = append(res.Controls, pwcontrol.PolicyControl(bridge.Policy{Error: pe}))
		}
		return ldapFailure(res)
	}
	fail := func(code int, diag string, vd *bridge.ValidationDetails) response {
		return failWith(code, diag, vd, bridge.PolicyErrorNone)
	}

	target := s.users[dnKey(tdn)]
	self := target != nil && target == actor
	hasOld := req.OldPassword != nil
	if hasOld && *req.OldPassword == "" {
		return fail(resultUnwilling, "The old password must not be empty", nil)
	}
	if req.NewPassword != nil && *req.NewPassword == "" {
		return fail(resultUnwilling, "The new password must not be empty", nil)
	}
	if actor.mustChange && !self {
		return fail(resultInsufficientAccess, diagMustChange, nil)
	}
	now := s.now()
	selfChange := hasOld || self
	// The order of the checks and their results follow the password
	// modify extended operation of OpenDS/OpenDJ, PingDirectory's
	// ancestor (PasswordModifyExtendedOperation.java).
	switch {
	case selfChange:
		// "If oldPassword is provided, the request is a self password
		// change, regardless of its authorization state."
		if target == nil {
			return fail(resultNoSuchObject, "The entry "+dnStr+" does not exist", nil)
		}
		if target.locked(s.policy, now) {
			return failWith(resultUnwilling, diagLocked, nil, bridge.AccountLocked)
		}
		if hasOld && !checkPassword(target.hash, []byte(*req.OldPassword)) {
			// invalidCredentials, with the reason only in the server's
			// log, and one more authentication failure.
			target.recordFailure(s.policy, now)
			return fail(resultInvalidCredentials, "", nil)
		}
	case s.isAdmin(actor.ndn):
		if target == nil {
			return fail(resultNoSuchObject, "The entry "+dnStr+" does not exist", nil)
		}
	default:
		return fail(resultInsufficientAccess, "You do not have sufficient access rights to change the password of "+dnStr, nil)
	}
	reset := !selfChange

	var newPassword []byte
	generated := req.NewPassword == nil
	var results []bridge.ValidationResult
	if generated {
		for range generatedPasswordMaxAttempts {
			pw, err := s.policy.generate()
			if err != nil {
				return fail(resultOther, "Unable to generate a password", nil)
			}
			results = s.policy.validate(pw, target, selfChange, now)
			newPassword = pw
			if len(unsatisfied(results)) == 0 || tooYoung(results) {
				break
			}
		}
	} else {
		newPassword = []byte(*req.NewPassword)
		results = s.policy.validate(newPassword, target, selfChange, now)
	}
	details := &bridge.ValidationDetails{ResponseType: bridge.ValidationPerformed, Results: results, MustChangePassword: reset}
	if generated {
		details = &bridge.ValidationDetails{ResponseType: bridge.NoPasswordProvided, MustChangePassword: reset}
	}
	if failed := unsatisfied(results); len(failed) > 0 {
		if generated {
			details = &bridge.ValidationDetails{ResponseType: bridge.ValidationPerformed, Results: results, MustChangePassword: reset}
		}
		if tooYoung(results) {
			return failWith(resultUnwilling, diagTooYoung, details, bridge.PasswordTooYoung)
		}
		return failWith(resultConstraintViolation, "The provided new password failed validation: "+strings.Join(failed, " "),
			details, bridge.InsufficientPasswordQuality)
	}
	h, err := hashPassword(newPassword)
	if err != nil {
		return fail(resultOther, "Unable to encode the new password", nil)
	}
	target.setPassword(s.policy, h, now, reset)
	if s.policy.MaxAge > 0 {
		secs := int64(s.policy.MaxAge / time.Second)
		details.SecondsUntilExpiration = &secs
	}
	res := newResult(resultSuccess, "")
	res.Links = map[string]any{"entry": map[string]string{"href": entryHref(r, target.dn)}}
	if generated {
		res.GeneratedPassword = string(newPassword)
	}
	if wantDetails {
		res.Controls = []pwcontrol.Control{pwcontrol.ValidationControl(details)}
	}
	return response{status: http.StatusOK, contentType: halJSON, body: res}
}

// handleMe is GET /directory/v1/me: the authenticated user's entry. A user
// who must change their password may still read it (it shows
// ds-pwp-state-json "must-change-password": true and pwdReset).
func (s *Server) handleMe(r *http.Request) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok, bearer := s.authenticate(r)
	if !ok {
		return authFailure(bearer)
	}
	return response{status: http.StatusOK, contentType: halJSON, body: s.entryJSON(r, u)}
}

// handleEntry is GET /directory/v1/{dn}: an entry, readable by itself and
// by administrators; others are told it does not exist.
func (s *Server) handleEntry(r *http.Request, seg string) response {
	s.mu.Lock()
	defer s.mu.Unlock()
	actor, ok, bearer := s.authenticate(r)
	if !ok {
		return authFailure(bearer)
	}
	if actor.mustChange {
		return ldapFailure(newResult(resultInsufficientAccess, diagMustChange))
	}
	dnStr, err := url.PathUnescape(seg)
	if err != nil {
		return errorResponse(http.StatusBadRequest, resultInvalidDNSyntax, "The DN in the request path is not validly percent-encoded")
	}
	dn, err := parseDN(dnStr)
	if err != nil {
		return ldapFailure(newResult(resultInvalidDNSyntax, fmt.Sprintf("Unable to parse %q as a DN: %v", dnStr, err)))
	}
	u := s.users[dnKey(dn)]
	if u == nil || (u != actor && !s.isAdmin(actor.ndn)) {
		res := newResult(resultNoSuchObject, "The entry "+dnStr+" does not exist")
		return ldapFailure(res)
	}
	return response{status: http.StatusOK, contentType: halJSON, body: s.entryJSON(r, u)}
}

// entryJSON renders an entry, honouring includeAttributes: user attributes
// by default, "*" for all of them, "_operationalAttributes" for the
// operational ones, or attribute names.
func (s *Server) entryJSON(r *http.Request, u *user) map[string]any {
	userAttrs := map[string]any{
		"objectClass": []string{"top", "person", "organizationalPerson", "inetOrgPerson"},
	}
	for _, a := range u.ndn.RDNs[0].Attributes {
		userAttrs[a.Type] = []string{a.Value}
	}
	for k, v := range u.attrs {
		userAttrs[k] = v
	}
	opAttrs := s.operationalAttrs(u)
	out := map[string]any{
		"_dn":    u.dn,
		"_links": map[string]any{"self": map[string]string{"href": entryHref(r, u.dn)}},
	}
	include := r.URL.Query().Get("includeAttributes")
	if strings.TrimSpace(include) == "" {
		for k, v := range userAttrs {
			out[k] = v
		}
		return out
	}
	for _, name := range strings.Split(include, ",") {
		name = strings.TrimSpace(name)
		switch {
		case name == "*":
			for k, v := range userAttrs {
				out[k] = v
			}
		case name == "_operationalAttributes":
			for k, v := range opAttrs {
				out[k] = v
			}
		default:
			for _, attrs := range []map[string]any{userAttrs, opAttrs} {
				for k, v := range attrs {
					if strings.EqualFold(k, name) {
						out[k] = v
					}
				}
			}
		}
	}
	return out
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

func generalizedTime(t time.Time) string { return t.UTC().Format("20060102150405.000Z") }

// operationalAttrs are the password policy state attributes, including
// ds-pwp-state-json with the fields of the UnboundID SDK's
// PasswordPolicyStateJSONField.
func (s *Server) operationalAttrs(u *user) map[string]any {
	p := s.policy
	now := s.now()
	locked := u.locked(p, now)
	expired := u.expired(p, now)
	st := map[string]any{
		"password-policy-dn":            defaultPasswordPolicyDN,
		"account-is-usable":             !locked && !expired && !u.mustChange,
		"has-static-password":           true,
		"password-changed-time":         isoTime(u.changedAt),
		"seconds-since-password-change": int64(now.Sub(u.changedAt) / time.Second),
		"account-is-disabled":           false,
		"account-is-failure-locked":     locked,
		"must-change-password":          u.mustChange,
		"force-change-on-reset":         true,
		"password-is-expired":           expired,
		"current-password-history-count": func() int {
			if p.History <= 0 {
				return 0
			}
			return len(u.history) + 1
		}(),
		"maximum-password-history-count": p.History,
	}
	var warnings []map[string]any
	if p.LockoutFailures > 0 {
		st["failure-lockout-count"] = p.LockoutFailures
		st["current-authentication-failure-count"] = len(u.failures)
		st["remaining-authentication-failure-count"] = max(p.LockoutFailures-len(u.failures), 0)
		if p.LockoutDuration > 0 {
			st["failure-lockout-duration-seconds"] = int64(p.LockoutDuration / time.Second)
		}
	}
	if p.MinAge > 0 {
		left := u.changedAt.Add(p.MinAge).Sub(now)
		st["minimum-password-age-seconds"] = int64(p.MinAge / time.Second)
		st["is-within-minimum-password-age"] = left > 0
		if left > 0 {
			st["seconds-remaining-in-minimum-password-age"] = int64(left / time.Second)
		}
	}
	if p.MaxAge > 0 {
		exp := u.changedAt.Add(p.MaxAge)
		st["maximum-password-age-seconds"] = int64(p.MaxAge / time.Second)
		st["password-expiration-time"] = isoTime(exp)
		st["password-expiration-warning-interval-seconds"] = int64(p.expiryWarning() / time.Second)
		if left := exp.Sub(now); left > 0 {
			secs := int64(left / time.Second)
			st["seconds-until-password-expiration"] = secs
			if left <= p.expiryWarning() {
				warnings = append(warnings, map[string]any{
					"type-id":   2,
					"type-name": "password-expiring",
					"message":   fmt.Sprintf("The password will expire in %d seconds", secs),
				})
			}
		}
	}
	if len(warnings) > 0 {
		st["account-usability-warnings"] = warnings
	}
	attrs := map[string]any{
		"ds-pwp-state-json": st,
		"pwdChangedTime":    generalizedTime(u.changedAt),
	}
	if u.mustChange {
		attrs["pwdReset"] = true
	}
	if len(u.failures) > 0 {
		var ts []string
		for _, f := range u.failures {
			ts = append(ts, generalizedTime(f))
		}
		attrs["pwdFailureTime"] = ts
	}
	if locked {
		attrs["pwdAccountLockedTime"] = generalizedTime(u.lockedAt)
	}
	return attrs
}
