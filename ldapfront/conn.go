package ldapfront

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// conn is one client connection and its LDAP session.
//
// One reader goroutine reads messages in order and handles Bind, StartTLS,
// Unbind and Abandon itself; every other operation runs in its own
// goroutine. Writes are serialized by wmu.
type conn struct {
	srv    *Server
	lis    *listenerState
	lim    Limits
	id     uint64
	raw    net.Conn
	ip     netip.Addr
	local  bool
	remote string
	log    *slog.Logger

	ctx context.Context
	// cancel ends ctx; its cause is bridge.ErrShutdown when the server
	// is stopping, so that the core can tell a change cut short by the
	// shutdown (outcome unknown) from an abandon or a client gone.
	cancel context.CancelCauseFunc

	br *bufio.Reader // owned by the reader goroutine
	// frameMax is the size limit of the message being read, and
	// frameLimit its name: they depend on whether the session is bound.
	// Owned by the reader goroutine.
	frameMax   int
	frameLimit string
	// opSeq numbers the requests read, for the "op" id; owned by the
	// reader goroutine.
	opSeq uint64

	// wmu is taken before mu when both are held (settle).
	wmu     sync.Mutex
	w       net.Conn // raw, or the TLS conn over it
	wclosed bool

	mu        sync.Mutex
	tls       bool
	principal *bridge.Principal
	draining  bool
	ops       map[int64]*operation
	// opsWG counts operation goroutines. Add and Wait are only called
	// from the reader goroutine.
	opsWG sync.WaitGroup
}

// operation is an operation in flight.
type operation struct {
	msgID     int64
	cancel    context.CancelFunc
	abandoned atomic.Bool
}

func newConn(s *Server, ls *listenerState, nc net.Conn, ip netip.Addr, local bool) *conn {
	id := s.nextConn.Add(1)
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &conn{
		srv:    s,
		lis:    ls,
		lim:    s.lim,
		id:     id,
		raw:    nc,
		ip:     ip,
		local:  local,
		remote: nc.RemoteAddr().String(),
		ctx:    ctx,
		cancel: cancel,
		br:     bufio.NewReaderSize(nc, readBufferSize),
		w:      nc,
		tls:    ls.Mode == LDAPS,
		ops:    make(map[int64]*operation),
	}
	c.log = s.log.With("conn", id, "listener", ls.Name)
	return c
}

// ending says how a connection's read loop ended.
type ending struct {
	reason string
	// drain: the server is shutting down; let operations finish, then
	// send the notice.
	drain bool
	// notice, when set, is sent as the Notice of Disconnection.
	notice *result
	// finishOps lets in-flight operations complete and answer instead
	// of cancelling them (the client half-closed its side).
	finishOps bool
	// linger: the client may still be sending; see linger.
	linger bool
}

// linger half-closes nc and discards what the client is still sending for
// a moment before the caller closes it. Closing a socket with unread input
// makes the kernel send a reset, and a reset can destroy the Notice of
// Disconnection before the client reads it.
func linger(nc net.Conn, d time.Duration) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = nc.SetReadDeadline(time.Now().Add(d))
	_, _ = io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
}

func (c *conn) serve() {
	defer c.srv.forget(c)
	c.log.Debug("connection opened", "remote", c.remote)
	e := c.readLoop()
	c.finish(e)
}

func (c *conn) readLoop() ending {
	if c.lis.Mode == LDAPS {
		if err := c.handshake(); err != nil {
			return ending{reason: fmt.Sprintf("TLS handshake: %v", err)}
		}
	}
	for {
		b, started, err := c.readMessage()
		if err != nil {
			return c.readEnding(err, started)
		}
		m, err := decodeMessage(b)
		if err != nil {
			clear(b)
			if errors.Is(err, errTooComplex) {
				c.srv.obs.LimitHit("message_structure")
				return ending{reason: err.Error(), linger: true, notice: &result{code: bridge.ProtocolError,
					diag: fmt.Sprintf("LDAP message with more than %d elements, %d controls or %d levels of nesting", maxElements, maxControls, maxDepth)}}
			}
			return malformed(err)
		}
		if e, done := c.dispatch(m, b); done {
			return e
		}
	}
}

// readMessage waits up to IdleTimeout for a message to start (longer while
// operations are in flight: the client is waiting for us), then up to
// MessageTimeout for the rest of it.
func (c *conn) readMessage() ([]byte, bool, error) {
	for {
		c.setReadDeadline(time.Now().Add(c.lim.IdleTimeout))
		tag, err := c.br.ReadByte()
		if err != nil {
			if isTimeout(err) && !c.isDraining() && c.inFlight() > 0 {
				continue
			}
			return nil, false, err
		}
		c.setReadDeadline(time.Now().Add(c.lim.MessageTimeout))
		// Until the session is bound, a message may be only as large as
		// MaxMessageBytesAnonymous: whoever can connect should not make
		// the bridge hold a megabyte per connection.
		c.frameMax, c.frameLimit = c.lim.MaxMessageBytes, "max_message_bytes"
		if c.lim.MaxMessageBytesAnonymous < c.frameMax && c.currentPrincipal() == nil {
			c.frameMax, c.frameLimit = c.lim.MaxMessageBytesAnonymous, "max_message_bytes_anonymous"
		}
		b, err := readFrame(c.br, tag, c.frameMax)
		return b, true, err
	}
}

func (c *conn) readEnding(err error, started bool) ending {
	obs := c.srv.obs
	switch {
	case c.isDraining():
		return ending{reason: "server shutting down", drain: true}
	case errors.Is(err, errTooLarge):
		obs.LimitHit(c.frameLimit)
		diag := fmt.Sprintf("message larger than %d bytes", c.frameMax)
		if c.frameLimit == "max_message_bytes_anonymous" {
			diag += " before a bind"
		}
		return ending{reason: err.Error(), linger: true, notice: &result{code: bridge.ProtocolError, diag: diag}}
	case errors.Is(err, errMalformed):
		return malformed(err)
	case isTimeout(err) && !started:
		obs.LimitHit("idle_timeout")
		return ending{reason: "idle timeout", notice: &result{code: bridge.Unavailable, diag: "connection idle for too long"}}
	case isTimeout(err):
		obs.LimitHit("message_timeout")
		return ending{reason: "message timeout", linger: true, notice: &result{code: bridge.Unavailable,
			diag: fmt.Sprintf("message not complete within %s", c.lim.MessageTimeout)}}
	case errors.Is(err, io.EOF) && !started:
		return ending{reason: "client closed the connection", finishOps: true}
	}
	return ending{reason: fmt.Sprintf("read: %v", err)}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// finish ends the session: operations finish or are cancelled, the
// notice goes out if there is one, the socket closes, the identity is
// wiped.
func (c *conn) finish(e ending) {
	switch {
	case e.drain:
		c.opsWG.Wait()
		c.writeFinal(appendNotice(nil, bridge.Unavailable, "server is shutting down"))
	case e.finishOps:
		c.opsWG.Wait()
	default:
		c.cancel(c.cancelCause())
		if e.notice != nil {
			c.writeFinal(appendNotice(nil, e.notice.code, e.notice.diag))
			if e.linger {
				linger(c.raw, min(time.Second, c.lim.MessageTimeout))
			}
		}
	}
	c.cancel(c.cancelCause())
	c.closeWrites()
	_ = c.raw.Close()
	// Every operation has reported its Decision (the Observer writes the
	// audit record) before the connection counts as ended: Server.Wait,
	// and so the process's exit, waits for this.
	c.opsWG.Wait()
	c.setPrincipal(nil)
	lvl := slog.LevelDebug
	if e.notice != nil {
		lvl = slog.LevelInfo
	}
	c.log.Log(context.Background(), lvl, "connection closed", "reason", e.reason)
}

// drain is Shutdown's request: stop reading new requests.
func (c *conn) drain() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.draining = true
	_ = c.raw.SetReadDeadline(time.Unix(1, 0))
}

// kill closes the connection now and cancels its operations with
// bridge.ErrShutdown; they still report their Decisions.
func (c *conn) kill() {
	// Close first, so that no operation woken by the cancellation can
	// still write a response.
	_ = c.raw.Close()
	c.cancel(bridge.ErrShutdown)
}

// cancelCause is why the connection's operations are cancelled when it
// ends: the shutdown, when the server is stopping (a connection closed
// by Shutdown or Close may reach finish before kill's cancel does).
func (c *conn) cancelCause() error {
	if c.srv.isClosing() {
		return bridge.ErrShutdown
	}
	return nil
}

func (c *conn) isDraining() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.draining
}

// setReadDeadline sets a read deadline unless Shutdown has already set
// one in the past, which must win.
func (c *conn) setReadDeadline(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		t = time.Unix(1, 0)
	}
	_ = c.raw.SetReadDeadline(t)
}

func (c *conn) inFlight() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.ops)
}

func (c *conn) isTLS() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tls
}

func (c *conn) currentPrincipal() *bridge.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.principal
}

// setPrincipal replaces the session's identity and wipes the old one.
func (c *conn) setPrincipal(p *bridge.Principal) {
	c.mu.Lock()
	old := c.principal
	c.principal = p
	c.mu.Unlock()
	if old != p {
		old.Wipe()
	}
}

// cleartextOK reports whether passwords may cross this connection.
func (c *conn) cleartextOK() bool {
	if c.isTLS() {
		return true
	}
	switch c.lis.Cleartext {
	case CleartextAllow:
		return true
	case CleartextLoopback:
		return c.local
	}
	return false
}

// write sends one or more encoded messages. A failed write closes the
// connection, which ends the reader.
func (c *conn) write(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.writeLocked(b)
}

func (c *conn) writeLocked(b []byte) {
	if c.wclosed {
		return
	}
	_ = c.w.SetWriteDeadline(time.Now().Add(c.lim.WriteTimeout))
	if _, err := c.w.Write(b); err != nil {
		c.wclosed = true
		c.log.Debug("write failed", "err", err)
		_ = c.raw.Close()
	}
}

// writeFinal sends b and lets nothing be written after it.
func (c *conn) writeFinal(b []byte) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.writeLocked(b)
	c.wclosed = true
}

func (c *conn) closeWrites() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.wclosed = true
}

// handshake does the server side of a TLS handshake on the raw
// connection, replaying any bytes the reader had already buffered, within
// MessageTimeout.
func (c *conn) handshake() error {
	var src net.Conn = c.raw
	if n := c.br.Buffered(); n > 0 {
		pre, _ := c.br.Peek(n)
		src = &prefixConn{Conn: c.raw, pre: append([]byte(nil), pre...)}
	}
	tc := tls.Server(src, c.lis.TLS)
	deadline := time.Now().Add(c.lim.MessageTimeout)
	c.setReadDeadline(deadline)
	_ = c.raw.SetWriteDeadline(deadline)
	if err := tc.Handshake(); err != nil {
		return err
	}
	c.wmu.Lock()
	c.w = tc
	c.wmu.Unlock()
	c.mu.Lock()
	c.tls = true
	c.mu.Unlock()
	c.br = bufio.NewReaderSize(tc, readBufferSize)
	return nil
}

// prefixConn reads pre before the connection.
type prefixConn struct {
	net.Conn
	pre []byte
}

func (p *prefixConn) Read(b []byte) (int, error) {
	if len(p.pre) > 0 {
		n := copy(b, p.pre)
		p.pre = p.pre[n:]
		return n, nil
	}
	return p.Conn.Read(b)
}

// nextOp numbers a request just read. Reader goroutine only.
func (c *conn) nextOp() uint64 {
	c.opSeq++
	return c.opSeq
}

// opInfo identifies operation seq for the Observer, with the ids this
// connection's log lines carry; bound is the session's identity then.
func (c *conn) opInfo(m *message, seq uint64, bound *bridge.Principal) OpInfo {
	op := OpInfo{Conn: c.id, Op: seq, MsgID: m.id, Listener: c.lis.Name, Source: c.remote}
	// The identity as the core resolved it, as in every Decision.
	op.BoundDN = bound.Identity().DN
	return op
}

// handler runs one operation and returns the encoded response messages
// and the result code for metrics.
type handler func(ctx context.Context, ctl controls) ([]byte, bridge.ResultCode)

// diagInternal answers an operation that panicked.
const diagInternal = "internal error"

// execute applies what every operation shares (critical controls, the
// core's must-change restriction for gate) and runs h, turning a panic
// into "other". own is the result when execute answered without h's
// answer.
func (c *conn) execute(ctx context.Context, m *message, seq uint64, name string, respTag byte, gate bridge.Operation, h handler) (out []byte, code bridge.ResultCode, own *result) {
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("operation panicked", "op", seq, "msgid", m.id, "type", name,
				"panic", describePanic(r), "stack", string(debug.Stack()))
			own = &result{code: bridge.Other, diag: diagInternal}
			out = appendMessage(nil, m.id, respTag, *own, nil, nil)
			code = bridge.Other
		}
	}()
	ctl := interpretControls(m.controls)
	if ctl.unsupported != "" {
		own = &result{code: bridge.UnavailableCriticalExtension,
			diag: "critical control " + quoteOID(ctl.unsupported) + " is not supported"}
		return appendMessage(nil, m.id, respTag, *own, nil, nil), own.code, own
	}
	if o, ok := bridge.Restriction(c.currentPrincipal(), gate, false, false); !ok {
		var ctls []respControl
		if ctl.core.PasswordPolicy {
			ctls = append(ctls, policyControl(o.Policy))
		}
		own = &result{code: o.Code, diag: o.Diagnostic}
		return appendMessage(nil, m.id, respTag, resultOf(o), nil, ctls), o.Code, own
	}
	out, code = h(ctx, ctl)
	return out, code, nil
}

// describePanic keeps request content out of the log: runtime errors are
// the bridge's own words; any other value is named by type only.
func describePanic(r any) string {
	if re, ok := r.(runtime.Error); ok {
		return re.Error()
	}
	return fmt.Sprintf("value of type %T", r)
}

// startOp runs operation seq in its own goroutine, or answers busy when
// the connection already has MaxOpsPerConn in flight. gate is what the
// core's must-change restriction is asked about first (bridge.OpNone:
// nothing). It reports whether h will run.
func (c *conn) startOp(m *message, seq uint64, name string, respTag byte, gate bridge.Operation, h handler) bool {
	c.mu.Lock()
	if len(c.ops) >= c.lim.MaxOpsPerConn {
		c.mu.Unlock()
		c.srv.obs.LimitHit("max_ops_per_conn")
		c.srv.obs.OpDone(name, bridge.Busy, 0)
		c.log.Debug("operation refused: too many in progress", "op", seq, "msgid", m.id, "type", name)
		c.write(appendMessage(nil, m.id, respTag, result{code: bridge.Busy,
			diag: fmt.Sprintf("too many operations in progress on this connection (limit %d)", c.lim.MaxOpsPerConn)}, nil, nil))
		return false
	}
	if _, dup := c.ops[m.id]; dup {
		c.mu.Unlock()
		c.srv.obs.OpDone(name, bridge.ProtocolError, 0)
		c.log.Debug("operation refused: message ID in use", "op", seq, "msgid", m.id, "type", name)
		c.write(appendMessage(nil, m.id, respTag, result{code: bridge.ProtocolError, diag: "message ID already in use"}, nil, nil))
		return false
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.OperationTimeout)
	o := &operation{msgID: m.id, cancel: cancel}
	c.ops[m.id] = o
	c.opsWG.Add(1)
	c.mu.Unlock()

	go func() {
		defer c.opsWG.Done()
		defer cancel()
		start := time.Now()
		out, code, _ := c.execute(ctx, m, seq, name, respTag, gate, h)
		abandoned := o.abandoned.Load()
		if abandoned {
			code = bridge.Canceled
		}
		// Counted and logged before the response is written: a client
		// that has read it may rely on both (a scrape right after).
		d := time.Since(start)
		c.srv.obs.OpDone(name, code, d)
		c.logDone(seq, m.id, name, code, d)
		c.settle(o, out, !abandoned)
		clear(out) // it may hold a generated password
	}()
	return true
}

// settle ends operation o: it leaves the in-flight set and its response
// out is written (unless it was abandoned) in one step under the write
// lock. An operation is outstanding until its response is written, not
// after: a client that has read the response and sends StartTLS must not
// find it outstanding (RFC 4511 §4.14.1 refuses StartTLS only while
// operations are unanswered). Leaving the set first is safe because a
// response written after it (StartTLS's) waits for the write lock, so it
// cannot overtake out.
func (c *conn) settle(o *operation, out []byte, write bool) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.mu.Lock()
	delete(c.ops, o.msgID)
	c.mu.Unlock()
	if write {
		c.writeLocked(out)
	}
}

// runSync runs Bind or StartTLS in the reader goroutine. answered, when
// set, hears the result before the response is written; own is set when
// execute answered for h.
func (c *conn) runSync(ctx context.Context, m *message, seq uint64, name string, respTag byte, h handler,
	answered func(code bridge.ResultCode, own *result)) bridge.ResultCode {
	start := time.Now()
	out, code, own := c.execute(ctx, m, seq, name, respTag, bridge.OpNone, h)
	if answered != nil {
		answered(code, own)
	}
	d := time.Since(start)
	c.srv.obs.OpDone(name, code, d)
	c.logDone(seq, m.id, name, code, d)
	c.write(out)
	clear(out)
	return code
}

// logDone is the Debug line of a finished operation. Its arguments are
// boxed (allocated) before slog can drop the record, so nothing is built
// unless Debug is on: this runs for every operation.
func (c *conn) logDone(seq uint64, msgID int64, name string, code bridge.ResultCode, d time.Duration) {
	if !c.log.Enabled(c.ctx, slog.LevelDebug) {
		return
	}
	c.log.Debug("operation done", "op", seq, "msgid", msgID, "type", name, "code", int(code), "result", code.String(), "duration_ms", float64(d.Microseconds())/1000)
}

func (c *conn) abandon(id int64) {
	c.mu.Lock()
	o := c.ops[id]
	c.mu.Unlock()
	if o != nil {
		o.abandoned.Store(true)
		o.cancel()
	}
}

// readBufferSize is each connection's read buffer. LDAP requests are
// mostly under 200 bytes and longer ones are read through it just the
// same; 1 KiB rather than bufio's 4 KiB saves 30 MiB per 10,000 held
// connections (docs/performance.md).
const readBufferSize = 1024
