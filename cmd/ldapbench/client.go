package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// target is where the load goes.
type target struct {
	addr     string // host:port
	ldaps    bool   // TLS from the first byte
	startTLS bool
	tls      *tls.Config
	timeout  time.Duration // dial and per-operation deadline
	ppolicy  bool
	// abortive closes a connection with a reset instead of a FIN, so that
	// connect-bind-close loops do not fill the port range with TIME_WAIT.
	abortive bool
}

// parseTarget checks an ldap:// or ldaps:// URL and, unless allowRemote,
// that its host is a loopback address: the tool is a load generator and
// must not be pointed at someone else's directory by mistake.
func parseTarget(raw string, allowRemote bool) (target, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return target{}, fmt.Errorf("target %q: %w", raw, err)
	}
	var t target
	port := "389"
	switch strings.ToLower(u.Scheme) {
	case "ldap":
	case "ldaps":
		t.ldaps, port = true, "636"
	default:
		return target{}, fmt.Errorf("target %q: scheme must be ldap or ldaps", raw)
	}
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil {
		return target{}, fmt.Errorf("target %q: give only scheme://host:port", raw)
	}
	host := u.Hostname()
	if host == "" {
		return target{}, fmt.Errorf("target %q: no host", raw)
	}
	if u.Port() != "" {
		port = u.Port()
	}
	if !allowRemote {
		if err := checkLoopback(host); err != nil {
			return target{}, fmt.Errorf("target %q: %w (use -allow-remote to load a remote server you own)", raw, err)
		}
	}
	t.addr = net.JoinHostPort(host, port)
	return t, nil
}

func checkLoopback(host string) error {
	ips, err := net.LookupIP(host)
	if err != nil {
		return fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(ips) == 0 {
		return fmt.Errorf("%s has no address", host)
	}
	for _, ip := range ips {
		if !ip.IsLoopback() {
			return fmt.Errorf("%s is not a loopback address", ip)
		}
	}
	return nil
}

// client is one LDAP connection; it is used by one goroutine.
type client struct {
	t   *target
	nc  net.Conn
	br  *bufio.Reader
	out []byte
	in  []byte
	id  int32
	dn  []byte // the first entry's DN of the last search
}

// ldapError is an LDAP result other than success.
type ldapError struct {
	code int
	diag string
}

func (e *ldapError) Error() string { return fmt.Sprintf("result %d: %s", e.code, e.diag) }

func dial(ctx context.Context, t *target) (*client, error) {
	d := net.Dialer{Timeout: t.timeout}
	nc, err := d.DialContext(ctx, "tcp", t.addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", t.addr, err)
	}
	if t.abortive {
		if tc, ok := nc.(*net.TCPConn); ok {
			_ = tc.SetLinger(0)
		}
	}
	c := &client{t: t, nc: nc, out: make([]byte, 0, 256), in: make([]byte, 0, 256)}
	if t.ldaps {
		if err := c.handshake(); err != nil {
			nc.Close()
			return nil, err
		}
	} else {
		c.br = bufio.NewReaderSize(nc, 512)
	}
	if t.startTLS && !t.ldaps {
		if err := c.startTLS(); err != nil {
			nc.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *client) handshake() error {
	tc := tls.Client(c.nc, c.t.tls)
	_ = c.nc.SetDeadline(time.Now().Add(c.t.timeout))
	if err := tc.Handshake(); err != nil {
		return fmt.Errorf("TLS handshake: %w", err)
	}
	c.nc = tc
	c.br = bufio.NewReaderSize(tc, 512)
	return nil
}

func (c *client) nextID() int32 {
	c.id++
	if c.id <= 0 {
		c.id = 1
	}
	return c.id
}

// roundTrip sends c.out and waits for the response to id.
func (c *client) roundTrip(id int32, want byte) error {
	_ = c.nc.SetDeadline(time.Now().Add(c.t.timeout))
	if _, err := c.nc.Write(c.out); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	for {
		var err error
		c.in, err = readMessage(c.br, c.in)
		if err != nil {
			return fmt.Errorf("read: %w", err)
		}
		r, err := parseResponse(c.in)
		if err != nil {
			return err
		}
		if r.notice {
			return fmt.Errorf("notice of disconnection: %w", &ldapError{code: r.code, diag: r.diag})
		}
		if r.id != id {
			continue // a late answer to an operation that timed out
		}
		if r.op != want {
			return fmt.Errorf("%w: answer tag 0x%02x to a request expecting 0x%02x", errMalformed, r.op, want)
		}
		if r.code != 0 {
			return &ldapError{code: r.code, diag: r.diag}
		}
		return nil
	}
}

func (c *client) startTLS() error {
	id := c.nextID()
	c.out = appendStartTLS(c.out[:0], id)
	if err := c.roundTrip(id, appExtendedResp); err != nil {
		return fmt.Errorf("StartTLS: %w", err)
	}
	if c.br.Buffered() > 0 {
		return errors.New("StartTLS: data after the response")
	}
	return c.handshake()
}

func (c *client) bind(dn, password string) error {
	id := c.nextID()
	c.out = appendBind(c.out[:0], id, dn, password, c.t.ppolicy)
	return c.roundTrip(id, appBindResponse)
}

func (c *client) passwordModify(oldPW, newPW string) error {
	id := c.nextID()
	c.out = appendPasswordModify(c.out[:0], id, oldPW, newPW, c.t.ppolicy)
	return c.roundTrip(id, appExtendedResp)
}

// search sends a SearchRequest for (attr=value) and reads its results:
// the number of entries and the first one's DN (valid until the next
// search). A result other than success is an *ldapError.
func (c *client) search(base string, scope int, attr, value string, attrs []string) (dn []byte, entries int, err error) {
	id := c.nextID()
	c.out = appendSearch(c.out[:0], id, base, scope, attr, value, attrs)
	_ = c.nc.SetDeadline(time.Now().Add(c.t.timeout))
	if _, err := c.nc.Write(c.out); err != nil {
		return nil, 0, fmt.Errorf("write: %w", err)
	}
	c.dn = c.dn[:0]
	for {
		c.in, err = readMessage(c.br, c.in)
		if err != nil {
			return nil, entries, fmt.Errorf("read: %w", err)
		}
		got, op, content, err := parseHeader(c.in)
		if err != nil {
			return nil, entries, err
		}
		if got != id {
			if got == 0 {
				// An unsolicited notification: a Notice of Disconnection.
				r, err := parseResponse(c.in)
				if err == nil && r.notice {
					return nil, entries, fmt.Errorf("notice of disconnection: %w", &ldapError{code: r.code, diag: r.diag})
				}
			}
			continue // a late answer to an operation that timed out
		}
		switch op {
		case appSearchEntry:
			d, err := parseEntryDN(content)
			if err != nil {
				return nil, entries, err
			}
			if entries == 0 {
				c.dn = append(c.dn, d...)
			}
			entries++
		case appSearchRef:
			// A continuation reference: not an entry; not followed.
		case appSearchDone:
			r, err := parseResponse(c.in)
			if err != nil {
				return nil, entries, err
			}
			if r.code != 0 {
				return nil, entries, &ldapError{code: r.code, diag: r.diag}
			}
			return c.dn, entries, nil
		default:
			return nil, entries, fmt.Errorf("%w: answer tag 0x%02x to a search", errMalformed, op)
		}
	}
}

// close sends an Unbind (best effort) and closes.
func (c *client) close() {
	c.out = appendUnbind(c.out[:0], c.nextID())
	_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.nc.Write(c.out)
	_ = c.nc.Close()
}

// errorClass names an error for the error table: the LDAP result name, or
// the kind of transport failure.
func errorClass(err error) string {
	var le *ldapError
	var ne net.Error
	if cl := loginClass(err); cl != "" {
		return cl
	}
	switch {
	case errors.As(err, &le):
		if strings.HasPrefix(err.Error(), "notice of disconnection") {
			return "noticeOfDisconnection:" + resultName(le.code)
		}
		return resultName(le.code)
	case errors.Is(err, errMalformed):
		return "malformed_response"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection_refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection_reset"
	case errors.Is(err, syscall.EADDRNOTAVAIL):
		return "no_local_port"
	case errors.Is(err, syscall.EMFILE), errors.Is(err, syscall.ENFILE):
		return "too_many_open_files"
	case strings.Contains(err.Error(), "TLS"):
		return "tls_error"
	}
	return "io_error"
}

var resultNames = map[int]string{
	0: "success", 1: "operationsError", 2: "protocolError", 3: "timeLimitExceeded",
	7: "authMethodNotSupported", 8: "strongerAuthRequired", 11: "adminLimitExceeded",
	12: "unavailableCriticalExtension", 13: "confidentialityRequired", 16: "noSuchAttribute",
	19: "constraintViolation", 32: "noSuchObject", 34: "invalidDNSyntax", 49: "invalidCredentials",
	50: "insufficientAccessRights", 51: "busy", 52: "unavailable", 53: "unwillingToPerform",
	80: "other", 118: "canceled",
}

func resultName(code int) string {
	if n, ok := resultNames[code]; ok {
		return n
	}
	return fmt.Sprintf("resultCode%d", code)
}
