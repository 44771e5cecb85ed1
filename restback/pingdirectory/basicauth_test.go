package pingdirectory

import (
	"net/http"
	"strings"
	"testing"
)

// basicAuth must send exactly what net/http's SetBasicAuth would.
func TestBasicAuthMatchesSetBasicAuth(t *testing.T) {
	tests := []struct{ dn, pw string }{
		{"uid=alice,ou=people,dc=example,dc=com", "Secret123!"},
		{"cn=é ü,dc=example", "pässwörd"},
		{"uid=x", ""},
		{strings.Repeat("ou=long,", 60) + "dc=example", strings.Repeat("p", 300)},
	}
	for _, tc := range tests {
		r, _ := http.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
		r.SetBasicAuth(tc.dn, tc.pw)
		if got, want := basicAuth(tc.dn, []byte(tc.pw)), r.Header.Get("Authorization"); got != want {
			t.Errorf("%q: got %q, want %q", tc.dn, got, want)
		}
	}
}
