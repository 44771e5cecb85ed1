package pingdirectory

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// recordingTransport records the requests it passes on.
type recordingTransport struct {
	mu    sync.Mutex
	next  http.RoundTripper
	calls []string
}

func (rt *recordingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	rt.mu.Lock()
	rt.calls = append(rt.calls, transport.CallName(r)+" "+r.Method+" "+r.URL.EscapedPath())
	rt.mu.Unlock()
	return rt.next.RoundTrip(r)
}

// WrapTransport (the metrics hook) sees every request over the transport
// the client would use anyway, CA file included, which a Transport of
// its own would exclude.
func TestWrapTransport(t *testing.T) {
	caFile, leaf := testCA(t)
	sim := directorysim.New(directorysim.Config{Admins: []string{adminDN}})
	if err := sim.AddUser(bobDN, bobPW); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(sim)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{leaf}}
	srv.StartTLS()
	defer srv.Close()

	var rec *recordingTransport
	c, _ := newClient(t, srv.URL, func(cfg *Config) {
		cfg.CAFile = caFile
		cfg.WrapTransport = func(next http.RoundTripper) http.RoundTripper {
			rec = &recordingTransport{next: next}
			return rec
		}
	})
	if out := bind(c, bobDN, bobPW, false); !out.OK() {
		t.Fatalf("bind over the wrapped transport with the CA file: %v %s", out.Code, out.Diagnostic)
	}
	if out := selfChange(c, bobDN, bobPW, bobPW, "Second-Passw0rd1"); !out.OK() {
		t.Fatalf("change: %v %s", out.Code, out.Diagnostic)
	}
	if err := c.Check(t.Context()); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	defer rec.mu.Unlock()
	got := strings.Join(rec.calls, "\n") + "\n"
	// The client names each of its calls itself (the metrics' call label).
	if !strings.Contains(got, "bind GET /directory/v1/me\n") || !strings.Contains(got, "change_password POST /directory/v1/") ||
		!strings.Contains(got, "check GET /directory/v1\n") {
		t.Fatalf("the wrapper saw:\n%s", got)
	}
}
