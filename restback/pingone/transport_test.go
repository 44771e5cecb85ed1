package pingone

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/transport/transporttest"
)

// systemCA is the process's only system root during these tests (see
// TestMain), so that "only the ca_file's CAs" can be told from "the
// system roots plus the ca_file's" (PingOne's old meaning).
var systemCA *transporttest.CA

func TestMain(m *testing.M) {
	transporttest.Main(m, func(ca *transporttest.CA) { systemCA = ca })
}

// clientFor is a client of e's environment whose API requests go to api
// (tokens still come from the simulator).
func (e *env) clientFor(api string, mod func(*Config)) *Client {
	cfg := Config{
		Name:          "pingone-test",
		EnvironmentID: testEnv,
		ClientID:      testClient,
		ClientSecret:  bridge.SecretString(testSecret),
		AuthURL:       e.url,
		APIURL:        api,
		Timeout:       5 * time.Second,
		Logger:        slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if mod != nil {
		mod(&cfg)
	}
	return e.client(cfg)
}

// The rule for "sent", against a server that closes the connection at
// each stage of the password request: a bind that got no answer is
// unavailable; a change that may have reached PingOne has an unknown
// outcome; neither is sent twice.
func TestConnectionClosedAtEachStage(t *testing.T) {
	for _, stage := range transporttest.Stages {
		t.Run(stage.String(), func(t *testing.T) {
			e := newEnv(t)
			srv := transporttest.NewStageServer(t, e.sim)
			c := e.clientFor(srv.URL, nil)
			// Token and user id cached: the next API request of each
			// operation is the password request.
			if out := c.Bind(context.Background(), bridge.BindRequest{DN: dn("alice"), Password: e.secret(alicePW)}); !out.OK() {
				t.Fatal(out.Code, out.Diagnostic)
			}
			srv.Set(stage)

			out := c.Bind(context.Background(), bridge.BindRequest{DN: dn("alice"), Password: e.secret(alicePW)})
			if out.Code != bridge.Unavailable || srv.Broken() != 1 {
				t.Errorf("bind: %v %q after %d requests, want unavailable after 1", out.Code, out.Diagnostic, srv.Broken())
			}
			before := srv.Broken()
			const fresh = "Fresh-Passw0rd#1"
			out = c.ChangePassword(context.Background(), bridge.ChangeRequest{
				Target: dn("alice"), Kind: bridge.SelfChange, OldPassword: e.secret(alicePW), NewPassword: e.secret(fresh),
			})
			if out.Code != bridge.Other || !strings.Contains(out.Diagnostic, "outcome unknown") {
				t.Errorf("change: %v %q, want other (outcome unknown)", out.Code, out.Diagnostic)
			}
			if n := srv.Broken() - before; n != 1 {
				t.Errorf("change: the server saw %d requests, want exactly 1", n)
			}
			srv.Set(transporttest.Pass)
			changed := c.Bind(context.Background(), bridge.BindRequest{DN: dn("alice"), Password: e.secret(fresh)}).OK()
			if changed != (stage == transporttest.ClosePartResponse) {
				t.Errorf("changed = %v at stage %v", changed, stage)
			}
		})
	}
}

// Wrong place is not wrong password: an API URL that leads elsewhere (a
// proxy's HTML 404, a path pasted in) makes binds unavailable and changes
// of unknown outcome, never invalidCredentials.
func TestWrongPlaceIsNotWrongPassword(t *testing.T) {
	e := newEnv(t)
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusNotFound)
		w.Write([]byte("<html><body><h1>404 Not Found</h1></body></html>"))
	}))
	defer proxy.Close()
	for name, api := range map[string]string{
		"proxy's HTML 404": proxy.URL,
		"path pasted in":   e.url + "/v1/environments/" + testEnv,
	} {
		c := e.clientFor(api, nil)
		out := c.Bind(context.Background(), bridge.BindRequest{DN: dn("alice"), Password: e.secret(alicePW)})
		if out.Code != bridge.Unavailable {
			t.Errorf("%s: bind %v %q, want unavailable", name, out.Code, out.Diagnostic)
		}
		ch := c.ChangePassword(context.Background(), bridge.ChangeRequest{Target: dn("alice"), Kind: bridge.AdminReset, NewPassword: e.secret("Fresh-Passw0rd#1")})
		if ch.Code == bridge.InvalidCredentials || ch.Code == bridge.NoSuchObject || ch.OK() {
			t.Errorf("%s: change %v %q", name, ch.Code, ch.Diagnostic)
		}
		if err := c.Check(context.Background()); err == nil {
			t.Errorf("%s: readiness passed", name)
		}
	}
}

// ca_file means "only these CAs", as for PingDirectory: a server signed by
// a system root is refused when a ca_file is set, one signed by the file's
// CA accepted.
func TestCAFileIsTheOnlyTrust(t *testing.T) {
	e := newEnv(t)
	transporttest.CheckCAFile(t, e.sim, systemCA, func(url, caFile string) (bool, string) {
		c := e.clientFor(url, func(cfg *Config) { cfg.AuthURL, cfg.CAFile = url, caFile })
		out := c.Bind(context.Background(), bridge.BindRequest{DN: dn("alice"), Password: e.secret(alicePW)})
		return out.OK(), out.Diagnostic
	})
}

// Close leaves no idle connection behind: the server sees it closed.
func TestCloseDropsIdleConnections(t *testing.T) {
	e := newEnv(t)
	url, open := transporttest.CountingServer(t, e.sim)
	c := e.clientFor(url, func(cfg *Config) { cfg.AuthURL = url })
	if out := c.Bind(context.Background(), bridge.BindRequest{DN: dn("alice"), Password: e.secret(alicePW)}); !out.OK() {
		t.Fatal(out.Code, out.Diagnostic)
	}
	if open() == 0 {
		t.Fatal("no connection kept alive after a bind; the check would be vacuous")
	}
	c.Close()
	transporttest.WaitAllClosed(t, open)
}

// Close stops a token refresh in progress: an operation waiting for it
// ends at once instead of at the token request's timeout.
func TestCloseStopsTokenRefresh(t *testing.T) {
	arrived := make(chan struct{}, 1)
	release := make(chan struct{})
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer ts.Close()
	defer close(release) // before Close, which waits for the handler
	c, err := New(Config{EnvironmentID: testEnv, AuthURL: ts.URL, APIURL: ts.URL, ClientID: testClient,
		ClientSecret: bridge.SecretString(testSecret), Timeout: 20 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan bridge.Outcome, 1)
	go func() {
		done <- c.Bind(context.Background(), bridge.BindRequest{DN: dn("alice"), Password: bridge.SecretString(alicePW)})
	}()
	<-arrived
	c.Close()
	select {
	case out := <-done:
		if out.Code != bridge.Unavailable {
			t.Fatalf("%v %q", out.Code, out.Diagnostic)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the token refresh went on after Close")
	}
}
