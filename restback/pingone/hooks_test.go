package pingone

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// countingTransport records the paths of the requests it passes on.
type countingTransport struct {
	mu    sync.Mutex
	next  http.RoundTripper
	paths []string
	calls []string // transport.CallName of each request
}

func (ct *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	ct.mu.Lock()
	ct.paths = append(ct.paths, r.Method+" "+r.URL.Path)
	ct.calls = append(ct.calls, transport.CallName(r))
	ct.mu.Unlock()
	return ct.next.RoundTrip(r)
}

// The metrics hooks: WrapTransport sees every request, token included;
// CacheObserver hears of every cache lookup.
func TestMetricsHooks(t *testing.T) {
	var ct *countingTransport
	var mu sync.Mutex
	var lookups []string
	e := newEnv(t, func(_ *pingonesim.Config, c *Config) {
		c.WrapTransport = func(rt http.RoundTripper) http.RoundTripper {
			ct = &countingTransport{next: rt}
			return ct
		}
		c.CacheObserver = func(cache string, hit bool) {
			mu.Lock()
			defer mu.Unlock()
			lookups = append(lookups, cache+map[bool]string{true: " hit", false: " miss"}[hit])
		}
	})
	if !e.c.tr.Traced() {
		t.Fatal("wrapping the default transport lost its write tracing (a failed change would look sent)")
	}
	for i := 0; i < 2; i++ {
		if out := e.bind("alice", alicePW, noControls); !out.OK() {
			t.Fatal(out.Code, out.Diagnostic)
		}
	}
	if err := e.c.Check(context.Background()); err != nil {
		t.Fatal(err)
	}
	// No new password: the client generates one from the cached policy.
	out := e.c.ChangePassword(context.Background(), bridge.ChangeRequest{Target: dn("bob"), Kind: bridge.AdminReset})
	if !out.OK() || out.GeneratedPassword.IsZero() {
		t.Fatal(out.Code, out.Diagnostic)
	}
	out.GeneratedPassword.Wipe()
	ct.mu.Lock()
	got := strings.Join(ct.paths, "\n")
	calls := strings.Join(ct.calls, " ")
	ct.mu.Unlock()
	// The client names each of its calls itself (the metrics' call
	// label), never "other".
	for _, want := range []string{callToken, callFindUser, callCheckPassword, callReadPolicy, callSetPassword} {
		if !strings.Contains(" "+calls+" ", " "+want+" ") {
			t.Errorf("no request was named %q: %s", want, calls)
		}
	}
	if strings.Contains(" "+calls+" ", " "+transport.CallOther+" ") {
		t.Errorf("an unnamed request: %s", calls)
	}
	for _, want := range []string{"POST /" + testEnv + "/as/token", "GET /v1/environments/" + testEnv + "/users", "/password", "GET /v1/environments/" + testEnv + "/passwordPolicies"} {
		if !strings.Contains(got, want) {
			t.Errorf("the wrapped transport did not see %q:\n%s", want, got)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	all := strings.Join(lookups, ",")
	if !strings.HasPrefix(all, "user miss,user hit") || !strings.Contains(all, "policy hit") {
		t.Errorf("cache lookups: %s", all)
	}
}

func TestTracedOnlyForNetHTTP(t *testing.T) {
	cfg := Config{EnvironmentID: testEnv, ClientID: testClient, ClientSecret: bridge.SecretString(testSecret), Region: "eu"}
	c, err := New(cfg)
	if err != nil || !c.tr.Traced() {
		t.Fatalf("default transport: traced %v, err %v", c != nil && c.tr.Traced(), err)
	}
	cfg.Transport = &countingTransport{next: http.DefaultTransport}
	if c, err = New(cfg); err != nil || c.tr.Traced() {
		t.Fatalf("custom transport: traced %v, err %v", c != nil && c.tr.Traced(), err)
	}
}
