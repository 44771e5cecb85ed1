package pingone

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/internal/testkit/simkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

const (
	testEnv    = "5a7b9c1d-0000-4000-8000-000000000abc"
	testClient = "bridge-worker"
	testSecret = "W0rker-Secret-Value"

	alicePW = "Alice-Passw0rd!"
	bobPW   = "Bob-Passw0rd!9"
	carolPW = "Carol-Passw0rd#7"
)

func dn(uid string) string { return "uid=" + uid + ",ou=people,dc=example,dc=com" }

// env is a simulator on a real socket and a client talking to it. Every
// password a test uses is registered, and at the end the client's logs
// (at debug level) must contain none of them.
type env struct {
	t       testing.TB
	sim     *pingonesim.Server
	url     string
	clk     *testkit.Clock
	c       *Client
	ids     map[string]string
	logs    *testkit.LogBuffer
	secrets []string
}

type envOption func(*pingonesim.Config, *Config)

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	clk := testkit.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	scfg := pingonesim.Config{EnvironmentID: testEnv, ClientID: testClient, ClientSecret: testSecret, Now: clk.Now}
	logs := &testkit.LogBuffer{}
	ccfg := Config{
		Name:          "pingone-test",
		EnvironmentID: testEnv,
		ClientID:      testClient,
		ClientSecret:  bridge.SecretString(testSecret),
		Timeout:       5 * time.Second,
		Logger:        slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	for _, o := range opts {
		o(&scfg, &ccfg)
	}
	sim, u, ids := simkit.PingOne(t, scfg,
		simkit.User{Name: "alice", Email: "alice@example.com", Password: alicePW},
		simkit.User{Name: "bob", Email: "bob@example.com", Password: bobPW},
		simkit.User{Name: "carol", Email: "carol@example.com", Password: carolPW})
	if ccfg.AuthURL == "" {
		ccfg.AuthURL, ccfg.APIURL = u, u
	}
	e := &env{t: t, sim: sim, url: u, clk: clk, ids: ids, logs: logs,
		secrets: []string{testSecret, alicePW, bobPW, carolPW}}
	e.c = e.client(ccfg)
	t.Cleanup(e.checkLogs)
	return e
}

func (e *env) client(cfg Config) *Client {
	e.t.Helper()
	c, err := New(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	c.now = e.clk.Now
	return c
}

func (e *env) secret(pw string) bridge.Secret {
	e.secrets = append(e.secrets, pw)
	return bridge.SecretString(pw)
}

func (e *env) checkLogs() { testkit.NoSecrets(e.t, "the logs", e.logs.String(), e.secrets...) }

func (e *env) bind(uid, pw string, ctl bridge.RequestControls) bridge.Outcome {
	e.t.Helper()
	out := e.c.Bind(context.Background(), bridge.BindRequest{DN: dn(uid), Password: e.secret(pw), Controls: ctl})
	e.noSecretIn(out)
	return out
}

func (e *env) selfChange(uid, old, nw string, ctl bridge.RequestControls) bridge.Outcome {
	e.t.Helper()
	req := bridge.ChangeRequest{Target: dn(uid), Kind: bridge.SelfChange, Controls: ctl}
	if old != "" {
		req.OldPassword = e.secret(old)
	}
	if nw != "" {
		req.NewPassword = e.secret(nw)
	}
	out := e.c.ChangePassword(context.Background(), req)
	e.noSecretIn(out)
	return out
}

func (e *env) adminReset(uid, nw string, route bridge.RouteOptions, ctl bridge.RequestControls) bridge.Outcome {
	e.t.Helper()
	req := bridge.ChangeRequest{
		Target: dn(uid), Kind: bridge.AdminReset, Controls: ctl, Route: route,
		Actor: bridge.Credentials{DN: "cn=admin,dc=example,dc=com", Password: e.secret("Admin-Passw0rd!")},
	}
	if nw != "" {
		req.NewPassword = e.secret(nw)
	}
	out := e.c.ChangePassword(context.Background(), req)
	e.noSecretIn(out)
	return out
}

func (e *env) noSecretIn(out bridge.Outcome) {
	e.t.Helper()
	for _, s := range e.secrets {
		if strings.Contains(out.Diagnostic, s) {
			e.t.Errorf("diagnostic %q holds a password", out.Diagnostic)
		}
	}
}

// requests counts the simulator's API requests made by fn.
func (e *env) requests(fn func()) int64 {
	before := e.sim.Requests()
	fn()
	return e.sim.Requests() - before
}

func policyErr(o bridge.Outcome) bridge.PolicyError {
	if o.Policy == nil {
		return bridge.PolicyErrorNone
	}
	return o.Policy.Error
}

var (
	noControls = bridge.RequestControls{}
	ppolicy    = bridge.RequestControls{PasswordPolicy: true}
	allCtl     = bridge.RequestControls{PasswordPolicy: true, ValidationDetails: true}
)
