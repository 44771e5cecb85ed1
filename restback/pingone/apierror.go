package pingone

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// apiError is PingOne's error body:
// {id, code, message, details[{code, target, message, innerError}]}.
type apiError struct {
	ID      string
	Code    string
	Message string
	Details []errorDetail
}

type errorDetail struct {
	Code    string
	Target  string
	Message string
	// From innerError; the fields PingOne documents for passwords.
	Unsatisfied        []string
	FailuresRemaining  *int64
	SecondsUntilUnlock *int64
}

// Bounds on what a decoded error keeps, whatever the server sends.
const (
	maxDetails     = 32
	maxUnsatisfied = 64
	maxErrorText   = 256
)

// decodeAPIError parses an error body. It is lenient about innerError,
// whose shape varies by error, and strict about the envelope.
func decodeAPIError(body []byte) (*apiError, error) {
	var raw struct {
		ID      json.RawMessage `json:"id"`
		Code    string          `json:"code"`
		Message string          `json:"message"`
		Details []struct {
			Code       string          `json:"code"`
			Target     string          `json:"target"`
			Message    string          `json:"message"`
			InnerError json.RawMessage `json:"innerError"`
		} `json:"details"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("decode PingOne error body: %w", err)
	}
	// Checked after sanitizing: a code of blanks or control characters
	// is no code.
	e := &apiError{
		Code:    sanitize(raw.Code, 64),
		Message: sanitize(raw.Message, maxErrorText),
	}
	if e.Code == "" {
		return nil, errors.New("decode PingOne error body: no code")
	}
	var id string
	if json.Unmarshal(raw.ID, &id) == nil {
		e.ID = sanitize(id, 64)
	}
	for i, d := range raw.Details {
		if i == maxDetails {
			break
		}
		ed := errorDetail{
			Code:    sanitize(d.Code, 64),
			Target:  sanitize(d.Target, 64),
			Message: sanitize(d.Message, maxErrorText),
		}
		decodeInner(d.InnerError, &ed)
		e.Details = append(e.Details, ed)
	}
	return e, nil
}

func decodeInner(raw json.RawMessage, d *errorDetail) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || raw[0] != '{' {
		return
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return
	}
	var reqs []json.RawMessage
	if json.Unmarshal(m["unsatisfiedRequirements"], &reqs) == nil {
		for _, r := range reqs {
			var name string
			if json.Unmarshal(r, &name) == nil && name != "" && len(d.Unsatisfied) < maxUnsatisfied {
				d.Unsatisfied = append(d.Unsatisfied, sanitize(name, 64))
			}
		}
	}
	var n int64
	if v, ok := m["failuresRemaining"]; ok && json.Unmarshal(v, &n) == nil {
		d.FailuresRemaining = &n
	}
	var secs int64
	if v, ok := m["secondsUntilUnlock"]; ok && json.Unmarshal(v, &secs) == nil {
		d.SecondsUntilUnlock = &secs
	}
}

// describe is the error for a diagnostic: code and message, bounded.
func (e *apiError) describe() string {
	s := e.Code
	if e.Message != "" {
		s += ": " + e.Message
	}
	for _, d := range e.Details {
		if d.Message != "" {
			s += " (" + d.Message + ")"
			break
		}
	}
	return sanitize(s, 2*maxErrorText)
}

// classify maps a non-2xx answer to a failure.
func classify(status int, body []byte, requestID string) *opError {
	e, derr := decodeAPIError(body)
	oe := &opError{requestID: requestID}
	if e != nil && oe.requestID == "" {
		oe.requestID = e.ID
	}
	desc := fmt.Sprintf("HTTP %d", status)
	if e != nil {
		desc = e.describe()
		oe.apiCode = e.Code
	}
	switch {
	case status == http.StatusBadRequest:
		if e == nil {
			oe.f, oe.detail, oe.err = fProtocol, desc, derr
			return oe
		}
		classify400(e, oe)
		if oe.f == fRejected || oe.f == fNoPassword {
			oe.detail = desc
		}
	case status == http.StatusUnauthorized:
		oe.f, oe.detail = fCredentials, "the API refused a fresh access token ("+desc+")"
	case status == http.StatusForbidden:
		oe.f, oe.detail = fForbidden, desc
	case status == http.StatusNotFound && e == nil:
		// Not PingOne's answer (a proxy's page, an API URL with a path
		// pasted in): wrong place is not an unknown user.
		oe.f, oe.detail, oe.err = fProtocol, "HTTP 404 without PingOne's error body; check the API URL", derr
	case status == http.StatusNotFound:
		oe.f = fNotFound
	case status == http.StatusTooManyRequests:
		oe.f = fBusy
	case status == http.StatusServiceUnavailable:
		oe.f, oe.detail = fUnreachable, desc
	case status >= 500:
		oe.f, oe.detail = fServerError, desc
	default:
		oe.f, oe.detail = fProtocol, desc
	}
	return oe
}

// classify400 reads the details of a 400: policy failures, wrong or
// locked passwords, or a refusal.
func classify400(e *apiError, oe *opError) {
	for _, d := range e.Details {
		switch {
		case len(d.Unsatisfied) > 0:
			oe.unmet = d.Unsatisfied
			oe.f = policyFailure(d.Unsatisfied)
			return
		case strings.EqualFold(d.Code, "PASSWORD_LOCKED_OUT"):
			oe.f = fLocked
			return
		case strings.EqualFold(d.Code, "NO_PASSWORD"):
			// A detail code of the public OpenAPI description
			// (BadRequestErrorDetailCode, pingidentity/pingone-go-client).
			oe.f = fNoPassword
			return
		case strings.EqualFold(d.Code, "INVALID_VALUE") && (d.Target == "newPassword" || d.Target == "value"):
			// The new password refused, its requirements unnamed.
			oe.f, oe.policyRefusal = fQuality, true
			return
		case strings.EqualFold(d.Code, "INVALID_VALUE") && (d.Target == "password" || d.Target == "currentPassword"):
			oe.f = fWrongPassword
			if d.FailuresRemaining != nil && *d.FailuresRemaining <= 0 {
				oe.f = fLocked
			}
			return
		}
	}
	if strings.EqualFold(e.Code, "REQUEST_FAILED") {
		oe.f = fNoPassword
		return
	}
	oe.f = fRejected
}

// policyFailure picks the ppolicy error for PingOne's unmet requirements:
// only length, only history, minimum age, or anything else.
func policyFailure(unmet []string) failure {
	only := func(name string) bool {
		for _, u := range unmet {
			if u != name {
				return false
			}
		}
		return true
	}
	for _, u := range unmet {
		if u == reqMinAge {
			return fTooYoung
		}
	}
	switch {
	case only(reqLength):
		return fTooShort
	case only(reqHistory):
		return fInHistory
	}
	return fQuality
}
