package pingonesim

import (
	"encoding/json"
	"net/http"
)

// apiError is the PingOne Platform API error body:
// {id, code, message, details[{code, target, message, innerError}]}.
type apiError struct {
	ID      string        `json:"id"`
	Code    string        `json:"code"`
	Message string        `json:"message"`
	Details []errorDetail `json:"details,omitempty"`
}

type errorDetail struct {
	Code       string         `json:"code"`
	Target     string         `json:"target,omitempty"`
	Message    string         `json:"message"`
	InnerError map[string]any `json:"innerError,omitempty"`
}

// Top-level codes and messages by HTTP status. The codes are those of the
// public OpenAPI description of the PingOne management API
// (pingidentity/pingone-go-client, pingone/model_*_error_code.go):
// 400 INVALID_DATA, INVALID_REQUEST or REQUEST_FAILED; 401 and 403
// ACCESS_FAILED; 404 NOT_FOUND; 415 INVALID_REQUEST; 429 REQUEST_LIMITED;
// 500 UNEXPECTED_ERROR. The 400 message is the Error codes page's example
// (developer.pingidentity.com/pingone-api/platform/reference/error-codes.html);
// the other messages are the simulator's (no page shows them).
var statusCodes = map[int]apiError{
	http.StatusBadRequest:           {Code: "INVALID_DATA", Message: "The request could not be completed. One or more validation errors were in the request."},
	http.StatusUnauthorized:         {Code: "ACCESS_FAILED", Message: "The request could not be completed. The access token is invalid or expired."},
	http.StatusForbidden:            {Code: "ACCESS_FAILED", Message: "The request could not be completed. You do not have access to this resource."},
	http.StatusNotFound:             {Code: "NOT_FOUND", Message: "The request could not be completed. The requested resource was not found."},
	http.StatusMethodNotAllowed:     {Code: "INVALID_REQUEST", Message: "The request could not be completed. The method is not supported for this resource."},
	http.StatusUnsupportedMediaType: {Code: "INVALID_REQUEST", Message: "The request could not be completed. The Content-Type is not supported for this resource."},
	http.StatusTooManyRequests:      {Code: "REQUEST_LIMITED", Message: "The request could not be completed. Too many requests; try again later."},
}

func statusError(status int) apiError {
	if e, ok := statusCodes[status]; ok {
		return e
	}
	if status >= 500 {
		return apiError{Code: "UNEXPECTED_ERROR", Message: "The request could not be completed. An unexpected error occurred."}
	}
	return apiError{Code: "REQUEST_FAILED", Message: "The request could not be completed."}
}

func writeError(w http.ResponseWriter, status int, e apiError) {
	if e.Code == "" {
		d := e.Details
		e = statusError(status)
		e.Details = d
	}
	e.ID = newID()
	writeJSON(w, status, "application/json", e)
}

func writeStatus(w http.ResponseWriter, status int) { writeError(w, status, apiError{}) }

// msgInvalidData is the top-level message of a 400 INVALID_DATA that has
// details, as the Update Password (Set) page prints it ("Password import
// errors").
const msgInvalidData = "The data provided was invalid."

func writeInvalid(w http.ResponseWriter, d errorDetail) {
	writeError(w, http.StatusBadRequest, apiError{Code: "INVALID_DATA", Message: msgInvalidData, Details: []errorDetail{d}})
}

// writeRequestFailed is PingOne's answer to an operation the user's state
// does not allow (e.g. a self-service change for a user without a
// PingOne password).
func writeRequestFailed(w http.ResponseWriter, msg string) {
	writeError(w, http.StatusBadRequest, apiError{Code: "REQUEST_FAILED", Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, contentType string, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encode response", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeOAuthError is the token endpoint's RFC 6749 §5.2 error.
func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	if status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Basic realm="PingOne"`)
	}
	writeJSON(w, status, "application/json", map[string]string{"error": code, "error_description": desc})
}
