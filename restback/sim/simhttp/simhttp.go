// Package simhttp is the HTTP plumbing the simulators share: serving a
// handler on a listener of its own, closing it so that requests a fault
// holds are released, latency, and the pieces of a misbehaving server
// (hang, abort, Retry-After).
//
// It is test infrastructure for the simulators only. It must not import
// the clients (restback/pingone, restback/pingdirectory, restback/transport):
// a simulator that shared the client's code would share its mistakes.
package simhttp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Server serves one simulator's handler. The zero Server is not usable:
// make one with New.
type Server struct {
	name string // the simulator's package name, for errors

	mu     sync.Mutex
	srv    *http.Server
	fixed  time.Duration
	jitter time.Duration

	closing   chan struct{}
	closeOnce sync.Once
}

// New makes a Server for the simulator called name.
func New(name string) *Server {
	return &Server{name: name, closing: make(chan struct{})}
}

// Start listens on addr ("127.0.0.1:0" for any free port), serves h in the
// background and returns the base URL. A Server starts once.
func (s *Server) Start(addr string, h http.Handler) (string, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", fmt.Errorf("%s: listen on %s: %w", s.name, addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	s.mu.Lock()
	if s.srv != nil {
		s.mu.Unlock()
		ln.Close()
		return "", errors.New(s.name + ": already started")
	}
	s.srv = srv
	s.mu.Unlock()
	go func() { _ = srv.Serve(ln) }()
	return "http://" + ln.Addr().String(), nil
}

// Close releases the requests that hang or sleep, and stops the server
// started by Start (closing its connections).
func (s *Server) Close() error {
	s.closeOnce.Do(func() { close(s.closing) })
	s.mu.Lock()
	srv := s.srv
	s.mu.Unlock()
	if srv == nil {
		return nil
	}
	if err := srv.Close(); err != nil {
		return fmt.Errorf("%s: close: %w", s.name, err)
	}
	return nil
}

// SetLatency delays every request (see Delay) by fixed plus a uniformly
// random share of jitter; negative values count as 0.
func (s *Server) SetLatency(fixed, jitter time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fixed, s.jitter = max(fixed, 0), max(jitter, 0)
}

// Delay waits the latency SetLatency installed; false if the request or
// the server ended first.
func (s *Server) Delay(ctx context.Context) bool {
	s.mu.Lock()
	d := s.fixed
	if s.jitter > 0 {
		d += rand.N(s.jitter + 1)
	}
	s.mu.Unlock()
	return s.Sleep(ctx, d)
}

// Sleep waits d; false if the request or the server ended first.
func (s *Server) Sleep(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	case <-s.closing:
		return false
	}
}

// Hang holds the request r until the client gives up or the server
// closes, then drops the connection without an answer.
func (s *Server) Hang(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-s.closing:
	}
	Abort()
}

// Abort drops the connection without an answer, as a server that went
// away would (net/http recovers this panic silently).
func Abort() { panic(http.ErrAbortHandler) }

// SetRetryAfter sets a Retry-After header of d in whole seconds, rounded
// up; nothing for d <= 0.
func SetRetryAfter(h http.Header, d time.Duration) {
	if d <= 0 {
		return
	}
	secs := int64((d + time.Second - 1) / time.Second)
	h.Set("Retry-After", strconv.FormatInt(secs, 10))
}
