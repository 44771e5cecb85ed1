package pingdirectory

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// opKind tells the two operations apart where their failures differ: a
// bind may be repeated freely, a password change whose request may have
// arrived must never look like a definite failure.
type opKind uint8

const (
	opBind opKind = iota + 1
	opChange
)

// transportOutcome is the outcome when no response came back. The
// client learns what kind of failure it was, never the backend's address
// or the dial error: those are in the log (logExchange).
func (c *Client) transportOutcome(op opKind, ex *exchange) bridge.Outcome {
	reason := transport.Reason(ex.Err)
	switch {
	case op == opChange && ex.Sent:
		return bridge.Fail(bridge.Other, fmt.Sprintf(
			"PingDirectory backend %q: outcome unknown: %s after the request was sent; the password may have been changed",
			c.name, reason))
	case ex.Canceled && errors.Is(ex.Err, context.Canceled):
		return bridge.Fail(bridge.Canceled, "operation canceled")
	default:
		return bridge.Fail(bridge.Unavailable, fmt.Sprintf("PingDirectory backend %q unavailable: %s", c.name, reason))
	}
}

// statusOutcome maps a non-2xx answer. For a password change a 4xx body's
// own LDAP result code wins over the status, since it is "the LDAP result
// code to return"; 429 and 5xx are outages whatever the body says.
//
// Wrong place is not wrong password: a 404 never says that credentials
// are wrong (GET /me of an unknown DN is a 401), so on a bind it is an
// outage (a base URL with the API path pasted in, a proxy's page); a
// change answered by something that is not the API (no LDAP result in a
// JSON body), or by a 404 that is not noSuchObject, has an unknown outcome.
func (c *Client) statusOutcome(op opKind, ex *exchange, res apiResult, hasRes bool) bridge.Outcome {
	st := ex.Status
	detail := ""
	if hasRes && res.diagnostic != "" {
		detail = ": " + res.diagnostic
	}
	switch {
	case st >= 300 && st < 400:
		return bridge.Fail(bridge.Unavailable, fmt.Sprintf(
			"PingDirectory backend %q answered HTTP %d (a redirect); check its baseURL", c.name, st))
	case st == http.StatusTooManyRequests:
		return bridge.Fail(bridge.Busy, fmt.Sprintf("PingDirectory backend %q is busy (HTTP 429)%s", c.name, detail))
	case st >= 500 || st < 200:
		return bridge.Fail(bridge.Unavailable, fmt.Sprintf("PingDirectory backend %q unavailable: HTTP %d%s", c.name, st, detail))
	case op == opBind && st == http.StatusNotFound:
		return bridge.Fail(bridge.Unavailable, fmt.Sprintf(
			"PingDirectory backend %q answered HTTP 404 to a bind; check its baseURL (without %s)", c.name, apiPath))
	case op == opChange && st == http.StatusNotFound && !(hasRes && res.hasCode && res.code == bridge.NoSuchObject),
		op == opChange && !(hasRes && res.hasCode) && st != http.StatusUnauthorized && st != http.StatusForbidden:
		return bridge.Fail(bridge.Other, fmt.Sprintf(
			"PingDirectory backend %q: outcome unknown: it answered HTTP %d without an LDAP result; the password may have been changed (check its baseURL)",
			c.name, st))
	}
	code, ok := statusCodes[st]
	if !ok {
		code = bridge.Other
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
