package testkit

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type example struct {
	Title    string          `json:"title"`
	Status   int             `json:"status"`
	Response json.RawMessage `json:"response"`
}

func TestLoadExample(t *testing.T) {
	f := LoadExample[example](t, "good.json")
	if f.Title != "An example" || f.Status != 200 || !JSONEqual(t, f.Response, []byte(`{ "a": [1, 2] }`)) {
		t.Fatalf("loaded %+v", f)
	}
	for _, tt := range []struct{ name, want string }{
		{"elsewhere.json", "no page URL in source"},
		{"broken.json", "broken.json: "},
		{"absent.json", "no such file"},
	} {
		r := Record(t, func(tb testing.TB) { LoadExample[example](tb, tt.name) })
		if !r.Stopped || !strings.Contains(r.Errors[0], tt.want) {
			t.Errorf("LoadExample(%s): %+v, want a failure with %q", tt.name, r, tt.want)
		}
	}
}

func TestJSONEqual(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{`{"a":1,"b":[true,null]}`, `{"b":[true,null],"a":1.0}`, true},
		{`{"a":1}`, `{"a":"1"}`, false},
		{`[1,2]`, `[2,1]`, false},
	} {
		if got := JSONEqual(t, []byte(tt.a), []byte(tt.b)); got != tt.want {
			t.Errorf("JSONEqual(%s, %s) = %v", tt.a, tt.b, got)
		}
	}
	if r := Record(t, func(tb testing.TB) { JSONEqual(tb, []byte(`{`), []byte(`{}`)) }); !r.Stopped {
		t.Error("JSONEqual accepted text that is not JSON")
	}
}

func TestDo(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, r.Method+" "+r.URL.Path)
	}))
	req, _ := http.NewRequest(http.MethodPut, ts.URL+"/x", nil)
	if status, body := Do(t, req); status != http.StatusCreated || string(body) != "PUT /x" {
		t.Errorf("Do = %d %q", status, body)
	}
	ts.Close()
	req, _ = http.NewRequest(http.MethodGet, ts.URL, nil)
	if r := Record(t, func(tb testing.TB) { Do(tb, req) }); !r.Stopped {
		t.Error("a request without an answer did not fail the test")
	}
}
