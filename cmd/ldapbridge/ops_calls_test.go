package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/config"
)

func TestCallClassifier(t *testing.T) {
	const env = "https://api.pingone.eu/v1/environments/6f1c5f0e"
	for _, tc := range []struct {
		typ, method, url, media, want string
	}{
		{config.TypePingDirectory, "GET", "https://pd:1443/directory/v1/me", "", callBind},
		{config.TypePingDirectory, "GET", "https://pd:1443/prefix/directory/v1/me", "", callBind},
		{config.TypePingDirectory, "POST", "https://pd:1443/directory/v1/uid=bob,ou=staff,dc=example,dc=com/changePassword", "application/json", callChangePassword},
		{config.TypePingDirectory, "POST", "https://pd:1443/directory/v1/uid=a%2Fb%3Fc,dc=x/changePassword", "application/json", callChangePassword},
		{config.TypePingDirectory, "GET", "https://pd:1443/directory/v1", "", callCheck},
		{config.TypePingDirectory, "GET", "https://pd:1443/directory/v1/", "", callCheck},
		{config.TypePingDirectory, "DELETE", "https://pd:1443/directory/v1/me", "", callOther},
		{config.TypePingDirectory, "GET", "https://pd:1443/directory/v1/uid=me,dc=x", "", callOther},
		{config.TypePingOne, "POST", "https://auth.pingone.eu/6f1c5f0e/as/token", "application/x-www-form-urlencoded", callToken},
		{config.TypePingOne, "GET", env + "/users?filter=username%20eq%20%22alice%22", "", callFindUser},
		{config.TypePingOne, "GET", env + "/passwordPolicies", "", callReadPolicy},
		{config.TypePingOne, "POST", env + "/users/123/password", "application/vnd.pingidentity.password.check+json", callCheckPassword},
		{config.TypePingOne, "PUT", env + "/users/123/password", "application/vnd.pingidentity.password.reset+json", callChangePassword},
		{config.TypePingOne, "PUT", env + "/users/123/password", "application/vnd.pingidentity.password.set+json; charset=UTF-8", callSetPassword},
		{config.TypePingOne, "PUT", env + "/users/123/password", "application/vnd.pingidentity.password.setGateway+json", callSetGateway},
		{config.TypePingOne, "PUT", env + "/users/123/password", "application/json", callOther},
		{config.TypePingOne, "POST", env + "/users/123/password", "application/vnd.pingidentity.password.reset+json", callOther},
		{config.TypePingOne, "GET", env + "/users/123", "", callOther},
	} {
		req := httptest.NewRequest(tc.method, tc.url, nil)
		if tc.media != "" {
			req.Header.Set("Content-Type", tc.media)
		}
		if got := callClassifier(tc.typ)(req); got != tc.want {
			t.Errorf("%s %s %s (%s) = %q, want %q", tc.typ, tc.method, tc.url, tc.media, got, tc.want)
		}
	}
}

// The call name is a metric label: whatever the request, it is one of the
// fixed names, never a piece of the URL.
func FuzzCallClassifier(f *testing.F) {
	f.Add("GET", "/directory/v1/me", "")
	f.Add("POST", "/directory/v1/uid=bob,dc=x/changePassword", "application/json")
	f.Add("PUT", "/v1/environments/e/users/u/password", "application/vnd.pingidentity.password.setGateway+json")
	f.Add("POST", "/e/as/token", "application/x-www-form-urlencoded; x=\"")
	f.Add("GET", "/users/", ";;;")
	allowed := map[string]bool{
		callBind: true, callChangePassword: true, callCheck: true, callToken: true, callFindUser: true,
		callCheckPassword: true, callSetPassword: true, callSetGateway: true, callReadPolicy: true, callOther: true,
	}
	f.Fuzz(func(t *testing.T, method, path, media string) {
		req, err := http.NewRequest(method, "http://h/"+strings.TrimPrefix(path, "/"), nil)
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", media)
		for _, typ := range []string{config.TypePingDirectory, config.TypePingOne} {
			if got := callClassifier(typ)(req); !allowed[got] {
				t.Fatalf("%s: %q %q %q named %q", typ, method, path, media, got)
			}
		}
	})
}
