package pingone

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// callKind says what a lost answer means and so what may be retried.
type callKind uint8

const (
	readCall   callKind = iota // GET
	checkCall                  // password check (Bind)
	changeCall                 // password reset, set, setGateway
)

// The password media types of the PingOne Platform API.
const (
	mediaCheck      = "application/vnd.pingidentity.password.check+json"
	mediaReset      = "application/vnd.pingidentity.password.reset+json"
	mediaSet        = "application/vnd.pingidentity.password.set+json"
	mediaSetGateway = "application/vnd.pingidentity.password.setGateway+json"
)

// Retry limits. Only requests that certainly did not reach PingOne's
// application are retried: dial failures, and 429/503 with a Retry-After
// that fits in the operation's deadline.
const (
	maxDialRetries = 3
	maxBusyRetries = 3
	dialBackoff    = 50 * time.Millisecond
)

type response struct {
	status    int
	header    http.Header
	body      []byte
	requestID string
}

// call sends one API request (path is below the environment) with the
// worker token and returns PingOne's answer, or an opError when there is
// none to map. A 401 drops the token and the request is retried once with
// a fresh one (PingOne acted on nothing).
func (c *Client) call(ctx context.Context, kind callKind, method, path string, query url.Values, mediaType string, body []byte) (*response, *opError) {
	refreshed := false
	dialRetries, busyRetries := 0, 0
	for {
		tok, err := c.tokens.get(ctx)
		if err != nil {
			oe := tokenFailure(ctx, err)
			if oe.notSent && dialRetries < maxDialRetries && c.wait(ctx, dialBackoff<<dialRetries) {
				dialRetries++
				continue
			}
			return nil, oe
		}
		resp, oe := c.send(ctx, kind, method, path, query, mediaType, body, tok)
		if oe != nil {
			if oe.notSent && oe.f == fUnreachable && dialRetries < maxDialRetries && c.wait(ctx, dialBackoff<<dialRetries) {
				dialRetries++
				continue
			}
			return nil, oe
		}
		switch {
		case resp.status == http.StatusUnauthorized && !refreshed:
			refreshed = true
			c.tokens.invalidate(tok)
			c.log.Debug("pingone: access token refused, refreshing", "path", path)
			continue
		case (resp.status == http.StatusTooManyRequests || resp.status == http.StatusServiceUnavailable) && busyRetries < maxBusyRetries:
			if d, ok := parseRetryAfter(resp.header.Get("Retry-After"), time.Now()); ok && c.wait(ctx, d) {
				busyRetries++
				c.log.Debug("pingone: retrying after Retry-After", "status", resp.status, "retry_after_ms", float64(d.Microseconds())/1000, "path", path)
				continue
			}
		}
		return resp, nil
	}
}

// wait sleeps for d if that ends before ctx's deadline.
func (c *Client) wait(ctx context.Context, d time.Duration) bool {
	if dl, ok := ctx.Deadline(); ok && !time.Now().Add(d).Before(dl) {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func (c *Client) send(ctx context.Context, kind callKind, method, path string, query url.Values, mediaType string, body []byte, tok string) (*response, *opError) {
	u := c.apiBase + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	var wrote atomic.Bool
	tctx := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				wrote.Store(true)
			}
		},
	})
	req, err := http.NewRequestWithContext(tctx, method, u, rd)
	if err != nil {
		return nil, &opError{f: fProtocol, detail: "build request", err: err, notSent: true}
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ldapbridge")
	if mediaType != "" {
		req.Header.Set("Content-Type", mediaType)
	}
	start := time.Now()
	res, err := c.http.Do(req)
	if err != nil {
		// Nothing written is proof only where the transport reports
		// writes (net/http's own); a dial failure is proof anywhere.
		notSent := isDialError(err) || (c.traced && !wrote.Load())
		return nil, c.lostAnswer(ctx, kind, err, notSent)
	}
	defer res.Body.Close()
	b, rerr := io.ReadAll(io.LimitReader(res.Body, maxResponseBytes+1))
	reqID := sanitize(res.Header.Get("Correlation-Id"), 64)
	c.log.Debug("pingone: request", "method", method, "path", path, "status", res.StatusCode, "duration_ms", float64(time.Since(start).Microseconds())/1000, "request_id", reqID)
	if rerr != nil {
		if kind == changeCall && res.StatusCode/100 == 2 {
			// The change was applied; only the state body was lost.
			return &response{status: res.StatusCode, header: res.Header, requestID: reqID}, nil
		}
		return nil, c.lostAnswer(ctx, kind, rerr, false)
	}
	if len(b) > maxResponseBytes {
		return nil, &opError{f: fProtocol, detail: "response larger than 1 MiB", requestID: reqID}
	}
	return &response{status: res.StatusCode, header: res.Header, body: b, requestID: reqID}, nil
}

// lostAnswer is a request that got no usable answer. Only a change that
// may have been sent is "outcome unknown"; it is never retried.
func (c *Client) lostAnswer(ctx context.Context, kind callKind, err error, notSent bool) *opError {
	switch {
	case notSent && ctx.Err() == context.Canceled:
		return &opError{f: fCanceled, err: err, notSent: true}
	case notSent:
		return &opError{f: fUnreachable, detail: netDetail(err), err: err, notSent: true}
	case kind == changeCall:
		c.log.Warn("pingone: password change sent but not answered; outcome unknown", "err", netDetail(err))
		return &opError{f: fOutcomeUnknown, detail: netDetail(err), err: err}
	case ctx.Err() == context.Canceled:
		return &opError{f: fCanceled, err: err}
	}
	return &opError{f: fNoAnswer, detail: netDetail(err), err: err}
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// netDetail is the innermost useful text of a transport error, without the
// request URL.
func netDetail(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	}
	return sanitize(err.Error(), 200)
}

// maxRetryAfter caps how long a Retry-After may ask the client to wait.
const maxRetryAfter = time.Hour

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date
// (RFC 9110 §10.2.3).
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if v[0] >= '0' && v[0] <= '9' {
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return 0, false
		}
		d := time.Duration(n) * time.Second
		return d, d <= maxRetryAfter
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	d := t.Sub(now)
	if d < 0 {
		d = 0
	}
	return d, d <= maxRetryAfter
}
