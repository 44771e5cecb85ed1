package pingdirectory

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/ldapbridge/ldapbridge/restback/transport"
)

const (
	acceptJSON = "application/hal+json, application/json"
	userAgent  = "ldapbridge-pingdirectory"
)

// Call names of the client's requests, the "call" label of the backend
// metrics.
const (
	callBind           = "bind"            // GET /directory/v1/me
	callChangePassword = "change_password" // POST /directory/v1/{dn}/changePassword
	callCheck          = "check"           // GET /directory/v1 (readiness)
)

// exchange is what one logical request produced (see package transport).
type exchange = transport.Response

// send performs a request under the transport's retry rules. build makes
// a new request for each attempt.
func (c *Client) send(ctx context.Context, kind transport.Kind, call string, build func(ctx context.Context) (*http.Request, error)) *exchange {
	return c.tr.Do(ctx, transport.Request{
		Kind:           kind,
		Call:           call,
		Build:          build,
		AttemptTimeout: c.timeout,
		Observe: func(ex *exchange, elapsed time.Duration) {
			c.logExchange(ctx, call, ex, elapsed)
		},
	})
}

func (c *Client) logExchange(ctx context.Context, op string, ex *exchange, elapsed time.Duration) {
	if ex.Err == nil && ex.BodyErr == nil && ex.Status < 500 && ex.Status != http.StatusTooManyRequests &&
		!c.log.Enabled(ctx, slog.LevelDebug) {
		// A Debug record nobody reads: its attributes would still be
		// built (and allocated) for every request.
		return
	}
	attrs := []slog.Attr{
		slog.String("call", op),
		slog.Int("attempt", ex.Attempts),
		slog.Float64("duration_ms", float64(elapsed.Microseconds())/1000),
	}
	level := slog.LevelDebug
	if ex.Err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.String("err", transport.Describe(ex.Err)), slog.Bool("sent", ex.Sent))
	} else {
		attrs = append(attrs, slog.Int("status", ex.Status))
		if id := transport.RequestID(ex.Header); id != "" {
			attrs = append(attrs, slog.String("request_id", id))
		}
		if ex.Status >= 500 || ex.Status == http.StatusTooManyRequests || ex.BodyErr != nil {
			level = slog.LevelWarn
		}
		if ex.BodyErr != nil {
			attrs = append(attrs, slog.String("body_error", transport.Describe(ex.BodyErr)))
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
