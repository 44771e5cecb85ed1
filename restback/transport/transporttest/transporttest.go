// Package transporttest holds what the backends' tests of the transport
// rules share: a certificate authority that writes its own ca_file, and a
// raw TCP server that breaks a request at a chosen stage.
package transporttest

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/internal/selfsigned"
)

// CA is a test certificate authority.
type CA struct {
	cert *selfsigned.Cert
	// File is a PEM file holding the CA's certificate (a ca_file).
	File string
}

// NewCA makes a CA and writes its certificate to a file in t's temporary
// directory.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	ca, err := newCA(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

func newCA(dir, name string) (*CA, error) {
	cert, err := selfsigned.New(selfsigned.Options{CommonName: name, ValidFor: 24 * time.Hour})
	if err != nil {
		return nil, err
	}
	file := filepath.Join(dir, name+".pem")
	if err := os.WriteFile(file, cert.CertPEM, 0o600); err != nil {
		return nil, err
	}
	return &CA{cert: cert, File: file}, nil
}

// InstallSystemCA makes a CA the process's only system root (through
// SSL_CERT_FILE and SSL_CERT_DIR, which crypto/x509 reads once, on first
// use): call it from TestMain before anything verifies a certificate. A
// server signed by it is trusted by a client with the system roots, which
// is what a test of "ca_file means only these CAs" needs to be able to
// fail. The returned function removes its files.
func InstallSystemCA() (*CA, func(), error) {
	dir, err := os.MkdirTemp("", "systemca")
	if err != nil {
		return nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	ca, err := newCA(dir, "system-root")
	if err == nil {
		empty := filepath.Join(dir, "certs")
		if err = os.Mkdir(empty, 0o700); err == nil {
			os.Setenv("SSL_CERT_FILE", ca.File)
			os.Setenv("SSL_CERT_DIR", empty)
		}
	}
	if err != nil {
		cleanup()
		return nil, nil, err
	}
	return ca, cleanup, nil
}

// Main is a TestMain for the tests of a transport rule: it runs m with a
// CA of the tests' own as the process's only system root (see
// InstallSystemCA), handed to use before any test runs, removes the CA's
// files and exits with the tests' status.
func Main(m *testing.M, use func(*CA)) {
	ca, cleanup, err := InstallSystemCA()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	use(ca)
	code := m.Run()
	cleanup()
	os.Exit(code)
}

// Leaf issues a server certificate for 127.0.0.1 and localhost, sent
// with the CA's certificate.
func (ca *CA) Leaf(t testing.TB) tls.Certificate {
	t.Helper()
	c, err := selfsigned.New(selfsigned.Options{CommonName: "localhost", Hosts: []string{"127.0.0.1", "localhost"},
		ValidFor: 24 * time.Hour, Issuer: ca.cert})
	if err != nil {
		t.Fatal(err)
	}
	return c.TLSCertificate()
}

// TLSServer serves h over TLS, with a certificate ca issued, until the
// test ends, and returns its URL. Its error log is discarded: the
// handshakes a client refuses are what the tests are about.
func TLSServer(t testing.TB, h http.Handler, ca *CA) string {
	t.Helper()
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ErrorLog = log.New(io.Discard, "", 0)
	ts.TLS = &tls.Config{Certificates: []tls.Certificate{ca.Leaf(t)}}
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return ts.URL
}

// CheckCAFile checks that ca_file means "only these CAs" for a backend: a
// server (serving h) signed by systemCA, the process's system root (see
// Main), is refused when a ca_file is set, one signed by the file's CA
// accepted, and the refusals say TLS. bind binds through a client of url
// that has caFile as its ca_file ("": none).
func CheckCAFile(t *testing.T, h http.Handler, systemCA *CA, bind func(url, caFile string) (ok bool, diagnostic string)) {
	t.Helper()
	private := NewCA(t, "private")
	publicURL, privateURL := TLSServer(t, h, systemCA), TLSServer(t, h, private)
	tests := []struct {
		name, url, caFile string
		ok                bool
	}{
		{"system roots, server signed by a system root", publicURL, "", true},
		{"ca_file, server signed by its CA", privateURL, private.File, true},
		{"ca_file, server signed by a system root", publicURL, private.File, false},
		{"system roots, server signed by the private CA", privateURL, "", false},
	}
	for _, tc := range tests {
		ok, diag := bind(tc.url, tc.caFile)
		if ok != tc.ok {
			t.Errorf("%s: ok=%v %q", tc.name, ok, diag)
		}
		if !tc.ok && !strings.Contains(diag, "TLS") {
			t.Errorf("%s: diagnostic %q does not say TLS", tc.name, diag)
		}
	}
}

// CountingServer serves h until the test ends and counts its open
// connections, for the tests of a backend's Close.
func CountingServer(t testing.TB, h http.Handler) (url string, open func() int32) {
	t.Helper()
	var n atomic.Int32
	ts := httptest.NewUnstartedServer(h)
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			n.Add(1)
		case http.StateClosed, http.StateHijacked:
			n.Add(-1)
		}
	}
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.URL, n.Load
}

// WaitAllClosed fails the test unless open drops to 0 within 5 seconds:
// the server sees the client's idle connections closed.
func WaitAllClosed(t testing.TB, open func() int32) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for open() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections still open after Close", open())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Stage is where a StageServer breaks a request.
type Stage int

const (
	// Pass forwards every request to the upstream handler.
	Pass Stage = iota
	// CloseBeforeRead closes the connection before reading anything.
	CloseBeforeRead
	// ClosePartHeaders reads part of the request headers, then closes.
	ClosePartHeaders
	// CloseAfterRequest reads the whole request, then closes without
	// passing it on.
	CloseAfterRequest
	// ClosePartResponse passes the request on, writes the status line
	// and part of the headers, then closes: the backend acted, the answer
	// is lost before its status could be read.
	ClosePartResponse
)

func (s Stage) String() string {
	return [...]string{"pass", "close before reading", "close after part of the headers",
		"close after the whole request", "close after part of the response"}[s]
}

// Stages are the stages that break a request, in order.
var Stages = []Stage{CloseBeforeRead, ClosePartHeaders, CloseAfterRequest, ClosePartResponse}

// StageServer is a raw TCP HTTP/1.1 server in front of a handler that
// breaks every connection at its stage (when not Pass). It serves one
// request per connection and closes it.
type StageServer struct {
	ln       net.Listener
	upstream http.Handler
	stage    atomic.Int32
	broken   atomic.Int64 // connections broken at a stage
	wg       sync.WaitGroup
	// URL is http://127.0.0.1:port.
	URL string
}

// NewStageServer starts a StageServer in front of upstream.
func NewStageServer(t testing.TB, upstream http.Handler) *StageServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &StageServer{ln: ln, upstream: upstream, URL: "http://" + ln.Addr().String()}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(func() {
		ln.Close()
		s.wg.Wait()
	})
	return s
}

// Set makes every connection from now on break at stage.
func (s *StageServer) Set(stage Stage) { s.stage.Store(int32(stage)) }

// Broken is the number of connections broken at a stage so far: each is
// one attempt of a request that reached the server.
func (s *StageServer) Broken() int64 { return s.broken.Load() }

func (s *StageServer) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(10 * time.Second))
			s.handle(c)
		}()
	}
}

func (s *StageServer) handle(c net.Conn) {
	stage := Stage(s.stage.Load())
	if stage != Pass {
		s.broken.Add(1)
	}
	br := bufio.NewReader(c)
	switch stage {
	case CloseBeforeRead:
		return
	case ClosePartHeaders:
		// The request line and no more.
		_, _ = br.ReadString('\n')
		return
	}
	req, err := http.ReadRequest(br)
	if err != nil {
		return
	}
	body, _ := io.ReadAll(req.Body)
	if stage == CloseAfterRequest {
		return
	}
	rec := newRecorder()
	up := httptest.NewRequest(req.Method, req.RequestURI, bytesReader(body))
	up.Header = req.Header
	up.Host = req.Host
	s.upstream.ServeHTTP(rec, up)
	resp := rec.response()
	if stage == ClosePartResponse {
		var buf writeBuffer
		_ = resp.Write(&buf)
		cut := bytes.IndexByte(buf.b, '\n') + 6 // the status line and a few bytes
		_, _ = c.Write(buf.b[:cut])
		return
	}
	_ = resp.Write(c)
}
