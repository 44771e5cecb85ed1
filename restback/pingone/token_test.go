package pingone

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

func TestTokenReused(t *testing.T) {
	e := newEnv(t)
	for i := 0; i < 5; i++ {
		if out := e.bind("alice", alicePW, noControls); !out.OK() {
			t.Fatal(out.Code, out.Diagnostic)
		}
	}
	if out := e.adminReset("bob", "Fresh-Passw0rd#1", bridge.RouteOptions{}, noControls); !out.OK() {
		t.Fatal(out.Code, out.Diagnostic)
	}
	if err := e.c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	if g := e.sim.TokenGrants(); g != 1 {
		t.Errorf("%d token grants for 7 operations, want 1", g)
	}
}

func TestTokenRefreshedOnceWhenExpired(t *testing.T) {
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			e := newEnv(t, func(_ *pingonesim.Config, c *Config) {
				c.AuthMethod = method
				c.UserCacheTTL = 24 * time.Hour // only the token expires
			})
			if out := e.bind("alice", alicePW, noControls); !out.OK() {
				t.Fatal(out.Code, out.Diagnostic)
			}
			e.clk.Advance(2 * time.Hour)              // past the 1-hour token on both clocks
			e.sim.SetLatency(200*time.Millisecond, 0) // the operations overlap
			var wg sync.WaitGroup
			var failed atomic.Int32
			for i := 0; i < 20; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out := e.c.Bind(context.Background(), bridge.BindRequest{DN: dn("alice"), Password: bridge.SecretString(alicePW)})
					if !out.OK() {
						failed.Add(1)
					}
				}()
			}
			wg.Wait()
			if failed.Load() > 0 {
				t.Errorf("%d binds failed", failed.Load())
			}
			if g := e.sim.TokenGrants(); g != 2 {
				t.Errorf("%d token grants, want 2 (one at start, one refresh for 20 waiting operations)", g)
			}
		})
	}
}

// A token refused by the API (revoked) is replaced once and the request
// repeated once.
func TestTokenRefreshOn401(t *testing.T) {
	e := newEnv(t)
	e.bind("alice", alicePW, noControls)
	e.sim.RevokeTokens()
	var out bridge.Outcome
	n := e.requests(func() { out = e.bind("alice", alicePW, noControls) })
	if !out.OK() {
		t.Fatal(out.Code, out.Diagnostic)
	}
	if n != 2 || e.sim.TokenGrants() != 2 {
		t.Errorf("%d requests and %d grants, want 2 and 2", n, e.sim.TokenGrants())
	}
}

// An API that refuses every token: one refresh, one retry, then an outage.
func TestPersistent401(t *testing.T) {
	var tokens, api atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/as/token") {
			tokens.Add(1)
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"access_token":"t","token_type":"Bearer","expires_in":3600}`))
			return
		}
		api.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(401)
		w.Write([]byte(`{"id":"x","code":"ACCESS_FAILED","message":"The access token is invalid."}`))
	}))
	defer srv.Close()
	c, err := New(Config{EnvironmentID: testEnv, AuthURL: srv.URL, APIURL: srv.URL + "/v1", ClientID: testClient, ClientSecret: bridge.SecretString(testSecret)})
	if err != nil {
		t.Fatal(err)
	}
	out := c.Bind(context.Background(), bridge.BindRequest{DN: dn("alice"), Password: bridge.SecretString(alicePW)})
	want{code: bridge.Unavailable, policy: bridge.PolicyErrorNone, diag: "refused"}.check(t, out)
	if api.Load() != 2 || tokens.Load() != 2 {
		t.Errorf("%d API requests and %d token requests, want 2 and 2", api.Load(), tokens.Load())
	}
}

func TestBadClientSecret(t *testing.T) {
	for _, method := range []string{"client_secret_basic", "client_secret_post"} {
		t.Run(method, func(t *testing.T) {
			const wrong = "Wr0ng-Secret-Value"
			e := newEnv(t, func(_ *pingonesim.Config, c *Config) {
				c.ClientSecret = bridge.SecretString(wrong)
				c.AuthMethod = method
			})
			e.secrets = append(e.secrets, wrong)
			out := e.bind("alice", alicePW, noControls)
			want{code: bridge.Unavailable, policy: bridge.PolicyErrorNone, diag: "invalid_client"}.check(t, out)
			if !strings.Contains(out.Diagnostic, "client id, secret") {
				t.Errorf("diagnostic %q does not say what to check", out.Diagnostic)
			}
			err := e.c.Check(context.Background())
			if err == nil || !strings.Contains(err.Error(), "invalid_client") || strings.Contains(err.Error(), wrong) {
				t.Errorf("Check: %v", err)
			}
			if e.sim.TokenGrants() != 0 {
				t.Error("a token was granted")
			}
		})
	}
}

func TestTokenEndpointDown(t *testing.T) {
	e := newEnv(t)
	e.sim.SetFault(pingonesim.Fault{Target: pingonesim.TargetToken, Status: 500})
	want{code: bridge.Unavailable, policy: bridge.PolicyErrorNone, diag: "HTTP 500"}.check(t, e.bind("alice", alicePW, noControls))
	e.sim.SetFault(pingonesim.Fault{Target: pingonesim.TargetToken, Status: 429})
	want{code: bridge.Busy, policy: bridge.PolicyErrorNone}.check(t, e.bind("alice", alicePW, noControls))
	e.sim.SetFault(pingonesim.Fault{})
	if out := e.bind("alice", alicePW, noControls); !out.OK() {
		t.Errorf("after the fault: %v", out.Code)
	}
}
