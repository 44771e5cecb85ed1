package simkit

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

func TestDirectoryServesItsUsers(t *testing.T) {
	s, u := Directory(t, directorysim.Config{}, map[string]string{"uid=a,dc=x": "A-Passw0rd", "uid=b,dc=x": "B-Passw0rd"})
	for _, tc := range []struct {
		dn, pw string
		want   int
	}{{"uid=a,dc=x", "A-Passw0rd", 200}, {"uid=b,dc=x", "B-Passw0rd", 200}, {"uid=a,dc=x", "wrong", 401}} {
		req, err := http.NewRequest(http.MethodGet, u+"/directory/v1/me", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.SetBasicAuth(tc.dn, tc.pw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s: %d, want %d", tc.dn, resp.StatusCode, tc.want)
		}
	}
	if s.Requests() < 3 {
		t.Errorf("the simulator counted %d requests", s.Requests())
	}
}

func TestPingOneGivesIDs(t *testing.T) {
	_, u, ids := PingOne(t, pingonesim.Config{EnvironmentID: "env", ClientID: "c", ClientSecret: "s"},
		User{"alice", "alice@example.com", "Alice-Passw0rd!"}, User{"bob", "bob@example.com", "Bob-Passw0rd!"})
	if len(ids) != 2 || ids["alice"] == "" || ids["alice"] == ids["bob"] {
		t.Fatalf("ids %v", ids)
	}
	resp, err := http.PostForm(u+"/env/as/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {"c"}, "client_secret": {"s"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(u, "http://127.0.0.1:") {
		t.Errorf("token: %d at %s", resp.StatusCode, u)
	}
}
