package transport

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// callKey is the context key of a request's call name.
type callKey struct{}

// WithCall names the requests made with ctx for metrics.
func WithCall(ctx context.Context, call string) context.Context {
	if call == "" {
		return ctx
	}
	return context.WithValue(ctx, callKey{}, &call)
}

// CallOther is the call name of a request its client did not name.
const CallOther = "other"

// CallName is the call name of r (CallOther when its client gave none): the
// "call" label an instrumenting RoundTripper puts on r. It is read from the
// request's context, never from its URL, which holds DNs and user ids.
func CallName(r *http.Request) string {
	if s, ok := r.Context().Value(callKey{}).(*string); ok {
		return *s
	}
	return CallOther
}

// maxRetryAfter caps how long a Retry-After may ask the bridge to wait.
const maxRetryAfter = time.Hour

// RetryAfter reads the Retry-After header: delay-seconds or an HTTP-date
// (RFC 9110 §10.2.3), at most an hour; a date in the past is 0.
func RetryAfter(h http.Header, now time.Time) (time.Duration, bool) {
	return ParseRetryAfter(h.Get("Retry-After"), now)
}

// ParseRetryAfter reads one Retry-After value.
func ParseRetryAfter(v string, now time.Time) (time.Duration, bool) {
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
	d := max(t.Sub(now), 0)
	return d, d <= maxRetryAfter
}

// Sanitize makes backend text fit for a diagnostic or a log: valid UTF-8,
// one line without control characters (nor Unicode line and paragraph
// separators), at most limit bytes (cut at a rune
// boundary, marked with "…").
func Sanitize(s string, limit int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > limit {
		cut := max(limit, 0)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// IsDialError reports an error from making the connection (refused,
// unreachable, no such host, dial timeout): no byte of the request can
// have been sent.
func IsDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// worthRedialing: a dial error that may pass (refused, unreachable,
// timeout); a name that does not exist will not.
func worthRedialing(err error) bool {
	if !IsDialError(err) {
		return false
	}
	var dns *net.DNSError
	return !errors.As(err, &dns) || !dns.IsNotFound
}

// Describe words a transport error for a diagnostic: the cause without the
// URL (which holds DNs and ids) and never a credential.
func Describe(err error) string {
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
		return Sanitize("TLS certificate not trusted: "+err.Error(), 300)
	case errors.As(err, &recordHdr):
		return Sanitize("TLS handshake failed (is the server speaking TLS?): "+err.Error(), 300)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	}
	return Sanitize(err.Error(), 300)
}

// Reason words a transport error for an LDAP client's diagnostic: a fixed
// phrase that names no host, address, URL or dial error. Describe, which
// keeps the cause, is for the log only.
func Reason(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Timeout() {
		return "timed out"
	}
	var (
		unknownCA *x509.UnknownAuthorityError
		hostname  x509.HostnameError
		invalid   x509.CertificateInvalidError
		verify    *tls.CertificateVerificationError
		recordHdr tls.RecordHeaderError
		nerr      net.Error
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.As(err, &unknownCA), errors.As(err, &hostname), errors.As(err, &invalid), errors.As(err, &verify):
		return "TLS certificate not trusted"
	case errors.As(err, &recordHdr):
		return "TLS handshake failed"
	case IsDialError(err):
		return "could not connect"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed by the server"
	case errors.As(err, &nerr) && nerr.Timeout():
		return "timed out"
	}
	return "the connection failed"
}

// requestIDHeaders are where a correlation id may come back, in order of
// preference (Ping names them correlation IDs).
var requestIDHeaders = []string{"Correlation-Id", "X-Correlation-Id", "X-Request-Id", "Request-Id"}

// RequestID is the answer's correlation id, sanitised, or "".
func RequestID(h http.Header) string {
	for _, k := range requestIDHeaders {
		if v := Sanitize(h.Get(k), 128); v != "" {
			return v
		}
	}
	return ""
}

// IsJSON reports whether a Content-Type names JSON: application/json or
// any application/...+json type (hal+json, PingOne's vendor types).
func IsJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// AppendJSONString appends s, which must be valid UTF-8, to dst as a JSON
// string. Request bodies that carry passwords are written with it straight
// from the secrets' bytes into buffers the caller wipes (encoding/json
// would need the passwords as strings, which cannot be wiped).
func AppendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
