package pingonesim

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"golang.org/x/crypto/bcrypt"
)

const (
	envID    = "0f2a4b6c-1111-4222-8333-944455556666"
	clientID = "worker-app"
	secret   = "worker-s3cret"
)

func newClock() *testkit.Clock { return testkit.NewClock(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) }

type fixture struct {
	t     *testing.T
	s     *Server
	url   string
	clk   *testkit.Clock
	tok   string
	alice string // user ids
	bob   string
}

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	clk := newClock()
	cfg.EnvironmentID, cfg.ClientID, cfg.ClientSecret = envID, clientID, secret
	if cfg.Now == nil {
		cfg.Now = clk.Now
	}
	s := New(cfg)
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	f := &fixture{t: t, s: s, url: u, clk: clk}
	if f.alice, err = s.AddUser("alice", "alice@example.com", "Alice-Passw0rd!"); err != nil {
		t.Fatal(err)
	}
	if f.bob, err = s.AddUser("bob", "bob@example.com", "Bob-Passw0rd!9"); err != nil {
		t.Fatal(err)
	}
	status, body, _ := f.token("basic", clientID, secret)
	if status != http.StatusOK {
		t.Fatalf("token: %d %v", status, body)
	}
	f.tok = body["access_token"].(string)
	return f
}

// advance moves the clock and takes a fresh token, the old one having
// possibly expired.
func (f *fixture) advance(d time.Duration) {
	f.t.Helper()
	f.clk.Advance(d)
	_, body, _ := f.token("basic", clientID, secret)
	f.tok = body["access_token"].(string)
}

func (f *fixture) token(method, id, sec string) (int, map[string]any, http.Header) {
	f.t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if method == "post" {
		form.Set("client_id", id)
		form.Set("client_secret", sec)
	}
	req, _ := http.NewRequest(http.MethodPost, f.url+"/"+envID+"/as/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if method == "basic" {
		req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(sec))
	}
	return f.send(req)
}

func (f *fixture) send(req *http.Request) (int, map[string]any, http.Header) {
	f.t.Helper()
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var m map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &m); err != nil {
			f.t.Fatalf("%s %s: body %q is not JSON: %v", req.Method, req.URL.Path, b, err)
		}
	}
	return res.StatusCode, m, res.Header
}

// api calls /v1/environments/{envID}+path.
func (f *fixture) api(method, path, mediaType string, body any) (int, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, f.url+"/v1/environments/"+envID+path, rd)
	req.Header.Set("Authorization", "Bearer "+f.tok)
	if mediaType != "" {
		req.Header.Set("Content-Type", mediaType)
	}
	status, m, _ := f.send(req)
	return status, m
}

func (f *fixture) check(id, pw string) (int, map[string]any) {
	return f.api(http.MethodPost, "/users/"+id+"/password", MediaCheck, map[string]string{"password": pw})
}

func (f *fixture) status(id string) string {
	f.t.Helper()
	st, err := f.s.UserState(id)
	if err != nil {
		f.t.Fatal(err)
	}
	return st.Status
}

// detail returns details[0] of an error body.
func detail(t *testing.T, body map[string]any) map[string]any {
	t.Helper()
	ds, _ := body["details"].([]any)
	if len(ds) == 0 {
		t.Fatalf("no details in %v", body)
	}
	return ds[0].(map[string]any)
}

func unmet(t *testing.T, body map[string]any) []string {
	t.Helper()
	inner, _ := detail(t, body)["innerError"].(map[string]any)
	var out []string
	for _, u := range inner["unsatisfiedRequirements"].([]any) {
		out = append(out, u.(string))
	}
	return out
}

func TestTokenEndpoint(t *testing.T) {
	f := newFixture(t, Config{})
	grants := f.s.TokenGrants()
	tests := []struct {
		name, method, id, secret string
		status                   int
		errCode                  string
	}{
		{"basic", "basic", clientID, secret, 200, ""},
		{"post", "post", clientID, secret, 200, ""},
		{"bad secret basic", "basic", clientID, "wrong", 401, "invalid_client"},
		{"bad secret post", "post", clientID, "wrong", 401, "invalid_client"},
		{"unknown client", "post", "other", secret, 401, "invalid_client"},
		{"no credentials", "none", "", "", 401, "invalid_client"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body, h := f.token(tc.method, tc.id, tc.secret)
			if status != tc.status {
				t.Fatalf("status %d, want %d (%v)", status, tc.status, body)
			}
			if tc.status == 200 {
				if body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) || body["access_token"] == "" {
					t.Errorf("token body %v", body)
				}
				return
			}
			if body["error"] != tc.errCode {
				t.Errorf("error %v, want %s", body["error"], tc.errCode)
			}
			if strings.Contains(h.Get("WWW-Authenticate"), "Basic") != (status == 401) {
				t.Errorf("WWW-Authenticate %q", h.Get("WWW-Authenticate"))
			}
		})
	}
	if got := f.s.TokenGrants() - grants; got != 2 {
		t.Errorf("TokenGrants grew by %d, want 2", got)
	}

	// Wrong grant type and media type.
	req, _ := http.NewRequest(http.MethodPost, f.url+"/"+envID+"/as/token", strings.NewReader("grant_type=password"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, secret)
	if status, body, _ := f.send(req); status != 400 || body["error"] != "unsupported_grant_type" {
		t.Errorf("grant_type=password: %d %v", status, body)
	}
	req, _ = http.NewRequest(http.MethodPost, f.url+"/"+envID+"/as/token", strings.NewReader(`{"grant_type":"client_credentials"}`))
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(clientID, secret)
	if status, _, _ := f.send(req); status != 400 {
		t.Errorf("JSON token request: %d, want 400", status)
	}
}

func TestTokenExpiryAndRevocation(t *testing.T) {
	f := newFixture(t, Config{TokenTTL: time.Minute})
	if status, _ := f.api(http.MethodGet, "/passwordPolicies", "", nil); status != 200 {
		t.Fatalf("fresh token: %d", status)
	}
	f.clk.Advance(time.Minute)
	status, body := f.api(http.MethodGet, "/passwordPolicies", "", nil)
	if status != 401 || body["code"] != "ACCESS_FAILED" {
		t.Fatalf("expired token: %d %v", status, body)
	}
	_, tb, _ := f.token("basic", clientID, secret)
	f.tok = tb["access_token"].(string)
	if status, _ := f.api(http.MethodGet, "/passwordPolicies", "", nil); status != 200 {
		t.Fatalf("new token: %d", status)
	}
	f.s.RevokeTokens()
	if status, _ := f.api(http.MethodGet, "/passwordPolicies", "", nil); status != 401 {
		t.Fatalf("revoked token: %d", status)
	}
	f.tok = ""
	if status, _ := f.api(http.MethodGet, "/passwordPolicies", "", nil); status != 401 {
		t.Fatalf("no token: %d", status)
	}
}

func TestUserSearch(t *testing.T) {
	f := newFixture(t, Config{})
	search := func(filter string) (int, []string) {
		status, body := f.api(http.MethodGet, "/users?filter="+url.QueryEscape(filter), "", nil)
		if status != 200 {
			return status, nil
		}
		var names []string
		for _, u := range body["_embedded"].(map[string]any)["users"].([]any) {
			names = append(names, u.(map[string]any)["username"].(string))
		}
		return status, names
	}
	tests := []struct {
		filter string
		want   []string
	}{
		{`username eq "alice"`, []string{"alice"}},
		{`username eq "Alice"`, []string{"alice"}},
		{`email eq "bob@example.com"`, []string{"bob"}},
		{`username eq "alice" or username eq "bob"`, []string{"alice", "bob"}},
		// Injection attempts, correctly escaped, are plain values.
		{`username eq "alice\" or username eq \"bob"`, nil},
		{`username eq "alice)"`, nil},
		{`username eq "*"`, nil},
		{`username eq "ali*"`, nil},
		{`username eq "\\"`, nil},
		{`username eq "x or username eq bob"`, nil},
	}
	for _, tc := range tests {
		status, got := search(tc.filter)
		if status != 200 || !slices.Equal(got, tc.want) {
			t.Errorf("filter %q: %d %v, want %v", tc.filter, status, got, tc.want)
		}
	}
	status, body := f.api(http.MethodGet, "/users?filter="+url.QueryEscape(`username eq alice`), "", nil)
	if status != 400 || body["code"] != "INVALID_REQUEST" || detail(t, body)["code"] != "INVALID_FILTER" {
		t.Errorf("bad filter: %d %v", status, body)
	}
	if status, body := f.api(http.MethodGet, "/users/"+f.alice, "", nil); status != 200 || body["username"] != "alice" {
		t.Errorf("read user: %d %v", status, body)
	}
	if status, body := f.api(http.MethodGet, "/users/nope", "", nil); status != 404 || body["code"] != "NOT_FOUND" || body["id"] == "" {
		t.Errorf("unknown user: %d %v", status, body)
	}
}

func TestMediaTypes(t *testing.T) {
	f := newFixture(t, Config{})
	pw := "/users/" + f.alice + "/password"
	for _, tc := range []struct{ method, mt string }{
		{http.MethodPost, "application/json"},
		{http.MethodPost, MediaReset},
		{http.MethodPut, MediaCheck},
		{http.MethodPut, "application/json"},
		{http.MethodPut, ""},
	} {
		status, body := f.api(tc.method, pw, tc.mt, map[string]string{"password": "x"})
		if status != http.StatusUnsupportedMediaType || body["code"] == nil {
			t.Errorf("%s with %q: %d %v, want 415", tc.method, tc.mt, status, body)
		}
	}
	// Parameters on the media type are fine; unknown fields are not.
	if status, _ := f.api(http.MethodPost, pw, MediaCheck+"; charset=UTF-8", map[string]string{"password": "Alice-Passw0rd!"}); status != 200 {
		t.Errorf("check with charset: %d", status)
	}
	if status, _ := f.api(http.MethodPost, pw, MediaCheck, map[string]string{"password": "Alice-Passw0rd!", "extra": "1"}); status != 400 {
		t.Errorf("unknown field: %d, want 400", status)
	}
	if status, _ := f.api(http.MethodDelete, pw, "", nil); status != 405 {
		t.Errorf("DELETE: %d, want 405", status)
	}
}

func TestCheckAndLockout(t *testing.T) {
	f := newFixture(t, Config{})
	status, body := f.check(f.alice, "Alice-Passw0rd!")
	if status != 200 || body["status"] != "OK" || body["user"].(map[string]any)["id"] != f.alice {
		t.Fatalf("right password: %d %v", status, body)
	}
	for want := 4; want >= 0; want-- {
		status, body := f.check(f.alice, "wrong")
		d := detail(t, body)
		inner, _ := d["innerError"].(map[string]any)
		if status != 400 || body["code"] != "INVALID_DATA" || d["code"] != "INVALID_VALUE" || d["target"] != "password" || inner["failuresRemaining"] != float64(want) {
			t.Fatalf("wrong password, %d left: %d %v", want, status, body)
		}
	}
	status, body = f.check(f.alice, "Alice-Passw0rd!")
	if d := detail(t, body); status != 400 || d["code"] != "PASSWORD_LOCKED_OUT" {
		t.Fatalf("locked: %d %v", status, body)
	}
	if st := f.status(f.alice); st != statusLockedOut {
		t.Fatalf("status %s", st)
	}
	f.advance(900 * time.Second)
	if status, body := f.check(f.alice, "Alice-Passw0rd!"); status != 200 || body["status"] != "OK" {
		t.Fatalf("after lockout: %d %v", status, body)
	}
	// A success resets the count.
	f.check(f.alice, "wrong")
	f.check(f.alice, "Alice-Passw0rd!")
	if _, body := f.check(f.alice, "wrong"); detail(t, body)["innerError"].(map[string]any)["failuresRemaining"] != float64(4) {
		t.Errorf("failures not reset by a success: %v", body)
	}
	if status, body := f.check(f.alice, ""); status != 400 || detail(t, body)["code"] != "REQUIRED_VALUE" {
		t.Errorf("empty password: %d %v", status, body)
	}
}

// The Standard policy's verdicts on the demo's passwords.
func TestStandardPolicy(t *testing.T) {
	f := newFixture(t, Config{})
	set := func(id, value string) (int, map[string]any) {
		return f.api(http.MethodPut, "/users/"+id+"/password", MediaSet, map[string]any{"value": value, "forceChange": false})
	}
	if status, body := set(f.alice, "Sh0rt!"); status != 400 || !slices.Equal(unmet(t, body), []string{"length"}) {
		t.Errorf("Sh0rt!: %d %v", status, body)
	} else if d := detail(t, body); d["code"] != "INVALID_VALUE" || d["target"] != "value" {
		t.Errorf("Sh0rt! detail %v", d)
	}
	if status, body := set(f.alice, "alllowercase"); status != 400 || !slices.Equal(unmet(t, body), []string{"minCharacters", "maxRepeatedCharacters"}) {
		t.Errorf("alllowercase: %d %v", status, body)
	}
	if status, body := set(f.alice, "Password1!"); status != 400 || !slices.Equal(unmet(t, body), []string{"excludesCommonlyUsed"}) {
		t.Errorf("Password1!: %d %v", status, body)
	}
	if status, body := set(f.alice, "Alice"); status != 400 || !slices.Contains(unmet(t, body), "excludesProfileData") {
		t.Errorf("Alice: %d %v", status, body)
	}
	if status, body := set(f.alice, "Aa1!Aa1!Aa1!"); status != 400 || !slices.Equal(unmet(t, body), []string{"minUniqueCharacters"}) {
		t.Errorf("Aa1!Aa1!Aa1!: %d %v", status, body)
	}
	// alice's own password is acceptable to the policy except that it is current.
	if status, body := set(f.alice, "Alice-Passw0rd!"); status != 400 || !slices.Equal(unmet(t, body), []string{"history"}) {
		t.Errorf("current password: %d %v", status, body)
	}
	if status, body := set(f.bob, "Alice-Passw0rd!"); status != 200 || body["status"] != "OK" {
		t.Errorf("Alice-Passw0rd! for bob: %d %v", status, body)
	}
	// A previous password is refused for history only.
	if status, _ := set(f.alice, "Second-Passw0rd#"); status != 200 {
		t.Fatalf("second password: %d", status)
	}
	if status, body := set(f.alice, "Alice-Passw0rd!"); status != 400 || !slices.Equal(unmet(t, body), []string{"history"}) {
		t.Errorf("previous password: %d %v", status, body)
	}
	status, body := f.api(http.MethodGet, "/passwordPolicies", "", nil)
	if status != 200 {
		t.Fatalf("policies: %d", status)
	}
	var std map[string]any
	for _, p := range body["_embedded"].(map[string]any)["passwordPolicies"].([]any) {
		if p.(map[string]any)["default"] == true {
			std = p.(map[string]any)
		}
	}
	want := map[string]any{
		"name": "Standard", "excludesProfileData": true, "notSimilarToCurrent": true, "excludesCommonlyUsed": true,
		"maxAgeDays": float64(182), "maxRepeatedCharacters": float64(2), "minUniqueCharacters": float64(5),
	}
	for k, v := range want {
		if std[k] != v {
			t.Errorf("Standard %s = %v, want %v", k, std[k], v)
		}
	}
	nested := map[string]map[string]any{
		"length":        {"min": float64(8), "max": float64(255)},
		"history":       {"count": float64(6), "retentionDays": float64(365)},
		"lockout":       {"failureCount": float64(5), "durationSeconds": float64(900)},
		"minCharacters": {setUpper: float64(1), setLower: float64(1), setDigits: float64(1), setSpecial: float64(1)},
	}
	for k, want := range nested {
		got, _ := std[k].(map[string]any)
		if len(got) != len(want) {
			t.Errorf("Standard %s = %v, want %v", k, got, want)
		}
		for kk, v := range want {
			if got[kk] != v {
				t.Errorf("Standard %s.%s = %v, want %v", k, kk, got[kk], v)
			}
		}
	}
	if _, ok := std["minAgeDays"]; ok {
		t.Errorf("minAgeDays present with MinAge 0: %v", std["minAgeDays"])
	}
	if status, one := f.api(http.MethodGet, "/passwordPolicies/"+std["id"].(string), "", nil); status != 200 || one["name"] != "Standard" {
		t.Errorf("read policy: %d %v", status, one)
	}
}

func TestSelfChange(t *testing.T) {
	f := newFixture(t, Config{MinAge: 24 * time.Hour})
	pw := "/users/" + f.alice + "/password"
	reset := func(cur, nw string) (int, map[string]any) {
		return f.api(http.MethodPut, pw, MediaReset, map[string]string{"currentPassword": cur, "newPassword": nw})
	}
	// Too young: alice's password was set at creation.
	if status, body := reset("Alice-Passw0rd!", "Brand-New-Passw0rd"); status != 400 || !slices.Equal(unmet(t, body), []string{"minAgeDays"}) {
		t.Fatalf("too young: %d %v", status, body)
	}
	f.advance(24 * time.Hour)
	if status, body := reset("wrong", "Brand-New-Passw0rd"); status != 400 || detail(t, body)["target"] != "currentPassword" {
		t.Errorf("wrong current: %d %v", status, body)
	}
	if status, body := reset("Alice-Passw0rd!", "Alice-Passw0rd!2"); status != 400 || !slices.Equal(unmet(t, body), []string{"notSimilarToCurrent"}) {
		t.Errorf("similar: %d %v", status, body)
	}
	if status, body := reset("Alice-Passw0rd!", "Alice-Passw0rd!"); status != 400 || !slices.Equal(unmet(t, body), []string{"notSimilarToCurrent", "history"}) {
		t.Errorf("same: %d %v", status, body)
	}
	if status, body := f.api(http.MethodPut, pw, MediaReset, map[string]string{"newPassword": "Brand-New-Passw0rd"}); status != 400 || detail(t, body)["target"] != "currentPassword" {
		t.Errorf("no current: %d %v", status, body)
	}
	if status, body := reset("Alice-Passw0rd!", "Brand-New-Passw0rd"); status != 200 || body["status"] != "OK" {
		t.Fatalf("change: %d %v", status, body)
	}
	if status, _ := f.check(f.alice, "Brand-New-Passw0rd"); status != 200 {
		t.Errorf("new password does not check")
	}
	if status, _ := f.check(f.alice, "Alice-Passw0rd!"); status != 400 {
		t.Errorf("old password still checks")
	}
}

func TestForcedResetAndGateway(t *testing.T) {
	f := newFixture(t, Config{})
	pw := "/users/" + f.alice + "/password"
	status, body := f.api(http.MethodPut, pw, MediaSet, map[string]any{"value": "Reset-By-Adm1n", "forceChange": true})
	if status != 200 || body["status"] != statusMustChange {
		t.Fatalf("forced set: %d %v", status, body)
	}
	if status, body := f.check(f.alice, "Reset-By-Adm1n"); status != 200 || body["status"] != statusMustChange {
		t.Errorf("check after forced set: %d %v", status, body)
	}
	status, body = f.api(http.MethodPut, pw, MediaReset, map[string]string{"currentPassword": "Reset-By-Adm1n", "newPassword": "Users-Own-Passw0rd"})
	if status != 200 || body["status"] != statusOK {
		t.Errorf("change after forced set: %d %v", status, body)
	}

	gw := map[string]any{"id": "gw-1", "userType": map[string]string{"id": "ut-1"}, "correlationAttributes": map[string]string{"uid": "alice"}}
	if status, body := f.api(http.MethodPut, pw, MediaSetGateway, gw); status != 200 || body["status"] != statusExternal {
		t.Fatalf("setGateway: %d %v", status, body)
	}
	st, _ := f.s.UserState(f.alice)
	if st.Gateway != "gw-1" || st.GatewayUserType != "ut-1" || st.CorrelationAttributes["uid"] != "alice" {
		t.Errorf("state after setGateway: %+v", st)
	}
	if status, body := f.check(f.alice, "Users-Own-Passw0rd"); status != 400 || body["code"] != "REQUEST_FAILED" {
		t.Errorf("check of EXTERNAL: %d %v", status, body)
	}
	if status, body := f.api(http.MethodPut, pw, MediaSetGateway, map[string]any{"id": "gw-1"}); status != 400 || detail(t, body)["code"] != "REQUIRED_VALUE" {
		t.Errorf("gateway without user type: %d %v", status, body)
	}
	if status, body := f.api(http.MethodPut, pw, MediaSetGateway, map[string]any{}); status != 200 || body["status"] != statusNoPassword {
		t.Errorf("setGateway {}: %d %v", status, body)
	}

	// password.set with external.gateway and a pre-encoded value.
	salt := []byte("saltsalt")
	h := sha512.Sum512(append([]byte("Encoded-Passw0rd"), salt...))
	enc := "{SSHA512}" + base64.StdEncoding.EncodeToString(append(h[:], salt...))
	status, body = f.api(http.MethodPut, "/users/"+f.bob+"/password", MediaSet, map[string]any{
		"value": enc, "forceChange": false,
		"external": map[string]any{"gateway": map[string]any{"id": "gw-2", "userType": map[string]string{"id": "ut-2"}, "correlationAttributes": map[string]string{"uid": "bob"}}},
	})
	if status != 200 || body["status"] != statusOK {
		t.Fatalf("pre-encoded set: %d %v", status, body)
	}
	st, _ = f.s.UserState(f.bob)
	if st.Encoded != enc || st.Gateway != "gw-2" {
		t.Errorf("bob's state: %+v", st)
	}
	if status, _ := f.check(f.bob, "Encoded-Passw0rd"); status != 200 {
		t.Errorf("pre-encoded password does not check")
	}
	bc, _ := bcrypt.GenerateFromPassword([]byte("Bcrypt-Passw0rd"), bcrypt.MinCost)
	f.api(http.MethodPut, "/users/"+f.bob+"/password", MediaSet, map[string]any{"value": "{BCRYPT}" + string(bc)})
	if status, _ := f.check(f.bob, "Bcrypt-Passw0rd"); status != 200 {
		t.Errorf("bcrypt password does not check")
	}
	// bypassPolicy lets a weak cleartext value through.
	if status, _ := f.api(http.MethodPut, "/users/"+f.bob+"/password", MediaSet, map[string]any{"value": "weak", "bypassPolicy": true}); status != 200 {
		t.Errorf("bypassPolicy: %d", status)
	}
}

func TestExpiry(t *testing.T) {
	f := newFixture(t, Config{})
	f.advance(170 * 24 * time.Hour)
	status, body := f.check(f.alice, "Alice-Passw0rd!")
	w, _ := body["warnings"].(map[string]any)
	want := newClock().Now().Add(182 * 24 * time.Hour).Format(timeFormat)
	if status != 200 || body["status"] != statusOK || w["expires"] != want {
		t.Errorf("near expiry: %d %v, want warnings.expires %s", status, body, want)
	}
	f.advance(12 * 24 * time.Hour)
	if status, body := f.check(f.alice, "Alice-Passw0rd!"); status != 200 || body["status"] != statusExpired {
		t.Errorf("expired: %d %v", status, body)
	}
}

func TestFaults(t *testing.T) {
	f := newFixture(t, Config{})
	before := f.s.Requests()
	f.s.SetFault(Fault{Status: 429, RetryAfter: 1500 * time.Millisecond, Times: 2})
	for i := 0; i < 2; i++ {
		req, _ := http.NewRequest(http.MethodGet, f.url+"/v1/environments/"+envID+"/passwordPolicies", nil)
		req.Header.Set("Authorization", "Bearer "+f.tok)
		status, body, h := f.send(req)
		if status != 429 || body["code"] != "REQUEST_LIMITED" || h.Get("Retry-After") != "2" {
			t.Fatalf("429 fault: %d %v %q", status, body, h.Get("Retry-After"))
		}
	}
	if status, _ := f.api(http.MethodGet, "/passwordPolicies", "", nil); status != 200 {
		t.Errorf("fault outlived Times: %d", status)
	}
	if got := f.s.Requests() - before; got != 3 {
		t.Errorf("Requests grew by %d, want 3", got)
	}

	f.s.SetFault(Fault{Target: TargetPassword, Status: 503})
	if status, body := f.check(f.alice, "Alice-Passw0rd!"); status != 503 || body["code"] != "UNEXPECTED_ERROR" {
		t.Errorf("503 on password: %d %v", status, body)
	}
	if status, _ := f.api(http.MethodGet, "/users/"+f.alice, "", nil); status != 200 {
		t.Errorf("password fault hit a user read: %d", status)
	}
	f.s.SetFault(Fault{Target: TargetToken, Status: 500})
	if status, body, _ := f.token("basic", clientID, secret); status != 500 || body["error"] != "server_error" {
		t.Errorf("token fault: %d %v", status, body)
	}
	f.s.SetFault(Fault{})

	// A hang holds the request until the client gives up.
	f.s.SetFault(Fault{Hang: true})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, f.url+"/v1/environments/"+envID+"/passwordPolicies", nil)
	req.Header.Set("Authorization", "Bearer "+f.tok)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hang: %v, want a deadline error", err)
	}
	f.s.SetFault(Fault{})

	// Latency delays requests; a client with a short deadline sees it.
	f.s.SetLatency(time.Minute, 0)
	ctx2, cancel2 := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel2()
	req, _ = http.NewRequestWithContext(ctx2, http.MethodGet, f.url+"/v1/environments/"+envID+"/passwordPolicies", nil)
	req.Header.Set("Authorization", "Bearer "+f.tok)
	if _, err := http.DefaultClient.Do(req); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("latency: %v, want a deadline error", err)
	}
	f.s.SetLatency(0, 0)
}

func TestCloseReleasesHangingRequests(t *testing.T) {
	f := newFixture(t, Config{})
	f.s.SetFault(Fault{Hang: true})
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, f.url+"/v1/environments/"+envID+"/passwordPolicies", nil)
		req.Header.Set("Authorization", "Bearer "+f.tok)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	for f.s.Requests() == 0 {
		time.Sleep(time.Millisecond)
	}
	if err := f.s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err == nil {
		t.Error("hanging request got an answer after Close")
	}
}

func TestAddUser(t *testing.T) {
	s := New(Config{EnvironmentID: envID})
	if _, err := s.AddUser("", "x@example.com", "pw"); err == nil {
		t.Error("empty username accepted")
	}
	id, err := s.AddUser("carol", "", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.AddUser("CAROL", "", ""); err == nil {
		t.Error("duplicate username accepted")
	}
	if st, _ := s.UserState(id); st.Status != statusNoPassword {
		t.Errorf("user without password: %s", st.Status)
	}
	if err := s.DeleteUser(id); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UserState(id); err == nil {
		t.Error("deleted user still has a state")
	}
	if err := s.DeleteUser(id); err == nil {
		t.Error("deleting twice succeeded")
	}
}

func TestEncodedSchemes(t *testing.T) {
	salt := make([]byte, 8)
	rand.Read(salt)
	h := sha512.Sum512(append([]byte("pw"), salt...))
	good := "{SSHA512}" + base64.StdEncoding.EncodeToString(append(h[:], salt...))
	tests := []struct {
		enc, pw string
		want    bool
	}{
		{good, "pw", true},
		{good, "px", false},
		{"{SSHA512}!!notbase64", "pw", false},
		{"{SHA}" + base64.StdEncoding.EncodeToString(sha1Sum("pw")), "pw", true},
		{"{PBKDF2}whatever", "pw", false},
	}
	for _, tc := range tests {
		if got := verifyEncoded(tc.enc, tc.pw); got != tc.want {
			t.Errorf("verifyEncoded(%q, %q) = %v", tc.enc, tc.pw, got)
		}
	}
	if encodedScheme("{notascheme}x") != "" || encodedScheme("{SSHA}") != "" || encodedScheme("{ssha}abc") != "{SSHA}" {
		t.Error("encodedScheme misclassifies")
	}
}

// FuzzDecodeRequest: the request body decoders never panic, and whatever
// they accept re-encodes to JSON they accept again.
func FuzzDecodeRequest(f *testing.F) {
	f.Add(MediaCheck, []byte(`{"password":"x"}`))
	f.Add(MediaReset, []byte(`{"currentPassword":"a","newPassword":"b"}`))
	f.Add(MediaSet, []byte(`{"value":"{SSHA512}abc","forceChange":true,"external":{"gateway":{"id":"g","userType":{"id":"u"},"correlationAttributes":{"uid":"x"}}}}`))
	f.Add(MediaSetGateway, []byte(`{}`))
	f.Add(MediaSetGateway, []byte(`{"id":"g"} trailing`))
	f.Fuzz(func(t *testing.T, mt string, body []byte) {
		_ = DecodeRequest(mt, body)
	})
}

func sha1Sum(s string) []byte {
	h := sha1.Sum([]byte(s))
	return h[:]
}
