package directorysim

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// The Directory REST API's Getting Started page documents two
// authentication types, Basic and Bearer; the simulator accepts both.
func TestBearerAuthentication(t *testing.T) {
	s, u := start(t, testPolicy, nil)
	if err := s.AddToken("alice-token", aliceDN); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken("admin-token", adminDN); err != nil {
		t.Fatal(err)
	}
	if err := s.AddToken("x", "uid=nobody,"+base); err == nil {
		t.Fatal("a token for a missing entry was accepted")
	}
	bearer := func(method, url, tok string, body []byte) answer {
		t.Helper()
		req, err := http.NewRequest(method, url, bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+tok)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		raw, _ := io.ReadAll(resp.Body)
		a := answer{status: resp.StatusCode, header: resp.Header, raw: raw}
		_ = json.Unmarshal(raw, &a.body)
		return a
	}

	a := bearer(http.MethodGet, u+"/directory/v1/me", "alice-token", nil)
	if a.status != 200 || a.body["_dn"] != aliceDN {
		t.Fatalf("GET /me with alice's token: %d %s", a.status, a.raw)
	}
	a = bearer(http.MethodGet, u+"/directory/v1/me", "forged", nil)
	if a.status != 401 || !strings.HasPrefix(a.header.Get("WWW-Authenticate"), "Bearer ") || !strings.Contains(a.header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Fatalf("GET /me with an unknown token: %d %q %s", a.status, a.header.Get("WWW-Authenticate"), a.raw)
	}
	// The Password Modify page's example request carries a bearer token:
	// an administrator's token resets bob's password.
	body, _ := json.Marshal(map[string]any{"newPassword": "Bob-Fresh-Passw0rd1"})
	a = bearer(http.MethodPost, changeURL(u, bobDN), "admin-token", body)
	if a.status != 200 || a.code(t) != resultSuccess {
		t.Fatalf("reset by token: %d %s", a.status, a.raw)
	}
	if !s.CheckPassword(bobDN, "Bob-Fresh-Passw0rd1") || !s.MustChange(bobDN) {
		t.Fatal("bob's password was not reset")
	}
	// alice's token may not reset bob's password.
	a = bearer(http.MethodPost, changeURL(u, bobDN), "alice-token", body)
	if a.status != 403 || a.code(t) != resultInsufficientAccess {
		t.Fatalf("reset by a user's token: %d %s", a.status, a.raw)
	}
	s.RevokeToken("alice-token")
	if a = bearer(http.MethodGet, u+"/directory/v1/me", "alice-token", nil); a.status != 401 {
		t.Fatalf("revoked token: %d", a.status)
	}
	// Basic keeps working beside it.
	if a = me(t, u, aliceDN, alicePW); a.status != 200 {
		t.Fatalf("Basic: %d %s", a.status, a.raw)
	}
}

// The simulator's own token endpoint (as PingFederate's): the client
// credentials grant issues a token that acts as the client's entry.
func TestTokenEndpoint(t *testing.T) {
	s, u := start(t, testPolicy, nil)
	if err := s.AddClient("bridge", "client-secret", adminDN, "directory"); err != nil {
		t.Fatal(err)
	}
	if err := s.AddClient("x", "y", "uid=nobody,"+base); err == nil {
		t.Fatal("a client for a missing entry was accepted")
	}
	token := func(id, secret, form string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, u+TokenPath, strings.NewReader(form))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(id, secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.StatusCode, body
	}
	if st, body := token("bridge", "wrong", "grant_type=client_credentials"); st != 401 || body["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", st, body)
	}
	if st, body := token("bridge", "client-secret", "grant_type=password"); st != 400 || body["error"] != "unsupported_grant_type" {
		t.Fatalf("other grant: %d %v", st, body)
	}
	if st, body := token("bridge", "client-secret", "grant_type=client_credentials&scope=admin"); st != 400 || body["error"] != "invalid_scope" {
		t.Fatalf("scope not allowed: %d %v", st, body)
	}
	st, body := token("bridge", "client-secret", "grant_type=client_credentials&scope=directory")
	tok, _ := body["access_token"].(string)
	if st != 200 || tok == "" || body["token_type"] != "Bearer" || body["expires_in"] != float64(3600) {
		t.Fatalf("token: %d %v", st, body)
	}
	req, _ := http.NewRequest(http.MethodGet, u+"/directory/v1/me", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var me map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&me)
	resp.Body.Close()
	if resp.StatusCode != 200 || me["_dn"] != adminDN {
		t.Fatalf("GET /me with the issued token: %d %v", resp.StatusCode, me)
	}
	if s.TokenRequests() != 4 {
		t.Errorf("TokenRequests %d, want 4", s.TokenRequests())
	}
}
