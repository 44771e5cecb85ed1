package main

import (
	"mime"
	"net/http"
	"strings"

	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/metrics"
)

// Call names of backend requests, the "call" label of the backend metrics.
// They are a fixed set: a request's URL holds DNs and user ids, which must
// never become labels.
const (
	callBind           = "bind"            // PingDirectory GET /directory/v1/me
	callChangePassword = "change_password" // PingDirectory changePassword; PingOne self change
	callCheck          = "check"           // PingDirectory GET /directory/v1 (readiness)
	callToken          = metrics.CallToken // PingOne POST {env}/as/token
	callFindUser       = "find_user"       // PingOne GET /users?filter=
	callCheckPassword  = "check_password"  // PingOne password check (bind)
	callSetPassword    = "set_password"    // PingOne administrative set
	callSetGateway     = "set_gateway"     // PingOne LDAP gateway
	callReadPolicy     = "read_policy"     // PingOne GET /passwordPolicies
	callOther          = "other"
)

// callClassifier returns the function that names the requests of a backend
// type, from their method, path and media type alone.
func callClassifier(backendType string) func(*http.Request) string {
	if backendType == config.TypePingOne {
		return pingOneCall
	}
	return pingDirectoryCall
}

func pingDirectoryCall(r *http.Request) string {
	p := strings.TrimRight(r.URL.EscapedPath(), "/")
	switch {
	case r.Method == http.MethodGet && strings.HasSuffix(p, "/directory/v1/me"):
		return callBind
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/changePassword"):
		return callChangePassword
	case r.Method == http.MethodGet && strings.HasSuffix(p, "/directory/v1"):
		return callCheck
	}
	return callOther
}

func pingOneCall(r *http.Request) string {
	p := strings.TrimRight(r.URL.EscapedPath(), "/")
	switch {
	case r.Method == http.MethodPost && strings.HasSuffix(p, "/as/token"):
		return callToken
	case r.Method == http.MethodGet && strings.HasSuffix(p, "/users"):
		return callFindUser
	case r.Method == http.MethodGet && strings.HasSuffix(p, "/passwordPolicies"):
		return callReadPolicy
	case strings.HasSuffix(p, "/password"):
		// ParseMediaType lower-cases: media types are case-insensitive.
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		switch {
		case r.Method == http.MethodPost && mt == "application/vnd.pingidentity.password.check+json":
			return callCheckPassword
		case r.Method != http.MethodPut:
		case mt == "application/vnd.pingidentity.password.reset+json":
			return callChangePassword
		case mt == "application/vnd.pingidentity.password.set+json":
			return callSetPassword
		case mt == "application/vnd.pingidentity.password.setgateway+json":
			return callSetGateway
		}
	}
	return callOther
}
