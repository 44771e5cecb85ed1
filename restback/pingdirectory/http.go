package pingdirectory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	acceptJSON  = "application/hal+json, application/json"
	userAgent   = "ldapbridge-pingdirectory"
	maxResponse = 1 << 20 // an answer is a few kilobytes
	maxAttempts = 3
	dialBackoff = 100 * time.Millisecond
)

// exchange is what one logical request produced: a response (status,
// headers, body, or an error reading the body), or no response at all.
type exchange struct {
	status  int
	header  http.Header
	body    []byte
	bodyErr error
	err     error // no response
	// sent is true when the request may have reached the server: some of
	// it was written before the failure.
	sent     bool
	attempts int
	// canceled is true when the caller's context ended (an Abandon or
	// the operation deadline), as opposed to the per-request timeout.
	canceled bool
}

// send performs a request, retrying only what certainly did not reach the
// server: a connection that could not be made, and a 429 or 503 carrying
// Retry-After, when the wait fits the caller's deadline. build makes a new
// request for each attempt.
func (c *Client) send(ctx context.Context, op string, build func(ctx context.Context) (*http.Request, error)) exchange {
	var ex exchange
	for attempt := 1; ; attempt++ {
		start := time.Now()
		ex = c.once(ctx, build)
		ex.attempts = attempt
		c.logExchange(ctx, op, ex, time.Since(start))
		wait, ok := c.retryWait(ctx, ex, attempt)
		if !ok {
			return ex
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ex
		case <-t.C:
		}
	}
}

func (c *Client) once(ctx context.Context, build func(ctx context.Context) (*http.Request, error)) exchange {
	actx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var sent atomic.Bool
	mark := func() { sent.Store(true) }
	trace := &httptrace.ClientTrace{
		// The first header field written is the earliest moment any byte
		// of the request can leave the process.
		WroteHeaderField: func(string, []string) { mark() },
		WroteHeaders:     mark,
		WroteRequest:     func(httptrace.WroteRequestInfo) { mark() },
	}
	req, err := build(httptrace.WithClientTrace(actx, trace))
	if err != nil {
		return exchange{err: err}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return exchange{err: err, sent: sent.Load(), canceled: ctx.Err() != nil}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	ex := exchange{status: resp.StatusCode, header: resp.Header, body: body, sent: true}
	switch {
	case err != nil:
		ex.bodyErr = err
	case len(body) > maxResponse:
		ex.bodyErr = fmt.Errorf("answer larger than %d bytes", maxResponse)
	}
	return ex
}

// retryWait decides whether to try again and after how long.
func (c *Client) retryWait(ctx context.Context, ex exchange, attempt int) (time.Duration, bool) {
	if attempt >= maxAttempts || ctx.Err() != nil {
		return 0, false
	}
	var wait time.Duration
	switch {
	case ex.err != nil:
		if ex.sent || !isDialError(ex.err) {
			return 0, false
		}
		wait = time.Duration(attempt) * dialBackoff
	case ex.status == http.StatusTooManyRequests || ex.status == http.StatusServiceUnavailable:
		d, ok := retryAfter(ex.header, time.Now())
		if !ok {
			return 0, false
		}
		wait = d
	default:
		return 0, false
	}
	if wait > c.timeout {
		return 0, false
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
		return 0, false
	}
	return wait, true
}

// retryAfter parses Retry-After (delay-seconds or an HTTP-date).
func retryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0, false
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs < 0 || secs > int64(time.Hour/time.Second) {
			return 0, false
		}
		return time.Duration(secs) * time.Second, true
	}
	t, err := http.ParseTime(v)
	if err != nil {
		return 0, false
	}
	return max(t.Sub(now), 0), true
}

// isDialError reports an error from making the connection (refused,
// unreachable, dial timeout), when no request can have been sent. A name
// that does not exist is not worth retrying.
func isDialError(err error) bool {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "dial" {
		return false
	}
	var dns *net.DNSError
	return !errors.As(err, &dns) || !dns.IsNotFound
}

// describe words a transport error for a diagnostic: the cause without the
// URL (which holds the DN) and never any credential.
func describe(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() {
			return "timed out"
		}
		err = ue.Err
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		recordHdr tls.RecordHeaderError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return "TLS certificate not trusted: " + err.Error()
	case errors.As(err, &recordHdr):
		return "TLS handshake failed (is the server speaking TLS?): " + err.Error()
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	}
	return err.Error()
}

// requestIDHeaders are where a correlation id may come back, in order of
// preference (PingDirectory names its ids "correlation IDs").
var requestIDHeaders = []string{"Correlation-Id", "X-Correlation-Id", "X-Request-Id", "Request-Id"}

func requestID(h http.Header) string {
	for _, k := range requestIDHeaders {
		if v := strings.TrimSpace(h.Get(k)); v != "" {
			return sanitize(v, 128)
		}
	}
	return ""
}

func (c *Client) logExchange(ctx context.Context, op string, ex exchange, elapsed time.Duration) {
	attrs := []slog.Attr{
		slog.String("call", op),
		slog.Int("attempt", ex.attempts),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
	}
	level := slog.LevelDebug
	if ex.err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("err", describe(ex.err)), slog.Bool("sent", ex.sent))
	} else {
		attrs = append(attrs, slog.Int("status", ex.status))
		if id := requestID(ex.header); id != "" {
			attrs = append(attrs, slog.String("request_id", id))
		}
		if ex.status >= 500 || ex.status == http.StatusTooManyRequests || ex.bodyErr != nil {
			level = slog.LevelWarn
		}
		if ex.bodyErr != nil {
			attrs = append(attrs, slog.String("body_error", describe(ex.bodyErr)))
		}
	}
	c.log.LogAttrs(ctx, level, "PingDirectory request", attrs...)
}

// wipingBody is a request body that zeroes its bytes (they hold
// passwords) once the transport closes it, which may happen on another
// goroutine after Do returns.
type wipingBody struct {
	mu     sync.Mutex
	b      []byte
	off    int
	closed bool
}

func (w *wipingBody) Read(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errors.New("read after close")
	}
	if w.off >= len(w.b) {
		return 0, io.EOF
	}
	n := copy(p, w.b[w.off:])
	w.off += n
	return n, nil
}

func (w *wipingBody) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.closed {
		clear(w.b)
		w.closed = true
	}
	return nil
}
