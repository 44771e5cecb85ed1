// Package ldapfront is the LDAP wire side of the bridge: it frames and
// decodes LDAP messages, keeps each connection's session (bound identity,
// TLS state), enforces limits, and encodes the core's Outcomes as LDAP
// results and response controls.
package ldapfront

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Core is what the front end needs from the bridge; *bridge.Bridge
// implements it. Every Bind and password change comes back as one
// bridge.Decision, which the front end encodes and reports; it decides
// nothing about identity or authorisation itself.
type Core interface {
	Bind(ctx context.Context, dn string, password bridge.Secret, ctl bridge.RequestControls) bridge.Decision
	// RefuseBind is the Decision on a bind the front end refused itself
	// (no TLS, SASL, a limit): whom it named, with that outcome.
	RefuseBind(dn string, out bridge.Outcome) bridge.Decision
	ChangePassword(ctx context.Context, p *bridge.Principal, req bridge.PasswordModify) bridge.Decision
	Modify(ctx context.Context, p *bridge.Principal, req bridge.ModifyRequest) bridge.Decision
	// Search answers a search of the routes' entries, streaming each to
	// emit (search.go).
	Search(ctx context.Context, p *bridge.Principal, req bridge.SearchRequest, emit func(bridge.Entry) bool) (bridge.Decision, bridge.SearchDone)
	// NamingContexts are the root DSE's namingContexts under the
	// configuration in force.
	NamingContexts() []string
}

// Mode is how a listener speaks TLS.
type Mode int

// The listener modes.
const (
	Plain    Mode = iota // cleartext only
	StartTLS             // cleartext, offering the StartTLS extended operation
	LDAPS                // TLS from the first byte
)

func (m Mode) String() string {
	switch m {
	case Plain:
		return "plain"
	case StartTLS:
		return "starttls"
	case LDAPS:
		return "ldaps"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}

// CleartextPolicy says whether simple binds with a password and password
// changes are accepted on a connection that is not (yet) TLS.
type CleartextPolicy int

// The cleartext policies. The zero value is CleartextLoopback.
const (
	CleartextLoopback CleartextPolicy = iota // allowed only from a loopback address or a Unix socket
	CleartextAllow
	CleartextRefuse
)

// Listener describes one listening socket.
type Listener struct {
	Name string
	Mode Mode
	// TLS is required for StartTLS and LDAPS. The server uses it as given
	// for every handshake, so a GetCertificate callback can serve
	// reloaded certificates.
	TLS       *tls.Config
	Cleartext CleartextPolicy
}

// Limits bound what one client can cost. Zero fields take the defaults.
type Limits struct {
	MaxMessageBytes  int           // default 1 MiB; a larger length prefix is refused before allocating
	MaxConnections   int           // total over all listeners, default 4096
	MaxConnsPerIP    int           // 0 = unlimited
	MaxOpsPerConn    int           // operations in flight per connection, default 16; over it: busy
	IdleTimeout      time.Duration // no request for this long: Notice of Disconnection; default 10m
	MessageTimeout   time.Duration // a started message must be complete within this; also the TLS handshake deadline; default 30s
	WriteTimeout     time.Duration // default 30s
	OperationTimeout time.Duration // context deadline of one operation; default 30s

	// MaxMessageBytesAnonymous is MaxMessageBytes before the session is
	// bound (and after an anonymous bind), default 256 KiB and never more
	// than MaxMessageBytes: as with slapd's sockbuf_max_incoming and
	// sockbuf_max_incoming_auth, what a client may make the bridge read
	// before it has proven who it is stays small.
	MaxMessageBytesAnonymous int
	// RatePerIP is the requests per second one client address may send
	// (a token bucket over all its connections; Unbind and Abandon are
	// free); a request over it is answered busy at once, never queued.
	// 0 = unlimited. Unix-socket clients have no address and no limit.
	RatePerIP float64
	// RateBurst is the bucket's size: requests an address may send at once
	// before the rate applies. Default max(10, ⌈RatePerIP⌉), so that a
	// client's usual bind, rootDSE and schema reads and its operation fit.
	RateBurst int
	// FailedBindsPerDN is how many invalidCredentials one DN may collect
	// within a minute (counted from the first); after that, binds for the
	// DN are answered busy at once, without reaching the core, until the
	// minute is over. A successful bind clears the count. 0 = unlimited.
	FailedBindsPerDN int
	// LimiterEntries bounds the addresses and the DNs the two limits above
	// each keep state for, default 16384; when full, the state that would
	// soonest be forgotten anyway is evicted.
	LimiterEntries int
}

func (l Limits) withDefaults() Limits {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if l.MaxMessageBytes <= 0 {
		l.MaxMessageBytes = 1 << 20
	}
	if l.MaxMessageBytesAnonymous <= 0 {
		l.MaxMessageBytesAnonymous = 256 << 10
	}
	l.MaxMessageBytesAnonymous = min(l.MaxMessageBytesAnonymous, l.MaxMessageBytes)
	if l.MaxConnections <= 0 {
		l.MaxConnections = 4096
	}
	if l.MaxConnsPerIP < 0 {
		l.MaxConnsPerIP = 0
	}
	if l.MaxOpsPerConn <= 0 {
		l.MaxOpsPerConn = 16
	}
	def(&l.IdleTimeout, 10*time.Minute)
	def(&l.MessageTimeout, 30*time.Second)
	def(&l.WriteTimeout, 30*time.Second)
	def(&l.OperationTimeout, 30*time.Second)
	if !(l.RatePerIP > 0) || math.IsInf(l.RatePerIP, 0) {
		l.RatePerIP, l.RateBurst = 0, 0
	} else if l.RateBurst <= 0 {
		l.RateBurst = int(max(10, math.Ceil(min(l.RatePerIP, 1<<20))))
	}
	l.FailedBindsPerDN = max(l.FailedBindsPerDN, 0)
	if l.LimiterEntries <= 0 {
		l.LimiterEntries = 16384
	}
	return l
}

// OpInfo identifies one operation for logs, metrics and audit. Conn and Op
// are the ids the server's log lines carry as "conn" and "op", so that an
// audit record can be joined with them.
type OpInfo struct {
	// Conn numbers the connection, uniquely in the process; Op numbers the
	// request on its connection, from 1 in the order they arrived (Unbind
	// and Abandon included).
	Conn, Op uint64
	MsgID    int64  // the client's message id
	Listener string // the listener's name
	Source   string // the client's address, host:port
	// BoundDN is the session's identity (bridge.Identity.DN) when the
	// request arrived, "" when anonymous; for a bind, the identity the
	// bind replaces.
	BoundDN string
	// Limit names the front end's limit that refused the operation before
	// the core was asked ("failed_binds_per_dn", "rate_per_ip"), "" when
	// none did: such a refusal says nothing about the backend, and is
	// counted apart from the backend's failures.
	Limit string
}

// Observer receives events for metrics and audit. Calls are synchronous
// and may come from many goroutines; implementations must be quick and
// safe for concurrent use. Options.Observer may be nil.
type Observer interface {
	ConnOpened(listener string)
	ConnClosed(listener string)
	// OpDone reports each answered (or abandoned: bridge.Canceled)
	// operation: "bind", "search", "passwordModify", "whoAmI",
	// "startTLS", "extended", "compare", "add", "delete", "modify",
	// "modifyDN".
	OpDone(op string, code bridge.ResultCode, d time.Duration)
	// LimitHit names the limit: "max_connections", "max_conns_per_ip",
	// "max_ops_per_conn", "max_message_bytes",
	// "max_message_bytes_anonymous", "message_structure" (too many
	// elements, controls or levels of nesting), "idle_timeout",
	// "message_timeout", "rate_per_ip", "failed_binds_per_dn".
	LimitHit(name string)
	// Decided reports the core's Decision on every bind but an anonymous
	// one (simple, no name, no password), whatever its outcome, including
	// the binds the front end refused itself (no TLS, SASL, protocol
	// version, an unsupported critical control, the failed-binds and rate
	// limits); and on every password change attempt (Password Modify, or
	// a Modify of userPassword). It is the one place audit and metrics
	// hear of them, and is called before the response is written.
	Decided(op OpInfo, d bridge.Decision)
}

// Options configure a Server.
type Options struct {
	Limits   Limits
	Logger   *slog.Logger
	Observer Observer
	Vendor   string // vendorName, default "ldapbridge"
	Version  string // vendorVersion
}

// ErrServerClosed is returned by Serve after Shutdown or Close.
var ErrServerClosed = errors.New("ldapfront: server closed")

// Server serves LDAP on any number of listeners.
type Server struct {
	core Core
	opts Options
	lim  Limits
	log  *slog.Logger
	obs  observer

	nextConn atomic.Uint64

	mu        sync.Mutex
	closing   bool
	listeners map[*net.Listener]struct{}
	conns     map[*conn]struct{}
	perIP     map[netip.Addr]int
	connWG    sync.WaitGroup

	// rate and binds are nil when their limit is off.
	rate  *rateLimiter
	binds *bindThrottle
	// now is the limiters' clock; tests replace it before serving.
	now func() time.Time
}

// NewServer makes a server that hands operations to core.
func NewServer(core Core, opts Options) *Server {
	opts.Limits = opts.Limits.withDefaults()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Vendor == "" {
		opts.Vendor = "ldapbridge"
	}
	s := &Server{
		core:      core,
		opts:      opts,
		lim:       opts.Limits,
		log:       opts.Logger,
		obs:       observer{opts.Observer},
		listeners: make(map[*net.Listener]struct{}),
		conns:     make(map[*conn]struct{}),
		perIP:     make(map[netip.Addr]int),
		now:       time.Now,
	}
	if l := opts.Limits; l.RatePerIP > 0 {
		s.rate = newRateLimiter(l.RatePerIP, l.RateBurst, l.LimiterEntries)
	}
	if l := opts.Limits; l.FailedBindsPerDN > 0 {
		s.binds = newBindThrottle(l.FailedBindsPerDN, l.LimiterEntries, time.Minute)
	}
	return s
}

// listenerState is what the connections of one Serve call share.
type listenerState struct {
	Listener
}

// Serve accepts connections on ln until Shutdown or Close, and returns
// ErrServerClosed then. For LDAPS, ln is a plain listener: the server does
// the TLS handshake itself, with a deadline, off the accept loop.
func (s *Server) Serve(ln net.Listener, l Listener) error {
	switch l.Mode {
	case Plain:
	case StartTLS, LDAPS:
		if l.TLS == nil {
			return fmt.Errorf("serve %q: %s needs a TLS config", l.Name, l.Mode)
		}
	default:
		return fmt.Errorf("serve %q: unknown mode %d", l.Name, int(l.Mode))
	}
	switch l.Cleartext {
	case CleartextLoopback, CleartextAllow, CleartextRefuse:
	default:
		return fmt.Errorf("serve %q: unknown cleartext policy %d", l.Name, int(l.Cleartext))
	}
	ls := &listenerState{Listener: l}

	s.mu.Lock()
	if s.closing {
		s.mu.Unlock()
		return ErrServerClosed
	}
	s.listeners[&ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, &ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.isClosing() {
				return ErrServerClosed
			}
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				// Out of file descriptors and the like: wait and retry,
				// as net/http does.
				backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "listener", l.Name, "err", err, "delay_ms", float64(backoff.Microseconds())/1000)
				time.Sleep(backoff)
				continue
			}
			return fmt.Errorf("serve %q: accept: %w", l.Name, err)
		}
		backoff = 0
		s.admit(nc, ls)
	}
}

func (s *Server) isClosing() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closing
}

// admit registers a new connection and starts serving it, or turns it
// away when a connection limit is reached.
func (s *Server) admit(nc net.Conn, ls *listenerState) {
	ip, local := peer(nc)
	s.mu.Lock()
	var refuse, limit string
	switch {
	case s.closing:
		refuse = "server is shutting down"
	case len(s.conns) >= s.lim.MaxConnections:
		refuse, limit = "too many connections", "max_connections"
	case s.lim.MaxConnsPerIP > 0 && ip.IsValid() && s.perIP[ip] >= s.lim.MaxConnsPerIP:
		refuse, limit = "too many connections from this address", "max_conns_per_ip"
	}
	if refuse != "" {
		s.mu.Unlock()
		if limit != "" {
			s.obs.LimitHit(limit)
		}
		s.log.Warn("connection refused", "listener", ls.Name, "remote", nc.RemoteAddr().String(), "reason", refuse)
		go s.turnAway(nc, ls, refuse)
		return
	}
	c := newConn(s, ls, nc, ip, local)
	s.conns[c] = struct{}{}
	if ip.IsValid() {
		s.perIP[ip]++
	}
	s.connWG.Add(1)
	s.mu.Unlock()
	s.obs.ConnOpened(ls.Name)
	go c.serve()
}

// turnAway sends the Notice of Disconnection (busy) to a connection over a
// limit and closes it. An LDAPS connection is closed without one: a notice
// needs a TLS handshake, which is exactly the work a full server must not
// take on.
func (s *Server) turnAway(nc net.Conn, ls *listenerState, why string) {
	defer nc.Close()
	if ls.Mode == LDAPS {
		return
	}
	code := bridge.Busy
	if why == "server is shutting down" {
		code = bridge.Unavailable
	}
	_ = nc.SetWriteDeadline(time.Now().Add(min(s.lim.WriteTimeout, 5*time.Second)))
	if _, err := nc.Write(appendNotice(nil, code, why)); err == nil {
		linger(nc, min(time.Second, s.lim.MessageTimeout))
	}
}

// peer returns the client's IP (invalid for Unix sockets) and whether the
// client is on this host.
func peer(nc net.Conn) (netip.Addr, bool) {
	switch a := nc.RemoteAddr().(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			return netip.Addr{}, false
		}
		ip = ip.Unmap()
		return ip, ip.IsLoopback()
	case *net.UnixAddr:
		return netip.Addr{}, true
	}
	if ap, err := netip.ParseAddrPort(nc.RemoteAddr().String()); err == nil {
		ip := ap.Addr().Unmap()
		return ip, ip.IsLoopback()
	}
	return netip.Addr{}, false
}

func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if c.ip.IsValid() {
		if s.perIP[c.ip]--; s.perIP[c.ip] <= 0 {
			delete(s.perIP, c.ip)
		}
	}
	s.mu.Unlock()
	s.obs.ConnClosed(c.lis.Name)
	s.connWG.Done()
}

// Shutdown stops accepting, sends the Notice of Disconnection to idle
// connections and closes them, lets in-flight operations finish and send
// their responses, and closes each connection once it is idle. When ctx
// ends first it closes the remaining connections, cancels their
// operations with bridge.ErrShutdown and returns ctx.Err() without
// waiting for them: Wait does that.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closing = true
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.drain()
	}
	s.mu.Unlock()

	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return err
	case <-ctx.Done():
		s.mu.Lock()
		for c := range s.conns {
			c.kill()
		}
		s.mu.Unlock()
		return ctx.Err()
	}
}

// Wait blocks until every connection has ended, or ctx ends (then it
// returns ctx.Err()). A connection ends only after each of its operations
// has returned and reported its Decision to the Observer, so after Close
// (or a Shutdown whose deadline passed, which cancelled the operations
// still in flight with bridge.ErrShutdown) Wait is what lets the audit
// records of those operations be written before the process exits.
func (s *Server) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.connWG.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops accepting and closes every connection at once; their
// operations are cancelled with bridge.ErrShutdown (see Wait).
func (s *Server) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closing = true
	err := s.closeListenersLocked()
	for c := range s.conns {
		c.kill()
	}
	return err
}

func (s *Server) closeListenersLocked() error {
	var errs []error
	for ln := range s.listeners {
		if err := (*ln).Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
		delete(s.listeners, ln)
	}
	return errors.Join(errs...)
}

// observer makes a nil Observer a no-op.
type observer struct{ o Observer }

func (o observer) ConnOpened(l string) {
	if o.o != nil {
		o.o.ConnOpened(l)
	}
}

func (o observer) ConnClosed(l string) {
	if o.o != nil {
		o.o.ConnClosed(l)
	}
}

func (o observer) OpDone(op string, code bridge.ResultCode, d time.Duration) {
	if o.o != nil {
		o.o.OpDone(op, code, d)
	}
}

func (o observer) LimitHit(name string) {
	if o.o != nil {
		o.o.LimitHit(name)
	}
}

func (o observer) Decided(op OpInfo, d bridge.Decision) {
	if o.o != nil {
		o.o.Decided(op, d)
	}
}
