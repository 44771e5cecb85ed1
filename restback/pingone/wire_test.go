package pingone

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// recordedRequest is one request as a fake PingOne saw it.
type recordedRequest struct {
	method, path, rawQuery, contentType, auth, accept string
	body                                              []byte
}

// recorder is a fake PingOne that records every request and answers
// with a token, one user ("user-1") and a password state.
type recorder struct {
	mu   sync.Mutex
	reqs []recordedRequest
	srv  *httptest.Server
}

func newRecorder(t *testing.T) *recorder {
	rec := &recorder{}
	rec.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rec.mu.Lock()
		rec.reqs = append(rec.reqs, recordedRequest{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get("Content-Type"), r.Header.Get("Authorization"), r.Header.Get("Accept"), b})
		rec.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/as/token"):
			w.Write([]byte(`{"access_token":"tok-1","token_type":"Bearer","expires_in":3600}`))
		case strings.HasSuffix(r.URL.Path, "/users"):
			w.Write([]byte(`{"_embedded":{"users":[{"id":"user-1","username":"eFudd"}]},"count":1,"size":1}`))
		case strings.HasSuffix(r.URL.Path, "/passwordPolicies"):
			w.Write([]byte(`{"_embedded":{"passwordPolicies":[{"id":"p","name":"Standard","default":true,"length":{"min":8,"max":255},"minCharacters":{"0123456789":1}}]}}`))
		default:
			w.Write([]byte(`{"status":"OK"}`))
		}
	}))
	t.Cleanup(rec.srv.Close)
	return rec
}

func (rec *recorder) client(t *testing.T, method string) *Client {
	t.Helper()
	c, err := New(Config{
		EnvironmentID: testEnv, AuthURL: rec.srv.URL, APIURL: rec.srv.URL,
		ClientID: testClient, ClientSecret: bridge.SecretString(testSecret), AuthMethod: method,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// last returns the last request to the user's password resource.
func (rec *recorder) last(t *testing.T) recordedRequest {
	t.Helper()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for i := len(rec.reqs) - 1; i >= 0; i-- {
		if strings.HasSuffix(rec.reqs[i].path, "/password") {
			return rec.reqs[i]
		}
	}
	t.Fatal("no password request")
	return recordedRequest{}
}

func sameJSON(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("request body %q is not JSON: %v", got, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("body\n %s\nwant\n %s", got, want)
	}
}

const passwordPath = "/v1/environments/" + testEnv + "/users/user-1/password"

// The body of Ping's "Update Password (Set)" example, with its
// {SSHA512} value, forceChange and external.gateway.
const docSetBody = `{
    "value": "{SSHA512}UkGWfORubNKFpFBWh+Lgy4FrciclzUXneuryV+B+zBDR4Gqd5wvMqAvKRixgQWoZlZUgq8Wh40uMK3s6bWpzWt1/TqQH02hX",
    "forceChange": true,
        "external": {
            "gateway": {
                "id": "{{gatewayID}}",
                "correlationAttributes": {
                    "uid": "eFudd",
                    "mail": "eFudd@example.com"
            },
                "userType": {
                    "id": "{{userTypeID}}"
            }
        }
    }
}`

// The body of Ping's "Update Password (LDAP Gateway)" example.
const docGatewayBody = `{
    "id": "{{gatewayID}}",
    "userType": {
        "id": "{{userTypeID}}"
    },
    "correlationAttributes": {
        "uid": "eFudd",
        "mail": "eFudd@example.com"
    }
}`

var docGateway = bridge.Gateway{
	ID: "{{gatewayID}}", UserTypeID: "{{userTypeID}}",
	Correlation: map[string]string{"uid": "{uid}", "mail": "{uid}@example.com"},
}

const eFudd = "uid=eFudd,ou=people,dc=example,dc=com"

func TestWireRequests(t *testing.T) {
	rec := newRecorder(t)
	c := rec.client(t, "")
	ctx := context.Background()
	tests := []struct {
		name      string
		do        func() bridge.Outcome
		method    string
		mediaType string
		body      string
	}{
		{
			name: "check (bind)",
			do: func() bridge.Outcome {
				return c.Bind(ctx, bridge.BindRequest{DN: eFudd, Password: bridge.SecretString(`pa"ss\wörd`)})
			},
			method: http.MethodPost, mediaType: mediaCheck, body: `{"password":"pa\"ss\\wörd"}`,
		},
		{
			name: "self change (password.reset)",
			do: func() bridge.Outcome {
				return c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFudd, Kind: bridge.SelfChange,
					OldPassword: bridge.SecretString("{{currentPassword}}"), NewPassword: bridge.SecretString("{{newPassword}}")})
			},
			method: http.MethodPut, mediaType: mediaReset,
			body: `{"currentPassword": "{{currentPassword}}", "newPassword": "{{newPassword}}"}`,
		},
		{
			name: "admin set with external.gateway (password.set)",
			do: func() bridge.Outcome {
				return c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFudd, Kind: bridge.AdminReset,
					NewPassword: bridge.SecretString("{SSHA512}UkGWfORubNKFpFBWh+Lgy4FrciclzUXneuryV+B+zBDR4Gqd5wvMqAvKRixgQWoZlZUgq8Wh40uMK3s6bWpzWt1/TqQH02hX"),
					Route:       bridge.RouteOptions{ForceChange: true, Gateway: &docGateway}})
			},
			method: http.MethodPut, mediaType: mediaSet, body: docSetBody,
		},
		{
			name: "admin set without gateway, no bypassPolicy",
			do: func() bridge.Outcome {
				return c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFudd, Kind: bridge.AdminReset,
					NewPassword: bridge.SecretString("New-Passw0rd!")})
			},
			method: http.MethodPut, mediaType: mediaSet, body: `{"value":"New-Passw0rd!","forceChange":false}`,
		},
		{
			name: "admin set with bypassPolicy",
			do: func() bridge.Outcome {
				return c.ChangePassword(ctx, bridge.ChangeRequest{Target: eFudd, Kind: bridge.AdminReset,
					NewPassword: bridge.SecretString("New-Passw0rd!"), Route: bridge.RouteOptions{ForceChange: true, BypassPolicy: true}})
			},
			method: http.MethodPut, mediaType: mediaSet, body: `{"value":"New-Passw0rd!","forceChange":true,"bypassPolicy":true}`,
		},
		{
			name: "set gateway (password.setGateway)",
			do: func() bridge.Outcome {
				if err := c.SetGateway(ctx, eFudd, docGateway); err != nil {
					return err.(*Error).Outcome
				}
				return bridge.Outcome{Code: bridge.Success}
			},
			method: http.MethodPut, mediaType: mediaSetGateway, body: docGatewayBody,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if out := tc.do(); !out.OK() {
				t.Fatalf("%v %s", out.Code, out.Diagnostic)
			}
			r := rec.last(t)
			if r.method != tc.method || r.path != passwordPath || r.contentType != tc.mediaType {
				t.Errorf("%s %s (%s), want %s %s (%s)", r.method, r.path, r.contentType, tc.method, passwordPath, tc.mediaType)
			}
			if r.auth != "Bearer tok-1" || r.accept != "application/json" {
				t.Errorf("Authorization %q, Accept %q", r.auth, r.accept)
			}
			sameJSON(t, r.body, tc.body)
		})
	}

	// The search that found user-1, and the token request.
	rec.mu.Lock()
	defer rec.mu.Unlock()
	tok, search := rec.reqs[0], rec.reqs[1]
	if tok.method != http.MethodPost || tok.path != "/"+testEnv+"/as/token" || tok.contentType != "application/x-www-form-urlencoded" {
		t.Errorf("token request %s %s %s", tok.method, tok.path, tok.contentType)
	}
	if form, _ := url.ParseQuery(string(tok.body)); form.Get("grant_type") != "client_credentials" || form.Has("client_secret") {
		t.Errorf("token form %q", tok.body)
	}
	if tok.auth != "Basic "+base64.StdEncoding.EncodeToString([]byte(testClient+":"+testSecret)) {
		t.Errorf("token Authorization %q", tok.auth)
	}
	q, _ := url.ParseQuery(search.rawQuery)
	if search.method != http.MethodGet || search.path != "/v1/environments/"+testEnv+"/users" || q.Get("filter") != `username eq "eFudd"` {
		t.Errorf("search %s %s ?%s", search.method, search.path, search.rawQuery)
	}
	for _, r := range rec.reqs[1:] {
		if strings.HasSuffix(r.path, "/as/token") {
			t.Error("a second token request")
		}
	}
}

func TestWireClientSecretPost(t *testing.T) {
	rec := newRecorder(t)
	c := rec.client(t, "client_secret_post")
	c.Bind(context.Background(), bridge.BindRequest{DN: eFudd, Password: bridge.SecretString("x")})
	rec.mu.Lock()
	defer rec.mu.Unlock()
	tok := rec.reqs[0]
	form, _ := url.ParseQuery(string(tok.body))
	if tok.auth != "" || form.Get("client_id") != testClient || form.Get("client_secret") != testSecret || form.Get("grant_type") != "client_credentials" {
		t.Errorf("client_secret_post: Authorization %q, form %v", tok.auth, form)
	}
}

// A generated password is sent, and returned, as one and the same.
func TestWireGeneratedPassword(t *testing.T) {
	rec := newRecorder(t)
	c := rec.client(t, "")
	out := c.ChangePassword(context.Background(), bridge.ChangeRequest{Target: eFudd, Kind: bridge.AdminReset})
	if !out.OK() || out.GeneratedPassword.IsZero() {
		t.Fatalf("%v %s, generated %d bytes", out.Code, out.Diagnostic, out.GeneratedPassword.Len())
	}
	var body struct{ Value string }
	json.Unmarshal(rec.last(t).body, &body)
	if body.Value != out.GeneratedPassword.Reveal() {
		t.Error("the generated password returned is not the one sent")
	}
}
