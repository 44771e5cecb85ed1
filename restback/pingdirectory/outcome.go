package pingdirectory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// opKind tells the two operations apart where their failures differ: a
// bind may be repeated freely, a password change whose request may have
// arrived must never look like a definite failure.
type opKind uint8

const (
	opBind opKind = iota + 1
	opChange
)

// transportOutcome is the outcome when no response came back.
func (c *Client) transportOutcome(op opKind, ex exchange) bridge.Outcome {
	reason := describe(ex.err)
	switch {
	case op == opChange && ex.sent:
		return bridge.Fail(bridge.Other, fmt.Sprintf(
			"PingDirectory backend %q: outcome unknown: %s after the request was sent; the password may have been changed",
			c.name, reason))
	case ex.canceled && errors.Is(ex.err, context.Canceled):
		return bridge.Fail(bridge.Canceled, "operation canceled")
	default:
		out := bridge.Fail(bridge.Unavailable, fmt.Sprintf("PingDirectory backend %q unavailable: %s", c.name, reason))
		out.Retryable = !ex.sent && isDialError(ex.err)
		return out
	}
}

// statusOutcome maps a non-2xx answer. For a password change a 4xx body's
// own LDAP result code wins over the status, since it is "the LDAP result
// code to return"; 429 and 5xx are outages whatever the body says.
func (c *Client) statusOutcome(op opKind, ex exchange, res apiResult, hasRes bool) bridge.Outcome {
	st := ex.status
	detail := ""
	if hasRes && res.diagnostic != "" {
		detail = ": " + res.diagnostic
	}
	switch {
	case st >= 300 && st < 400:
		return bridge.Fail(bridge.Unavailable, fmt.Sprintf(
			"PingDirectory backend %q answered HTTP %d (a redirect); check its baseURL", c.name, st))
	case st == http.StatusTooManyRequests:
		out := bridge.Fail(bridge.Busy, fmt.Sprintf("PingDirectory backend %q is busy (HTTP 429)%s", c.name, detail))
		out.Retryable = true
		return out
	case st >= 500 || st < 200:
		out := bridge.Fail(bridge.Unavailable, fmt.Sprintf("PingDirectory backend %q unavailable: HTTP %d%s", c.name, st, detail))
		_, hasRetry := retryAfter(ex.header, time.Now())
		out.Retryable = st == http.StatusServiceUnavailable && hasRetry
		return out
	}
	code, ok := statusCodes[st]
	if !ok {
		code = bridge.Other
	}
	if op == opBind && st == http.StatusNotFound {
		code = bridge.InvalidCredentials
	}
	if op == opChange && hasRes && res.hasCode && res.code != bridge.Success {
		// The server's own result: its diagnostic, possibly none (a
		// wrong old password comes back without a reason).
		return bridge.Fail(res.code, res.diagnostic)
	}
	if op == opBind && code == bridge.InvalidCredentials {
		// The core words it; the backend's reason (locked, expired,
		// unknown) is not the client's to learn from a diagnostic.
		return bridge.Fail(code, "")
	}
	diag := res.diagnostic
	if diag == "" {
		diag = fmt.Sprintf("PingDirectory backend %q answered HTTP %d", c.name, st)
	}
	return bridge.Fail(code, diag)
}
