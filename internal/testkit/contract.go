package testkit

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// pingPages is where every documented example must come from.
const pingPages = "https://developer.pingidentity.com/"

// LoadExample reads the documented example testdata/contract/name (the
// contract tests' fixtures) into an F, a struct of the fields that
// backend's examples have. The example must name, in its "source", the
// page of Ping's documentation it was copied from.
func LoadExample[F any](t testing.TB, name string) F {
	t.Helper()
	var f F
	b, err := os.ReadFile(filepath.Join("testdata", "contract", name))
	if err != nil {
		t.Fatal(err)
	}
	var src struct {
		Source string `json:"source"`
	}
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if err := json.Unmarshal(b, &src); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if !strings.HasPrefix(src.Source, pingPages) {
		t.Fatalf("%s: no page URL in source", name)
	}
	return f
}

// JSONEqual reports whether two JSON texts hold the same value; text that
// is not JSON fails the test.
func JSONEqual(t testing.TB, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// Do sends req with the default client and returns the answer's status and
// body; a request that gets no answer fails the test.
func Do(t testing.TB, req *http.Request) (status int, body []byte) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err = io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", req.Method, req.URL, err)
	}
	return resp.StatusCode, body
}
