// Package transport is the one HTTP transport of the REST backends
// (PingDirectory and PingOne): how the http.Client and its TLS are built,
// when a request may have reached the backend, which requests are sent
// again, and the small helpers every backend needs to read an answer
// (Retry-After, a sanitised body for diagnostics, a correlation id).
//
// The rules, stated once here and nowhere else:
//
//   - Sent. A request may have reached the backend from the moment the
//     transport has a connection for it (httptrace GotConn): from then on
//     any byte of it may be on the wire. Before that (the dial, the TLS
//     handshake, waiting for a pooled connection) nothing can have left the
//     process. A transport that does not report GotConn (a caller's own
//     RoundTripper) proves "not sent" only by a dial error.
//
//   - Resending. A Read (bind verification, lookups, tokens, policies)
//     changes nothing and may be sent again within the caller's deadline.
//     A Change (a password change) is sent again only when it certainly was
//     not sent: the connection could not be made. No answer proves that a
//     change was not acted on, not even 429 or 503: the backend (or a proxy
//     in front of it) may have applied it before answering. The caller gets
//     busy or unavailable and decides itself whether to try again.
//
//   - ca_file means "only these CAs": the backend's certificate must chain
//     to a CA in the file and the system roots are not consulted.
package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Kind is what a request does to the backend, which decides whether it may
// be sent again.
type Kind uint8

const (
	// Read changes nothing in the backend: it may be repeated.
	Read Kind = iota + 1
	// Change acts on the backend: it is sent at most once unless it
	// certainly never left.
	Change
)

func (k Kind) String() string {
	if k == Change {
		return "change"
	}
	return "read"
}

// Limits.
const (
	// MaxResponse bounds an answer's body: the backends' answers are a
	// few kilobytes.
	MaxResponse = 1 << 20
	// maxAttempts bounds the attempts of one request, whatever the cause.
	maxAttempts = 3
	// dialBackoff is the wait before the first retry after a connection
	// could not be made; it grows linearly.
	dialBackoff = 50 * time.Millisecond
	// maxPEMBytes bounds a CA file.
	maxPEMBytes = 1 << 20
)

// Config configures a Client.
type Config struct {
	// CAFile is a PEM bundle: when set, the backend's certificate must
	// chain to one of these CAs and only to them.
	CAFile string
	// Transport replaces the built transport (tests, proxies); it cannot
	// be combined with CAFile, which it would silently ignore.
	Transport http.RoundTripper
	// Wrap, when set, wraps the transport actually used (the built one or
	// Transport), e.g. to count requests for metrics. It must pass the
	// request on with its context, so that tracing keeps working.
	Wrap func(http.RoundTripper) http.RoundTripper
}

// Client sends a backend's requests. It is safe for concurrent use.
type Client struct {
	hc *http.Client
	// idle closes the idle connections of the innermost transport (a
	// wrapper need not implement CloseIdleConnections).
	idle func()
	// traced: the transport reports GotConn to httptrace (net/http's
	// own does; a caller's RoundTripper may not).
	traced bool
}

// New builds a Client. It does not contact the backend.
func New(cfg Config) (*Client, error) {
	rt := cfg.Transport
	if rt != nil && cfg.CAFile != "" {
		return nil, errors.New("a CA file and a custom transport are exclusive (the transport has its own TLS settings)")
	}
	if rt == nil {
		var roots *x509.CertPool
		if cfg.CAFile != "" {
			var err error
			if roots, err = LoadCAFile(cfg.CAFile); err != nil {
				return nil, err
			}
		}
		rt = NewHTTPTransport(roots)
	}
	c := &Client{}
	if ht, ok := rt.(*http.Transport); ok {
		c.traced = true
		c.idle = ht.CloseIdleConnections
	} else if ci, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.idle = ci.CloseIdleConnections
	}
	if cfg.Wrap != nil {
		rt = cfg.Wrap(rt)
	}
	c.hc = &http.Client{
		Transport: rt,
		// A redirect is a misconfigured base URL; following it would
		// re-post a password elsewhere or turn a POST into a GET.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return c, nil
}

// HTTP is the underlying client, for libraries that need one (the OAuth 2
// token request). Requests made with it are not retried; name them with
// WithCall.
func (c *Client) HTTP() *http.Client { return c.hc }

// Traced reports whether the transport reports connections to httptrace,
// so that a failure before one proves the request was not sent.
func (c *Client) Traced() bool { return c.traced }

// Close closes the idle connections; requests in flight finish. A closed
// Client may still be used (it dials again), so closing an old
// configuration's backends while an operation ends is harmless.
func (c *Client) Close() {
	if c.idle != nil {
		c.idle()
	}
}

// LoadCAFile reads a PEM bundle into a pool of its own, without the system
// roots. A ca_file is how an operator pins the private CA of an internal
// backend; adding it to the system roots would let any public CA vouch for
// the backend's name too, which is what pinning is meant to rule out.
func LoadCAFile(path string) (*x509.CertPool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	if !fi.Mode().IsRegular() || fi.Size() > maxPEMBytes {
		return nil, fmt.Errorf("read CA file %s: not a regular file of at most %d bytes", path, maxPEMBytes)
	}
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read CA file: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", path)
	}
	return pool, nil
}

// NewHTTPTransport is the keep-alive pool both backends use: sized for a
// bridge that sends many concurrent binds to one host, HTTP/2 when the
// server offers it, TLS 1.2 or later, trusting roots (nil: the system's).
func NewHTTPTransport(roots *x509.CertPool) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		DialContext:       d.DialContext,
		ForceAttemptHTTP2: true,
		// Up to one idle connection per concurrent LDAP operation: a
		// smaller pool churned thousands of new connections a second
		// at 256 LDAP connections (docs/performance.md).
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
	}
}

// Request is one logical request, which may take several attempts.
type Request struct {
	Kind Kind
	// Call names the request for metrics (a small fixed set per backend,
	// never part of a URL); see WithCall.
	Call string
	// Build makes the request for one attempt, with ctx as its context.
	// It is called again for each attempt (a body that wipes itself is
	// rebuilt).
	Build func(ctx context.Context) (*http.Request, error)
	// AttemptTimeout bounds each attempt; 0: only ctx does.
	AttemptTimeout time.Duration
	// Again, when set, is asked after an answer whether a cause the
	// backend knows of (PingOne's refused token) calls for another
	// attempt. It is asked only when MayResend allows one.
	Again func(*Response) bool
	// Observe, when set, hears of every attempt (for logs).
	Observe func(res *Response, elapsed time.Duration)
}

// Response is what the last attempt produced: an answer (Status, Header,
// Body or BodyErr), or none (Err).
type Response struct {
	Status  int
	Header  http.Header
	Body    []byte
	BodyErr error
	// Err is set when no answer arrived.
	Err error
	// Sent is true when the request may have reached the backend.
	Sent bool
	// Canceled is true when the caller's context ended (as opposed to the
	// attempt's own timeout).
	Canceled bool
	// BuildErr is set when Build failed; nothing was sent.
	BuildErr error
	Attempts int
	// pooled holds Body's buffer until Release.
	pooled *[]byte
}

// MayResend is THE rule for sending a request again after res: a Read may
// always be repeated; a Change only when it certainly did not leave.
func MayResend(k Kind, res *Response) bool {
	if res.Err != nil && !res.Sent {
		return true
	}
	return k == Read
}

// Do performs r, retrying as the package rules allow: a connection that
// could not be made (any request), a 429 or 503 whose Retry-After fits the
// deadline (reads only), and what r.Again asks for (reads only).
func (c *Client) Do(ctx context.Context, r Request) *Response {
	for attempt := 1; ; attempt++ {
		start := time.Now()
		res := c.once(ctx, r)
		res.Attempts = attempt
		if r.Observe != nil {
			r.Observe(res, time.Since(start))
		}
		wait, again := next(ctx, r, res, attempt)
		if !again {
			return res
		}
		if !Sleep(ctx, wait) {
			return res
		}
		// This answer is dropped for the next one.
		res.Release()
	}
}

// next decides whether to make another attempt, and after how long.
func next(ctx context.Context, r Request, res *Response, attempt int) (time.Duration, bool) {
	if attempt >= maxAttempts || ctx.Err() != nil || res.BuildErr != nil || !MayResend(r.Kind, res) {
		return 0, false
	}
	var wait time.Duration
	switch {
	case res.Err != nil:
		if res.Sent || !worthRedialing(res.Err) {
			return 0, false
		}
		wait = time.Duration(attempt) * dialBackoff
	case res.Status == http.StatusTooManyRequests || res.Status == http.StatusServiceUnavailable:
		d, ok := RetryAfter(res.Header, time.Now())
		if !ok {
			return 0, false
		}
		wait = d
	case r.Again != nil && r.Again(res):
	default:
		return 0, false
	}
	if r.AttemptTimeout > 0 && wait > r.AttemptTimeout {
		return 0, false
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= wait {
		return 0, false
	}
	return wait, true
}

// Sleep waits for d unless ctx ends first (or would end before d passes).
func Sleep(ctx context.Context, d time.Duration) bool {
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

// attempt is one attempt's Response with its connection trace, in one
// allocation.
type attempt struct {
	res   Response
	call  string
	conn  atomic.Bool
	trace httptrace.ClientTrace
}

func (a *attempt) gotConn(httptrace.GotConnInfo) { a.conn.Store(true) }

func (c *Client) once(ctx context.Context, r Request) *Response {
	actx, cancel := ctx, context.CancelFunc(nil)
	if r.AttemptTimeout > 0 {
		// The operation's own deadline, when it comes first, already
		// bounds the attempt: a second timer would never fire first.
		if dl, ok := ctx.Deadline(); !ok || time.Until(dl) > r.AttemptTimeout {
			actx, cancel = context.WithTimeout(ctx, r.AttemptTimeout)
		}
	}
	if cancel != nil {
		defer cancel()
	}
	a := &attempt{call: r.Call}
	a.trace.GotConn = a.gotConn
	if r.Call != "" {
		actx = context.WithValue(actx, callKey{}, &a.call)
	}
	actx = httptrace.WithClientTrace(actx, &a.trace)
	res := &a.res
	req, err := r.Build(actx)
	if err != nil {
		res.BuildErr, res.Err = err, err
		return res
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		res.Err, res.Sent, res.Canceled = err, c.maySent(err, a.conn.Load()), ctx.Err() != nil
		return res
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body, &res.pooled)
	res.Status, res.Header, res.Body, res.Sent = resp.StatusCode, resp.Header, body, true
	switch {
	case err != nil:
		res.BodyErr = err
		res.Canceled = ctx.Err() != nil
	case len(body) > MaxResponse:
		res.BodyErr = fmt.Errorf("answer larger than %d bytes", MaxResponse)
	}
	return res
}

// Answers are read into pooled buffers sized for the usual answer (an
// entry with its password policy state is 1 to 2 KiB). A buffer that grew
// beyond poolMax is left to the collector.
const (
	poolSize = 4 << 10
	poolMax  = 64 << 10
)

var bodyPool = sync.Pool{New: func() any { b := make([]byte, 0, poolSize); return &b }}

// readBody reads at most MaxResponse+1 bytes (one more than allowed, to
// tell an answer that is too large) into a pooled buffer.
func readBody(rd io.Reader, pooled **[]byte) ([]byte, error) {
	bp := bodyPool.Get().(*[]byte)
	*pooled = bp
	b := (*bp)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		room := b[len(b):min(cap(b), MaxResponse+1)]
		n, err := rd.Read(room)
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil || len(b) > MaxResponse {
			return b, err
		}
	}
}

// Release wipes the answer's body (it may hold a generated password) and
// returns its buffer to the pool. The caller must not use Body, nor any
// slice of it, afterwards. Not calling it is safe: the buffer is then
// the collector's.
func (res *Response) Release() {
	b, bp := res.Body, res.pooled
	res.Body, res.pooled = nil, nil
	if bp == nil {
		return
	}
	clear(b[:cap(b)])
	if cap(b) > poolMax {
		return
	}
	*bp = b[:0]
	bodyPool.Put(bp)
}

// maySent applies the "sent" rule to a failed round trip.
func (c *Client) maySent(err error, gotConn bool) bool {
	if IsDialError(err) {
		return false
	}
	if c.traced {
		return gotConn
	}
	return true
}
