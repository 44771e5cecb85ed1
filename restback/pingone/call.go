package pingone

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"time"

	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// callKind says what a lost answer means and so what may be sent again
// (the rule is transport.MayResend's).
type callKind = transport.Kind

const (
	readCall   = transport.Read   // GET
	checkCall  = transport.Read   // password check (Bind): verifies, changes nothing
	changeCall = transport.Change // password reset, set, setGateway
)

// The password media types of the PingOne Platform API.
const (
	mediaCheck      = "application/vnd.pingidentity.password.check+json"
	mediaReset      = "application/vnd.pingidentity.password.reset+json"
	mediaSet        = "application/vnd.pingidentity.password.set+json"
	mediaSetGateway = "application/vnd.pingidentity.password.setGateway+json"
)

// Call names of the client's requests, the "call" label of the backend
// metrics.
const (
	callToken          = "token" // the metrics package counts these as token refreshes
	callFindUser       = "find_user"
	callReadPolicy     = "read_policy"
	callCheckPassword  = "check_password"
	callChangePassword = "change_password"
	callSetPassword    = "set_password"
	callSetGateway     = "set_gateway"
)

// passwordCalls names the password requests by their media type.
var passwordCalls = map[string]string{
	mediaCheck:      callCheckPassword,
	mediaReset:      callChangePassword,
	mediaSet:        callSetPassword,
	mediaSetGateway: callSetGateway,
}

// Token retries: a token request is a read, retried when the connection
// could not be made.
const (
	maxDialRetries = 3
	dialBackoff    = 50 * time.Millisecond
)

type response struct {
	status    int
	header    http.Header
	body      []byte
	requestID string
	raw       *transport.Response // holds body's pooled buffer
}

// Fixed header values, shared by every request (net/http only reads them).
var (
	acceptHeader    = []string{"application/json"}
	userAgentHeader = []string{"ldapbridge"}
)

// token returns the worker token, trying again while the token endpoint
// cannot be reached.
func (c *Client) token(ctx context.Context) (string, *opError) {
	for retries := 0; ; retries++ {
		tok, err := c.tokens.get(ctx)
		if err == nil {
			return tok, nil
		}
		oe := tokenFailure(ctx, err)
		if oe.f == fUnreachable {
			// The client sees transport.Reason; the cause stays here.
			c.log.Warn("pingone: token request failed", "err", transport.Describe(err))
		}
		if c.life.Err() != nil {
			return "", closedError()
		}
		if !oe.notSent || retries >= maxDialRetries || !transport.Sleep(ctx, dialBackoff<<retries) {
			return "", oe
		}
	}
}

// call sends one API request (path is below the environment) with the
// worker token and returns PingOne's answer, or an opError when there is
// none to map. The transport retries what its rules allow; a 401 to a read
// drops the token and the read is repeated once with a fresh one. A 401 to
// a change is not repeated: it is not proof that the change was not made.
func (c *Client) call(ctx context.Context, kind callKind, name, method, path string, query url.Values, mediaType string, body []byte) (*response, *opError) {
	tok, oe := c.token(ctx)
	if oe != nil {
		return nil, oe
	}
	u := c.apiBase + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var tokErr *opError
	refreshed := false
	res := c.tr.Do(ctx, transport.Request{
		Kind: kind,
		Call: name,
		Build: func(actx context.Context) (*http.Request, error) {
			if tok == "" {
				// The token comes on the caller's context: the
				// attempt's carries its trace and call name.
				if tok, tokErr = c.token(ctx); tokErr != nil {
					return nil, tokErr
				}
			}
			var rd *bytes.Reader
			if body != nil {
				rd = bytes.NewReader(body)
			}
			var req *http.Request
			var err error
			if rd != nil {
				req, err = http.NewRequestWithContext(actx, method, u, rd)
			} else {
				req, err = http.NewRequestWithContext(actx, method, u, nil)
			}
			if err != nil {
				return nil, err
			}
			req.Header["Authorization"] = []string{"Bearer " + tok}
			req.Header["Accept"] = acceptHeader
			req.Header["User-Agent"] = userAgentHeader
			if mediaType != "" {
				req.Header.Set("Content-Type", mediaType)
			}
			return req, nil
		},
		Again: func(res *transport.Response) bool {
			if res.Status != http.StatusUnauthorized || refreshed {
				return false
			}
			refreshed = true
			c.tokens.invalidate(tok)
			tok = ""
			c.log.Debug("pingone: access token refused, refreshing", "path", path)
			return true
		},
		Observe: func(res *transport.Response, elapsed time.Duration) {
			if !c.log.Enabled(ctx, slog.LevelDebug) {
				// The arguments would be built (and allocated) for
				// a record nobody reads.
				return
			}
			c.log.Debug("pingone: request", "method", method, "path", path, "status", res.Status,
				"duration_ms", float64(elapsed.Microseconds())/1000, "request_id", transport.RequestID(res.Header), "sent", res.Sent)
		},
	})
	switch {
	case tokErr != nil:
		return nil, tokErr
	case res.BuildErr != nil:
		return nil, &opError{f: fProtocol, detail: "build request", err: res.BuildErr, notSent: true}
	case res.Err != nil:
		return nil, c.lostAnswer(ctx, kind, res.Err, !res.Sent)
	}
	reqID := transport.RequestID(res.Header)
	if res.BodyErr != nil {
		if res.Status/100 == 2 && kind == changeCall && len(res.Body) <= transport.MaxResponse {
			// The change was applied; only the state body was lost.
			return &response{status: res.Status, header: res.Header, requestID: reqID}, nil
		}
		if len(res.Body) > transport.MaxResponse {
			return nil, &opError{f: fProtocol, detail: "response larger than 1 MiB", requestID: reqID}
		}
		return nil, c.lostAnswer(ctx, kind, res.BodyErr, false)
	}
	return &response{status: res.Status, header: res.Header, body: res.Body, requestID: reqID, raw: res}, nil
}

// release returns the answer's pooled buffer (transport.Response.Release)
// once nothing reads body any more; nil-safe. A response not released is
// the collector's.
func (r *response) release() {
	if r != nil && r.raw != nil {
		r.body = nil
		r.raw.Release()
		r.raw = nil
	}
}

// lostAnswer is a request that got no usable answer. Only a change that
// may have been sent is "outcome unknown"; it is never retried. The
// client's diagnostic says what kind of failure it was (transport.Reason);
// PingOne's address and the dial error go to the log only.
func (c *Client) lostAnswer(ctx context.Context, kind callKind, err error, notSent bool) *opError {
	switch {
	case kind != changeCall && c.life.Err() != nil:
		// A shared read stopped by Close, not by the caller.
		return closedError()
	case notSent && ctx.Err() == context.Canceled:
		return &opError{f: fCanceled, err: err, notSent: true}
	case notSent:
		c.log.Warn("pingone: request not sent", "err", transport.Describe(err))
		return &opError{f: fUnreachable, detail: transport.Reason(err), err: err, notSent: true}
	case kind == changeCall:
		c.log.Warn("pingone: password change sent but not answered; outcome unknown", "err", transport.Describe(err))
		return &opError{f: fOutcomeUnknown, detail: transport.Reason(err), err: err}
	case ctx.Err() == context.Canceled:
		return &opError{f: fCanceled, err: err}
	}
	c.log.Warn("pingone: request sent but not answered", "err", transport.Describe(err))
	return &opError{f: fNoAnswer, detail: transport.Reason(err), err: err}
}

// closedError is an operation that needed a shared request (token, user
// lookup, policies) which Close stopped: the backend is retired.
func closedError() *opError {
	return &opError{f: fUnreachable, detail: "the backend was closed (its configuration was replaced)", notSent: true}
}
