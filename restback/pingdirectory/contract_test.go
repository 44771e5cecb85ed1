package pingdirectory

// Contract tests from Ping's Directory REST API pages: the examples in
// testdata/contract (each with its page's URL) are what the client must
// send and understand, and what the simulator must answer.

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
)

type pdFixture struct {
	Title              string          `json:"title"`
	Source             string          `json:"source"`
	Method             string          `json:"method"`
	Path               string          `json:"path"`
	ContentType        string          `json:"contentType"`
	Request            json.RawMessage `json:"request"`
	Status             int             `json:"status"`
	Response           json.RawMessage `json:"response"`
	BasicSample        string          `json:"basicSample"`
	BasicSampleDecoded string          `json:"basicSampleDecoded"`
}

func loadPDFixture(t *testing.T, name string) pdFixture {
	t.Helper()
	return testkit.LoadExample[pdFixture](t, name)
}

type pdCaptured struct {
	method, rawPath, contentType, auth string
	body                               []byte
}

// pageDirectory answers every request with one documented answer and
// records what it was sent.
func pageDirectory(t *testing.T, status int, body []byte) (*httptest.Server, func() pdCaptured) {
	t.Helper()
	var mu sync.Mutex
	var last *pdCaptured
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		last = &pdCaptured{r.Method, r.URL.EscapedPath(), r.Header.Get("Content-Type"), r.Header.Get("Authorization"), b}
		mu.Unlock()
		w.Header().Set("Content-Type", "application/hal+json")
		w.WriteHeader(status)
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv, func() pdCaptured {
		t.Helper()
		mu.Lock()
		defer mu.Unlock()
		if last == nil {
			t.Fatal("no request reached the page server")
		}
		return *last
	}
}

const jimbobDN = "uid=jimbob,ou=People,dc=example,dc=com"

// The Password Modify page's request, and its 200 answer fed back.
func TestContractPasswordModify(t *testing.T) {
	f := loadPDFixture(t, "password-modify.json")
	srv, last := pageDirectory(t, f.Status, f.Response)
	c, _ := newClient(t, srv.URL, nil)
	var doc struct{ OldPassword, NewPassword string }
	json.Unmarshal(f.Request, &doc)
	out := selfChange(c, jimbobDN, doc.OldPassword, doc.OldPassword, doc.NewPassword)

	got := last()
	wantPath := strings.Replace(f.Path, "{{dn}}", jimbobDN, 1)
	if got.method != f.Method || got.rawPath != wantPath {
		t.Errorf("sent %s %s, the page says %s %s", got.method, got.rawPath, f.Method, wantPath)
	}
	if got.contentType != f.ContentType {
		t.Errorf("Content-Type %q, the page says %q", got.contentType, f.ContentType)
	}
	if !strings.HasPrefix(got.auth, "Basic ") && !strings.HasPrefix(got.auth, "Bearer ") {
		t.Errorf("Authorization %q: neither of the two documented types", got.auth)
	}
	if !testkit.JSONEqual(t, got.body, f.Request) {
		t.Errorf("body\n%s\nthe page (%s) prints\n%s", got.body, f.Source, f.Request)
	}

	if out.Code != bridge.Success || out.Policy != nil || !out.GeneratedPassword.IsZero() {
		t.Fatalf("documented 200: %v %q %+v", out.Code, out.Diagnostic, out.Policy)
	}
	v := out.Validation
	if v == nil || v.ResponseType != bridge.ValidationPerformed || v.MustChangePassword || v.MissingCurrentPassword || len(v.Results) != 1 {
		t.Fatalf("validation details %+v", v)
	}
	if r := v.Results[0]; !r.Satisfied || r.Requirement.ValidationType != "not-current-password" ||
		r.Requirement.Description != "The new password must not be the same as the current password." {
		t.Errorf("result %+v", r)
	}
}

// The Getting Started page's Basic sample is what the client sends for
// that user and password (on GET /directory/v1/me, Get Current User).
func TestContractBasicAuthentication(t *testing.T) {
	f := loadPDFixture(t, "authentication.json")
	srv, last := pageDirectory(t, http.StatusOK, []byte(`{"_dn":"uid=user.0,ou=people,dc=example,dc=com"}`))
	c, _ := newClient(t, srv.URL, nil)
	dn, pw, _ := strings.Cut(f.BasicSampleDecoded, ":")
	if out := bind(c, dn, pw, false); out.Code != bridge.Success {
		t.Fatalf("bind: %v %s", out.Code, out.Diagnostic)
	}
	got := last()
	if want := strings.TrimPrefix(f.BasicSample, "Authorization: "); got.auth != want {
		t.Errorf("Authorization %q, the page's sample is %q", got.auth, want)
	}
	if got.method != http.MethodGet || got.rawPath != "/directory/v1/me" {
		t.Errorf("sent %s %s, Get Current User is GET /directory/v1/me", got.method, got.rawPath)
	}
}

// The simulator answers the Password Modify page's request, sent with a
// bearer token as the page sends it, with the page's answer.
func TestContractSimulatorPasswordModify(t *testing.T) {
	f := loadPDFixture(t, "password-modify.json")
	var doc struct{ OldPassword string }
	json.Unmarshal(f.Request, &doc)
	// History 1: the only requirement is the page's not-current-password.
	s := directorysim.New(directorysim.Config{Policy: directorysim.Policy{History: 1}})
	if err := s.AddUser(jimbobDN, doc.OldPassword); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken("accessToken", jimbobDN); err != nil {
		t.Fatal(err)
	}
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	req, _ := http.NewRequest(f.Method, u+strings.Replace(f.Path, "{{dn}}", jimbobDN, 1), strings.NewReader(string(f.Request)))
	req.Header.Set("Authorization", "Bearer accessToken")
	req.Header.Set("Content-Type", f.ContentType)
	status, b := testkit.Do(t, req)
	if status != f.Status {
		t.Fatalf("status %d: %s", status, b)
	}
	// The entry link names the simulator's host, not the page's.
	var got, want map[string]any
	json.Unmarshal(b, &got)
	json.Unmarshal(f.Response, &want)
	for _, m := range []map[string]any{got, want} {
		entry := m["_links"].(map[string]any)["entry"].(map[string]any)
		href := entry["href"].(string)
		entry["href"] = href[strings.Index(href, "/directory/v1/"):]
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("simulator\n%s\nthe page (%s)\n%s", b, f.Source, f.Response)
	}
}
