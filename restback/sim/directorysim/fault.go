package directorysim

import (
	"bytes"
	"fmt"
	"net/http"
	"strconv"
	"time"

	"github.com/ldapbridge/ldapbridge/restback/sim/simhttp"
)

// FaultKind selects what a Fault does to a request.
type FaultKind uint8

// The faults the simulator can inject.
const (
	// FaultNone serves requests normally.
	FaultNone FaultKind = iota
	// FaultStatus answers Status (429, 500, 503, ...) with a plain-text
	// body, as a proxy in front of the directory would, and a Retry-After
	// header when RetryAfter is set. The request is not processed.
	FaultStatus
	// FaultDelay waits Delay, then serves the request normally.
	FaultDelay
	// FaultHang accepts the request and never answers, until the client
	// gives up or the server closes. With Process the operation takes
	// effect first (the answer is lost, not the change).
	FaultHang
	// FaultCloseConn drops the connection without an answer; with Process
	// the operation takes effect first.
	FaultCloseConn
	// FaultTruncatedBody processes the request and sends the status, the
	// headers (Content-Length of the full body) and half the body, then
	// drops the connection.
	FaultTruncatedBody
	// FaultNonJSON answers Status (default 200) with an HTML page; with
	// Process the operation takes effect first.
	FaultNonJSON
	// FaultWrongContentType processes the request and sends its real
	// status and body labelled text/plain.
	FaultWrongContentType
)

// Fault is a failure to inject into the next Count requests (all requests
// when Count is 0) whose path ends with PathSuffix ("" matches every path).
type Fault struct {
	Kind       FaultKind
	Status     int
	RetryAfter time.Duration // FaultStatus: sent in whole seconds, rounded up
	Delay      time.Duration // FaultDelay
	Process    bool          // FaultHang, FaultCloseConn, FaultNonJSON: apply the operation first
	Count      int
	PathSuffix string
}

type faultState struct {
	f         Fault
	remaining int // meaningful when f.Count > 0
}

// SetFault installs f, replacing any previous fault; SetFault(Fault{})
// clears it.
func (s *Server) SetFault(f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fault = faultState{f: f, remaining: f.Count}
}

// SetLatency adds fixed plus a uniformly random share of jitter to every
// request, for benchmarks.
func (s *Server) SetLatency(fixed, jitter time.Duration) { s.web.SetLatency(fixed, jitter) }

// takeFault returns the fault that applies to a request for path and
// consumes one use of it.
func (s *Server) takeFault(path string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := s.fault.f
	if f.Kind == FaultNone || (f.PathSuffix != "" && !hasSuffix(path, f.PathSuffix)) {
		return Fault{}, false
	}
	if f.Count > 0 {
		if s.fault.remaining <= 0 {
			return Fault{}, false
		}
		s.fault.remaining--
	}
	return f, true
}

func hasSuffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix
}

// serveFault applies f to the request; serve runs the real handler.
func (s *Server) serveFault(w http.ResponseWriter, r *http.Request, f Fault, serve http.HandlerFunc) {
	record := func() *recorder {
		rec := &recorder{header: make(http.Header)}
		serve(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusOK
		}
		return rec
	}
	switch f.Kind {
	case FaultStatus:
		status := f.Status
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		simhttp.SetRetryAfter(w.Header(), f.RetryAfter)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(status)
		fmt.Fprintf(w, "%d %s\n", status, http.StatusText(status))
	case FaultDelay:
		if s.web.Sleep(r.Context(), f.Delay) {
			serve(w, r)
		}
	case FaultHang:
		if f.Process {
			record()
		}
		s.web.Hang(r)
	case FaultCloseConn:
		if f.Process {
			record()
		}
		simhttp.Abort()
	case FaultTruncatedBody:
		rec := record()
		body := rec.body.Bytes()
		copyHeader(w.Header(), rec.header)
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.code)
		_, _ = w.Write(body[:len(body)/2])
		if fl, ok := w.(http.Flusher); ok {
			fl.Flush()
		}
		simhttp.Abort()
	case FaultNonJSON:
		if f.Process {
			record()
		}
		status := f.Status
		if status == 0 {
			status = http.StatusOK
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write([]byte("<html><body><h1>Gateway</h1><p>Please sign in.</p></body></html>\n"))
	case FaultWrongContentType:
		rec := record()
		copyHeader(w.Header(), rec.header)
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(rec.code)
		_, _ = w.Write(rec.body.Bytes())
	default:
		serve(w, r)
	}
}

func copyHeader(dst, src http.Header) {
	for k, v := range src {
		dst[k] = append([]string(nil), v...)
	}
}

// recorder captures a response so that a fault can mangle it.
type recorder struct {
	header http.Header
	code   int
	body   bytes.Buffer
}

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	r.WriteHeader(http.StatusOK)
	return r.body.Write(b)
}
