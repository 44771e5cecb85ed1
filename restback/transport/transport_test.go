package transport

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
	"unicode/utf8"
)

func TestMayResend(t *testing.T) {
	dial := &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("connection refused")}
	tests := []struct {
		name   string
		res    Response
		read   bool
		change bool
	}{
		{"not sent (dial error)", Response{Err: dial}, true, true},
		{"sent, no answer", Response{Err: io.EOF, Sent: true}, true, false},
		{"429", Response{Status: 429, Sent: true}, true, false},
		{"503", Response{Status: 503, Sent: true}, true, false},
		{"401", Response{Status: 401, Sent: true}, true, false},
		{"200", Response{Status: 200, Sent: true}, true, false},
	}
	for _, tc := range tests {
		if got := MayResend(Read, &tc.res); got != tc.read {
			t.Errorf("%s: read %v, want %v", tc.name, got, tc.read)
		}
		if got := MayResend(Change, &tc.res); got != tc.change {
			t.Errorf("%s: change %v, want %v", tc.name, got, tc.change)
		}
	}
}

// Every status that might invite a retry reaches the server exactly once
// for a change; a read is repeated where the rules allow.
func TestDoRetriesByKind(t *testing.T) {
	tests := []struct {
		status     int
		retryAfter string
		again      bool
		reads      int64 // requests a read makes
	}{
		{429, "", false, 1},
		{429, "0", false, 2},
		{503, "", false, 1},
		{503, "0", false, 2},
		{401, "", true, 2},
		{500, "0", false, 1},
	}
	for _, tc := range tests {
		for _, kind := range []Kind{Read, Change} {
			var n atomic.Int64
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if n.Add(1) == 1 {
					if tc.retryAfter != "" {
						w.Header().Set("Retry-After", tc.retryAfter)
					}
					w.WriteHeader(tc.status)
					return
				}
				w.WriteHeader(http.StatusOK)
			}))
			c, err := New(Config{})
			if err != nil {
				t.Fatal(err)
			}
			res := c.Do(context.Background(), Request{
				Kind: kind, Call: "x",
				Build: func(ctx context.Context) (*http.Request, error) {
					return http.NewRequestWithContext(ctx, http.MethodPost, ts.URL, strings.NewReader("{}"))
				},
				Again: func(res *Response) bool { return tc.again && res.Status == 401 },
			})
			want := tc.reads
			if kind == Change {
				want = 1
			}
			if n.Load() != want || res.Attempts != int(want) {
				t.Errorf("%v %d Retry-After %q: %d requests (%d attempts), want %d", kind, tc.status, tc.retryAfter, n.Load(), res.Attempts, want)
			}
			ts.Close()
		}
	}
}

// A connection that could not be made is tried again, change or not: no
// byte of it left.
func TestDoRedialsChanges(t *testing.T) {
	var served atomic.Int64
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { served.Add(1) }))
	defer ts.Close()
	var dials atomic.Int64
	tr := NewHTTPTransport(nil)
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 1 {
			return nil, &net.OpError{Op: "dial", Net: network, Err: errors.New("connection refused")}
		}
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}
	c, err := New(Config{Transport: tr})
	if err != nil {
		t.Fatal(err)
	}
	res := c.Do(context.Background(), Request{Kind: Change, Build: func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodPost, ts.URL, strings.NewReader("{}"))
	}})
	if res.Err != nil || res.Status != 200 || served.Load() != 1 || dials.Load() != 2 {
		t.Fatalf("%+v after %d dials, %d served", res, dials.Load(), served.Load())
	}
}

// The call name travels in the request's context, for the metrics.
func TestCallName(t *testing.T) {
	var got atomic.Value
	c, err := New(Config{Wrap: func(rt http.RoundTripper) http.RoundTripper {
		return roundTripFunc(func(r *http.Request) (*http.Response, error) {
			got.Store(CallName(r))
			return rt.RoundTrip(r)
		})
	}})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer ts.Close()
	c.Do(context.Background(), Request{Kind: Read, Call: "bind", Build: func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, ts.URL, nil)
	}})
	if got.Load() != "bind" {
		t.Fatalf("call name %v", got.Load())
	}
	if !c.Traced() {
		t.Fatal("wrapping the built transport lost its tracing")
	}
	if CallName(httptest.NewRequest("GET", "/directory/v1/me", nil)) != CallOther {
		t.Fatal("an unnamed request is not other")
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestRetryAfter(t *testing.T) {
	now, _ := http.ParseTime("Mon, 02 Jan 2006 15:04:05 GMT")
	tests := []struct {
		v    string
		want int64 // seconds; -1: none
	}{
		{"", -1}, {"3", 3}, {" 3 ", 3}, {"0", 0}, {"-1", -1}, {"1.5", -1}, {"abc", -1}, {"99999", -1}, {"3600", 3600},
		{"Mon, 02 Jan 2006 15:04:07 GMT", 2}, {"Mon, 02 Jan 2006 15:04:00 GMT", 0},
	}
	for _, tc := range tests {
		h := http.Header{}
		if tc.v != "" {
			h.Set("Retry-After", tc.v)
		}
		d, ok := RetryAfter(h, now)
		got := int64(-1)
		if ok {
			got = int64(d / time.Second)
		}
		if got != tc.want {
			t.Errorf("Retry-After %q: %d, want %d", tc.v, got, tc.want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"1", "120", "0", "-1", "1.5", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999", " 3 ", ""} {
		f.Add(s)
	}
	now := time.Date(2015, 10, 21, 7, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := ParseRetryAfter(v, now)
		if ok && (d < 0 || d > maxRetryAfter) {
			t.Fatalf("Retry-After %q gave %v", v, d)
		}
	})
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		in, want string
		limit    int
	}{
		{"plain", "plain", 64},
		{"a\nb\rc\td\x00e", "a b c d e", 64},
		{"a\xffb", "a\uFFFDb", 64},
		{"  trimmed  ", "trimmed", 64},
		{"\u2028line\u0085\u2029x", "line  x", 64},
		{strings.Repeat("é", 10), strings.Repeat("é", 2) + "…", 5},
	}
	for _, tc := range tests {
		if got := Sanitize(tc.in, tc.limit); got != tc.want {
			t.Errorf("Sanitize(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func FuzzSanitize(f *testing.F) {
	f.Add("a\x00b\xff", 4)
	f.Fuzz(func(t *testing.T, s string, limit int) {
		limit = limit % 1024
		if limit < 0 {
			limit = -limit
		}
		got := Sanitize(s, limit)
		if !utf8.ValidString(got) || len(got) > limit+len("…") {
			t.Fatalf("Sanitize(%q, %d) = %q", s, limit, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u2028' || r == '\u2029' {
				t.Fatalf("control character in %q", got)
			}
		}
	})
}

func TestIsDialError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, refused := http.Get("http://" + addr + "/")
	if refused == nil || !IsDialError(refused) || !worthRedialing(refused) {
		t.Errorf("connection refused: %v", refused)
	}
	_, noHost := http.Get("http://host.invalid/")
	if noHost == nil || !IsDialError(noHost) || worthRedialing(noHost) {
		t.Errorf("no such host: dial %v, redial %v: %v", IsDialError(noHost), worthRedialing(noHost), noHost)
	}
	for _, err := range []error{io.EOF, errors.New("connection reset by peer"), context.DeadlineExceeded,
		&net.OpError{Op: "read", Err: errors.New("reset")}} {
		if IsDialError(err) {
			t.Errorf("%v is not a dial error", err)
		}
	}
}

func TestRequestID(t *testing.T) {
	h := http.Header{}
	h.Set("X-Request-Id", "b\x00")
	h.Set("Correlation-Id", "  ")
	if got := RequestID(h); got != "b" {
		t.Errorf("RequestID = %q", got)
	}
}

func TestCAFileExclusiveWithTransport(t *testing.T) {
	if _, err := New(Config{CAFile: "x.pem", Transport: http.DefaultTransport}); err == nil {
		t.Fatal("a CA file with a custom transport was accepted")
	}
	if _, err := New(Config{CAFile: t.TempDir()}); err == nil {
		t.Fatal("a directory as CA file was accepted")
	}
}

// Reason names no address, URL or dial error, whatever the failure.
func TestReasonShowsNoAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, dialErr := http.Get("http://" + addr + "/directory/v1/uid=alice")
	for _, tc := range []struct {
		err  error
		want string
	}{
		{dialErr, "could not connect"},
		{&url.Error{Op: "Post", URL: "https://" + addr + "/x", Err: context.DeadlineExceeded}, "timed out"},
		{&url.Error{Op: "Post", URL: "https://" + addr + "/x", Err: io.EOF}, "connection closed by the server"},
		{&url.Error{Op: "Post", URL: "https://" + addr + "/x", Err: errors.New("read tcp 127.0.0.1:1->" + addr + ": reset")}, "the connection failed"},
	} {
		got := Reason(tc.err)
		if got != tc.want || strings.Contains(got, addr) || strings.Contains(got, "127.0.0.1") {
			t.Errorf("Reason(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
}
