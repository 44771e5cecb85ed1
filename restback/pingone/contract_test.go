package pingone

// Contract tests from Ping's pages: the examples printed in them
// (testdata/contract, each with its page's URL) are what the client must
// send and what it must understand, and what the simulator must answer.
// The client talks to pageServer, a PingOne that answers exactly as the
// pages print; nothing in these answers comes from our simulator.

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// fixture is one documented example.
type fixture struct {
	Title       string          `json:"title"`
	Source      string          `json:"source"`
	Method      string          `json:"method"`
	Path        string          `json:"path"`
	ContentType string          `json:"contentType"`
	Request     json.RawMessage `json:"request"`
	Status      int             `json:"status"`
	Response    json.RawMessage `json:"response"`
	Statuses200 []string        `json:"statuses200"`
	Statuses400 []string        `json:"statuses400"`
}

func loadFixture(t *testing.T, name string) fixture {
	t.Helper()
	return testkit.LoadExample[fixture](t, name)
}

// substitute replaces the pages' {{placeholders}} in a documented body.
func substitute(raw json.RawMessage, vars map[string]string) []byte {
	s := string(raw)
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return []byte(s)
}

// captured is a request the client sent to the page server.
type captured struct {
	method, path, contentType, auth string
	body                            []byte
}

// pageServer is PingOne answering as the pages print: the Worker
// applications page's token, one user, a password policy, and, for the
// password endpoint, whatever the test sets in answer.
type pageServer struct {
	t      *testing.T
	srv    *httptest.Server
	userID string

	mu       sync.Mutex
	requests []captured
	answer   func(c captured) (int, []byte)
	policy   string // the password policies answer; contractPolicy unless set
}

// contractPolicy is a password policy for the diagnostics: the Standard
// policy's rules as the Password Policies page lists them (length 8 to
// 255, one each of upper case, lower case, digit and special character,
// profile data excluded). Its JSON shape is our client's reading of the
// policy data model, not a printed example.
const contractPolicy = `{"_embedded":{"passwordPolicies":[{"id":"ad53ea0b-28b3-413f-a762-46eaf929ab78","name":"Standard","default":true,
"excludesProfileData":true,"length":{"min":8,"max":255},
"minCharacters":{"ABCDEFGHIJKLMNOPQRSTUVWXYZ":1,"abcdefghijklmnopqrstuvwxyz":1,"0123456789":1,"~!@#$%^&*()-_=+[]{}|;:,.<>/?":1}}]}}`

func newPageServer(t *testing.T, userID string) *pageServer {
	t.Helper()
	ps := &pageServer{t: t, userID: userID}
	token := loadFixture(t, "token-client-credentials.json")
	ps.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c := captured{method: r.Method, path: r.URL.Path, contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization"), body: body}
		envPath := "/v1/environments/" + testEnv
		switch {
		case r.URL.Path == "/"+testEnv+"/as/token":
			w.Header().Set("Content-Type", "application/json")
			w.Write(token.Response)
			return
		case r.URL.Path == envPath+"/users":
			w.Header().Set("Content-Type", "application/hal+json;charset=UTF-8")
			w.Write([]byte(`{"_embedded":{"users":[{"id":"` + ps.userID + `","username":"eFudd"}]},"count":1,"size":1}`))
			return
		case r.URL.Path == envPath+"/passwordPolicies":
			w.Header().Set("Content-Type", "application/hal+json;charset=UTF-8")
			ps.mu.Lock()
			p := ps.policy
			ps.mu.Unlock()
			if p == "" {
				p = contractPolicy
			}
			w.Write([]byte(p))
			return
		case r.URL.Path == envPath+"/users/"+ps.userID+"/password":
			ps.mu.Lock()
			ps.requests = append(ps.requests, c)
			answer := ps.answer
			ps.mu.Unlock()
			status, b := http.StatusOK, []byte(`{"status":"OK"}`)
			if answer != nil {
				status, b = answer(c)
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			w.Write(b)
			return
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(ps.srv.Close)
	return ps
}

func (ps *pageServer) respond(status int, body []byte) {
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.answer = func(captured) (int, []byte) { return status, body }
}

func (ps *pageServer) last() captured {
	ps.t.Helper()
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if len(ps.requests) == 0 {
		ps.t.Fatal("no password request reached the page server")
	}
	return ps.requests[len(ps.requests)-1]
}

func (ps *pageServer) client() *Client {
	ps.t.Helper()
	c, err := New(Config{
		Name: "contract", EnvironmentID: testEnv, ClientID: testClient, ClientSecret: bridge.SecretString(testSecret),
		AuthURL: ps.srv.URL, APIURL: ps.srv.URL, Timeout: 5 * time.Second,
	})
	if err != nil {
		ps.t.Fatal(err)
	}
	return c
}

// checkRequest compares the request the client sent with the page's.
func checkRequest(t *testing.T, f fixture, got captured, vars map[string]string) {
	t.Helper()
	wantPath := string(substitute(json.RawMessage(f.Path), vars))
	if got.method != f.Method || got.path != wantPath {
		t.Errorf("%s: sent %s %s, the page says %s %s", f.Title, got.method, got.path, f.Method, wantPath)
	}
	if got.contentType != f.ContentType {
		t.Errorf("%s: Content-Type %q, the page says %q", f.Title, got.contentType, f.ContentType)
	}
	if !strings.HasPrefix(got.auth, "Bearer ") {
		t.Errorf("%s: Authorization %q, the page says Bearer {{accessToken}}", f.Title, got.auth)
	}
	if want := substitute(f.Request, vars); !testkit.JSONEqual(t, got.body, want) {
		t.Errorf("%s: body\n%s\nthe page (%s) prints\n%s", f.Title, got.body, f.Source, want)
	}
}

// The gateway of the pages' examples: correlation attributes uid and
// mail filled from the DN, for the user eFudd.
var pageGateway = bridge.Gateway{ID: "gw-id", UserTypeID: "ut-id", Correlation: map[string]string{"uid": "{uid}", "mail": "{uid}@example.com"}}

const eFuddDN = "uid=eFudd,ou=people,dc=example,dc=com"

// Each request the client builds is the documented example.
func TestContractRequests(t *testing.T) {
	userID := "c3042000-188f-4bc7-a269-dee1602cf7af"
	vars := map[string]string{"envID": testEnv, "userID": userID, "gatewayID": pageGateway.ID, "userTypeID": pageGateway.UserTypeID,
		"currentPassword": "Current-Passw0rd!", "newPassword": "Fresh-Passw0rd#1", "password": "Current-Passw0rd!"}
	ps := newPageServer(t, userID)
	c := ps.client()
	ctx := context.Background()

	t.Run("password check", func(t *testing.T) {
		f := loadFixture(t, "password-check.json")
		c.Bind(ctx, bridge.BindRequest{DN: eFuddDN, Password: bridge.SecretString(vars["password"])})
		checkRequest(t, f, ps.last(), vars)
	})
	t.Run("update password (self)", func(t *testing.T) {
		f := loadFixture(t, "update-password-self.json")
		ps.respond(f.Status, f.Response)
		c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFuddDN, Kind: bridge.SelfChange,
			OldPassword: bridge.SecretString(vars["currentPassword"]), NewPassword: bridge.SecretString(vars["newPassword"])})
		checkRequest(t, f, ps.last(), vars)
	})
	t.Run("update password (set)", func(t *testing.T) {
		f := loadFixture(t, "update-password-set.json")
		ps.respond(f.Status, f.Response)
		var doc struct {
			Value string `json:"value"`
		}
		json.Unmarshal(f.Request, &doc)
		out := c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFuddDN, Kind: bridge.AdminReset,
			NewPassword: bridge.SecretString(doc.Value), Route: bridge.RouteOptions{ForceChange: true, Gateway: &pageGateway}})
		if !out.OK() {
			t.Fatalf("%v %s", out.Code, out.Diagnostic)
		}
		checkRequest(t, f, ps.last(), vars)
	})
	t.Run("update password (LDAP gateway)", func(t *testing.T) {
		f := loadFixture(t, "update-password-ldap-gateway.json")
		ps.respond(f.Status, f.Response)
		if err := c.SetGateway(ctx, eFuddDN, pageGateway); err != nil {
			t.Fatal(err)
		}
		checkRequest(t, f, ps.last(), vars)
	})
	t.Run("unset the user password", func(t *testing.T) {
		f := loadFixture(t, "update-password-ldap-gateway-unset.json")
		ps.respond(http.StatusOK, loadFixture(t, "update-password-ldap-gateway.json").Response)
		if err := c.UnsetPassword(ctx, eFuddDN); err != nil {
			t.Fatal(err)
		}
		checkRequest(t, f, ps.last(), vars)
	})
}

// withStatus is a documented password state body with another status.
func withStatus(t *testing.T, body json.RawMessage, status string) []byte {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatal(err)
	}
	m["status"] = status
	b, _ := json.Marshal(m)
	return b
}

// Each documented answer, fed to the client, gives the LDAP outcome the
// mapping table promises.
func TestContractResponses(t *testing.T) {
	ps := newPageServer(t, "8376797d-641c-4e7b-8bc1-2fdf71916cab")
	c := ps.client()
	ctx := context.Background()
	state := loadFixture(t, "update-password-self.json").Response // a password state, status OK
	bind := func(ctl bridge.RequestControls) bridge.Outcome {
		return c.Bind(ctx, bridge.BindRequest{DN: eFuddDN, Password: bridge.SecretString("Some-Passw0rd!"), Controls: ctl})
	}

	t.Run("check: the three 200 statuses", func(t *testing.T) {
		f := loadFixture(t, "password-check.json")
		for _, st := range f.Statuses200 {
			ps.respond(http.StatusOK, withStatus(t, state, st))
			out := bind(ppolicy)
			switch st {
			case "OK":
				want{code: bridge.Success, policy: bridge.PolicyErrorNone}.check(t, out)
			case "MUST_CHANGE_PASSWORD":
				want{code: bridge.Success, policy: bridge.ChangeAfterReset, mustChange: true}.check(t, out)
			case "PASSWORD_EXPIRED":
				want{code: bridge.InvalidCredentials, policy: bridge.PasswordExpired}.check(t, out)
			default:
				t.Fatalf("status %s not in the mapping", st)
			}
		}
	})
	t.Run("check: a documented 400 answers as a wrong password", func(t *testing.T) {
		// The Error codes page's top-level 400, as the answer to a check
		// (the Password Check page prints no 400 body of its own).
		f := loadFixture(t, "error-top-level.json")
		ps.respond(f.Status, f.Response)
		want{code: bridge.InvalidCredentials, policy: bridge.PolicyErrorNone, quiet: true}.check(t, bind(ppolicy))
		ps.respond(400, []byte(`{"id":"x","code":"INVALID_DATA","message":"m","details":[{"code":"INVALID_VALUE","target":"password","message":"The provided password did not match provided user"}]}`))
		wrongPW := bind(ppolicy)
		want{code: bridge.InvalidCredentials, policy: bridge.PolicyErrorNone, quiet: true}.check(t, wrongPW)
		for _, st := range loadFixture(t, "password-check.json").Statuses400 {
			// A 400 whose only sign is the status, in the documented
			// error envelope: locked or no password, as a wrong password.
			ps.respond(400, []byte(`{"id":"x","code":"INVALID_DATA","message":"`+st+`"}`))
			out := bind(ppolicy)
			if out.Code != wrongPW.Code || out.Diagnostic != wrongPW.Diagnostic {
				t.Errorf("%s: %v %q, a wrong password is %v %q", st, out.Code, out.Diagnostic, wrongPW.Code, wrongPW.Diagnostic)
			}
		}
	})
	t.Run("self change: 200", func(t *testing.T) {
		f := loadFixture(t, "update-password-self.json")
		ps.respond(f.Status, f.Response)
		out := c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFuddDN, Kind: bridge.SelfChange, Controls: allCtl,
			OldPassword: bridge.SecretString("Old-Passw0rd!1"), NewPassword: bridge.SecretString("Fresh-Passw0rd#1")})
		want{code: bridge.Success, policy: bridge.PolicyErrorNone}.check(t, out)
		if out.Validation == nil || out.Validation.MustChangePassword {
			t.Errorf("validation %+v: status OK is not must-change", out.Validation)
		}
	})
	t.Run("set: 200 MUST_CHANGE_PASSWORD is must-change whatever the route says", func(t *testing.T) {
		f := loadFixture(t, "update-password-set.json")
		ps.respond(f.Status, f.Response)
		out := c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFuddDN, Kind: bridge.AdminReset, Controls: allCtl,
			NewPassword: bridge.SecretString("Fresh-Passw0rd#1"), Route: bridge.RouteOptions{ForceChange: false}})
		want{code: bridge.Success, policy: bridge.PolicyErrorNone}.check(t, out)
		if out.Validation == nil || !out.Validation.MustChangePassword {
			t.Errorf("validation %+v: PingOne said MUST_CHANGE_PASSWORD", out.Validation)
		}
		// And OK is not must-change, though the route forces it.
		ps.respond(http.StatusOK, withStatus(t, f.Response, "OK"))
		out = c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFuddDN, Kind: bridge.AdminReset, Controls: allCtl,
			NewPassword: bridge.SecretString("Fresh-Passw0rd#1"), Route: bridge.RouteOptions{ForceChange: true}})
		if out.Validation == nil || out.Validation.MustChangePassword {
			t.Errorf("validation %+v: PingOne said OK", out.Validation)
		}
	})
	t.Run("set: the password import error", func(t *testing.T) {
		f := loadFixture(t, "update-password-set-policy-error.json")
		ps.respond(f.Status, f.Response)
		out := c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFuddDN, Kind: bridge.AdminReset, Controls: allCtl,
			NewPassword: bridge.SecretString("eFudd")})
		// Two unmet requirements: neither only length nor only history.
		want{code: bridge.ConstraintViolation, policy: bridge.InsufficientPasswordQuality, diag: "between 8 and 255 characters"}.check(t, out)
		if !strings.Contains(out.Diagnostic, "profile") {
			t.Errorf("diagnostic %q does not name excludesProfileData", out.Diagnostic)
		}
		if out.Validation == nil {
			t.Fatal("no validation details")
		}
		var unmet []string
		for _, r := range out.Validation.Results {
			if !r.Satisfied {
				unmet = append(unmet, r.Requirement.Description)
			}
		}
		if len(unmet) != 2 {
			t.Errorf("unsatisfied %q, want exactly PingOne's two", unmet)
		}
	})
	t.Run("set gateway: 200", func(t *testing.T) {
		f := loadFixture(t, "update-password-ldap-gateway.json")
		ps.respond(f.Status, f.Response)
		if err := c.SetGateway(ctx, eFuddDN, pageGateway); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("change: the top-level 400", func(t *testing.T) {
		f := loadFixture(t, "error-top-level.json")
		ps.respond(f.Status, f.Response)
		out := c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFuddDN, Kind: bridge.AdminReset, NewPassword: bridge.SecretString("Fresh-Passw0rd#1")})
		want{code: bridge.UnwillingToPerform, policy: bridge.PolicyErrorNone, diag: "INVALID_DATA"}.check(t, out)
	})
}

// basicPolicy is the Basic policy as the Password Policies page lists it
// (length 8 to 255, commonly used passwords excluded): a user's population
// may have another policy than the environment's default.
const basicPolicy = `{"_embedded":{"passwordPolicies":[{"id":"b","name":"Basic","default":true,"excludesCommonlyUsed":true,"length":{"min":8,"max":255}}]}}`

// Issue 12 item 4: PingOne names the unsatisfied requirement; a
// 14-character password that fails only a character-class rule is not
// reported as too short, and the validation details are PingOne's: the
// requirement it names is unsatisfied even when the environment's default
// policy (which the bridge reads) lacks it, and nothing else is.
func TestContractFourteenCharactersOnlyCharacterClass(t *testing.T) {
	f := loadFixture(t, "update-password-set-policy-error.json")
	var body map[string]any
	json.Unmarshal(f.Response, &body)
	body["details"].([]any)[0].(map[string]any)["innerError"] = map[string]any{"unsatisfiedRequirements": []string{"minCharacters"}}
	refusal, _ := json.Marshal(body)
	pw := "fourteenchars1" // 14 characters: lower case and a digit, no upper case, no special
	if len([]rune(pw)) != 14 {
		t.Fatal("not 14 characters")
	}
	for _, tc := range []struct {
		name, policy string
		diag         string
	}{
		{"the default policy has the rule", contractPolicy, "uppercase letter"},
		{"the default policy lacks the rule", basicPolicy, "lacks required kinds of characters"},
	} {
		for _, kind := range []bridge.ChangeKind{bridge.AdminReset, bridge.SelfChange} {
			t.Run(tc.name+"/"+kind.String(), func(t *testing.T) {
				ps := newPageServer(t, "8376797d-641c-4e7b-8bc1-2fdf71916cab")
				ps.policy = tc.policy
				ps.respond(http.StatusBadRequest, refusal)
				req := bridge.ChangeRequest{Target: eFuddDN, Kind: kind, Controls: allCtl, NewPassword: bridge.SecretString(pw)}
				if kind == bridge.SelfChange {
					req.OldPassword = bridge.SecretString("Old-Passw0rd!1")
				}
				out := ps.client().ChangePassword(context.Background(), req)
				want{code: bridge.ConstraintViolation, policy: bridge.InsufficientPasswordQuality, diag: tc.diag}.check(t, out)
				if strings.Contains(out.Diagnostic, "short") || strings.Contains(out.Diagnostic, "between 8") {
					t.Errorf("diagnostic %q speaks of the length", out.Diagnostic)
				}
				if out.Validation == nil {
					t.Fatal("no validation details")
				}
				unmet := 0
				for _, r := range out.Validation.Results {
					if !r.Satisfied {
						unmet++
					}
					switch d := r.Requirement.Description; {
					case r.Requirement.ValidationType == "length" && !r.Satisfied:
						t.Errorf("length reported unsatisfied")
					case (strings.Contains(d, "uppercase") || strings.Contains(d, "special")) && r.Satisfied:
						t.Errorf("%q reported satisfied", d)
					case (strings.Contains(d, "lowercase") || strings.Contains(d, "digit") || strings.Contains(d, "commonly")) && !r.Satisfied:
						t.Errorf("%q reported unsatisfied", d)
					}
				}
				if unmet == 0 {
					t.Errorf("validation details %+v: PingOne's unmet minCharacters is missing", out.Validation.Results)
				}
			})
		}
	}
}

// shapeOf lists a JSON value's key paths (arrays by element), with the
// leaf values of the keys in exact.
func shapeOf(v any, prefix string, exact map[string]bool, out map[string]any) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			shapeOf(e, prefix+"."+k, exact, out)
		}
	case []any:
		for _, e := range x {
			shapeOf(e, prefix+"[]", exact, out)
		}
	default:
		if exact[prefix] {
			out[prefix] = x
		} else {
			out[prefix] = nil
		}
	}
}

// sameShape compares a simulator answer with a documented one: the same
// fields, and the same values where the value is meaning (status, codes,
// messages) rather than an id, a link or a time.
func sameShape(t *testing.T, what string, doc, got []byte, exact []string, optional ...string) {
	t.Helper()
	var dv, gv any
	json.Unmarshal(doc, &dv)
	if err := json.Unmarshal(got, &gv); err != nil {
		t.Fatalf("%s: simulator answer %q: %v", what, got, err)
	}
	ex := map[string]bool{}
	for _, e := range exact {
		ex[e] = true
	}
	ds, gs := map[string]any{}, map[string]any{}
	shapeOf(dv, "", ex, ds)
	shapeOf(gv, "", ex, gs)
	for k, v := range ds {
		if strings.HasPrefix(k, "._links.") {
			continue // the pages' own link sets differ (password.check vs password.validate)
		}
		gvv, ok := gs[k]
		switch {
		case !ok && !slices.Contains(optional, k):
			t.Errorf("%s: the simulator lacks %s", what, k)
		case ok && !reflect.DeepEqual(v, gvv):
			t.Errorf("%s: %s is %v, the page says %v", what, k, gvv, v)
		}
	}
	for k := range gs {
		if _, ok := ds[k]; !ok && !strings.HasPrefix(k, "._links.") {
			t.Errorf("%s: the simulator adds %s, which the page does not show", what, k)
		}
	}
}

// The simulator answers the documented requests with the documented
// bodies.
func TestContractSimulator(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	id, err := e.sim.AddUser("eFudd", "Ab1!xyz@example.com", "Elmer-Passw0rd!")
	if err != nil {
		t.Fatal(err)
	}
	raw := func(method, path, mediaType string, body []byte) (int, []byte) {
		t.Helper()
		tok, err := e.c.tokens.get(ctx)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest(method, e.url+"/v1/environments/"+testEnv+path, strings.NewReader(string(body)))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", mediaType)
		return testkit.Do(t, req)
	}
	vars := map[string]string{"gatewayID": "gw-id", "userTypeID": "ut-id", "currentPassword": "Elmer-Passw0rd!", "newPassword": "Fresh-Passw0rd#1"}
	stateFields := []string{".status"}

	t.Run("token", func(t *testing.T) {
		f := loadFixture(t, "token-client-credentials.json")
		req, _ := http.NewRequest(http.MethodPost, e.url+"/"+testEnv+"/as/token", strings.NewReader("grant_type=client_credentials"))
		req.SetBasicAuth(testClient, testSecret)
		req.Header.Set("Content-Type", f.ContentType)
		status, b := testkit.Do(t, req)
		if status != f.Status {
			t.Fatalf("token: %d %s", status, b)
		}
		sameShape(t, f.Title, f.Response, b, []string{".token_type", ".expires_in"})
	})
	t.Run("self", func(t *testing.T) {
		f := loadFixture(t, "update-password-self.json")
		status, b := raw(f.Method, "/users/"+id+"/password", f.ContentType, substitute(f.Request, vars))
		if status != f.Status {
			t.Fatalf("%d %s", status, b)
		}
		sameShape(t, f.Title, f.Response, b, stateFields)
	})
	t.Run("set", func(t *testing.T) {
		f := loadFixture(t, "update-password-set.json")
		status, b := raw(f.Method, "/users/"+id+"/password", f.ContentType, substitute(f.Request, vars))
		if status != f.Status {
			t.Fatalf("%d %s", status, b)
		}
		sameShape(t, f.Title, f.Response, b, stateFields)
	})
	t.Run("set: the password import error", func(t *testing.T) {
		f := loadFixture(t, "update-password-set-policy-error.json")
		// A password that fails exactly the page's two requirements: too
		// short, and part of the user's email (profile data).
		status, b := raw(f.Method, "/users/"+id+"/password", f.ContentType, []byte(`{"value":"Ab1!xyz","forceChange":false}`))
		if status != f.Status {
			t.Fatalf("%d %s", status, b)
		}
		var got, doc map[string]any
		json.Unmarshal(b, &got)
		json.Unmarshal(f.Response, &doc)
		delete(got, "id")
		delete(doc, "id")
		for _, m := range []map[string]any{got, doc} {
			inner := m["details"].([]any)[0].(map[string]any)["innerError"].(map[string]any)
			reqs := inner["unsatisfiedRequirements"].([]any)
			slices.SortFunc(reqs, func(a, b any) int { return strings.Compare(a.(string), b.(string)) })
		}
		if !reflect.DeepEqual(got, doc) {
			t.Errorf("simulator\n%s\nthe page (%s)\n%s", b, f.Source, f.Response)
		}
	})
	t.Run("setGateway", func(t *testing.T) {
		f := loadFixture(t, "update-password-ldap-gateway.json")
		status, b := raw(f.Method, "/users/"+id+"/password", f.ContentType, substitute(f.Request, vars))
		if status != f.Status {
			t.Fatalf("%d %s", status, b)
		}
		// The example's status OK with a warning is the PING_ONE-authority
		// case; the simulator plays the LDAP authority (EXTERNAL, no
		// password: no lastChangedAt, no expiry warning), which the page's
		// note describes.
		sameShape(t, f.Title, f.Response, b, nil, ".warnings.expires", ".lastChangedAt", ".status")
		var st struct{ Status string }
		json.Unmarshal(b, &st)
		if st.Status != "EXTERNAL" {
			t.Errorf("status %s, the page's note says EXTERNAL for an LDAP authority", st.Status)
		}
	})
	t.Run("unset", func(t *testing.T) {
		f := loadFixture(t, "update-password-ldap-gateway-unset.json")
		status, b := raw(f.Method, "/users/"+id+"/password", f.ContentType, f.Request)
		var st struct{ Status string }
		json.Unmarshal(b, &st)
		if status != http.StatusOK || st.Status != "NO_PASSWORD" {
			t.Fatalf("%d %s", status, b)
		}
	})
	t.Run("top-level 400", func(t *testing.T) {
		f := loadFixture(t, "error-top-level.json")
		e.sim.SetFault(pingonesim.Fault{Target: pingonesim.TargetPassword, Status: 400, Times: 1})
		status, b := raw(http.MethodPost, "/users/"+id+"/password", mediaCheck, []byte(`{"password":"x"}`))
		if status != f.Status {
			t.Fatalf("%d %s", status, b)
		}
		sameShape(t, f.Title, f.Response, b, []string{".code", ".message"})
	})
}
