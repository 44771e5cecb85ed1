package pingone

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// FuzzFilterEscape: any UTF-8 uid, escaped into the default filter, parses
// in the simulator's SCIM parser to exactly one comparison of username
// with that same value.
func FuzzFilterEscape(f *testing.F) {
	for _, s := range []string{"alice", `a"b`, `a\b`, `x" or username eq "bob`, "a)b*c", "tab\there", "nul\x00", "é😀", `\"`, "\u2028"} {
		f.Add(s)
	}
	ft, err := parseFilterTemplate(DefaultUserFilter)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if v == "" || !utf8.ValidString(v) {
			return
		}
		dn := &ldap.DN{RDNs: []*ldap.RelativeDN{{Attributes: []*ldap.AttributeTypeAndValue{{Type: "uid", Value: v}}}}}
		filter, err := ft.render(dn)
		if err != nil {
			t.Fatalf("render %q: %v", v, err)
		}
		parsed, err := pingonesim.ParseFilter(filter)
		if err != nil {
			if len(filter) > 4096 {
				return // the simulator's length limit, not an escaping fault
			}
			t.Fatalf("filter %q for %q does not parse: %v", filter, v, err)
		}
		if parsed.Op != "eq" || parsed.Attr != "username" || parsed.Value != v {
			t.Fatalf("filter %q for %q parsed as %+v", filter, v, parsed)
		}
	})
}

// FuzzDecodeAPIError: the error-body decoder never panics, keeps within
// its bounds, and classification of any body is total.
func FuzzDecodeAPIError(f *testing.F) {
	f.Add([]byte(`{"id":"6c79","code":"INVALID_DATA","message":"The data provided was invalid.","details":[{"code":"INVALID_VALUE","target":"value","message":"The password did not satisfy password policy requirements","innerError":{"unsatisfiedRequirements":["excludesProfileData","length"]}}]}`))
	f.Add([]byte(`{"code":"INVALID_DATA","details":[{"code":"INVALID_VALUE","target":"password","innerError":{"failuresRemaining":0}}]}`))
	f.Add([]byte(`{"code":"INVALID_DATA","details":[{"code":"PASSWORD_LOCKED_OUT","innerError":{"secondsUntilUnlock":900}}]}`))
	f.Add([]byte(`{"code":"REQUEST_FAILED","message":"x"}`))
	f.Add([]byte(`{"code":"X","details":[{"innerError":[1,2]}]}`))
	f.Add([]byte(`{"id":5,"code":"X","details":null}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, body []byte) {
		e, err := decodeAPIError(body)
		if err == nil {
			if e.Code == "" || len(e.Details) > maxDetails || len(e.Message) > maxErrorText+3 {
				t.Fatalf("decoded out of bounds: %+v", e)
			}
			for _, d := range e.Details {
				if len(d.Unsatisfied) > maxUnsatisfied {
					t.Fatalf("%d unsatisfied requirements kept", len(d.Unsatisfied))
				}
			}
		}
		for _, status := range []int{400, 401, 403, 404, 429, 500, 503, 302} {
			oe := classify(status, body, "")
			if oe.f >= numFailures {
				t.Fatalf("status %d: failure %d has no rule", status, oe.f)
			}
			oe.outcome(opBind)
			oe.outcome(opChange)
		}
	})
}

// FuzzDecodeResponses: the decoders of success bodies never panic, and a
// policy they accept is one the generator can work from.
func FuzzDecodeResponses(f *testing.F) {
	f.Add([]byte(`{"status":"OK","warnings":{"expires":"2023-07-25T15:56:49.360Z"}}`))
	f.Add([]byte(`{"_embedded":{"users":[{"id":"a1dad115-5d2f-469d-9c02-de0523402995"}]}}`))
	f.Add([]byte(`{"_embedded":{"passwordPolicies":[{"id":"p","default":true,"length":{"min":8,"max":255},"minCharacters":{"0123456789":1,"~!@#$%^&*()-_=+[]{}|;:,.<>/?":1},"maxRepeatedCharacters":2,"minUniqueCharacters":5,"history":{"count":6,"retentionDays":365}}]}}`))
	f.Add([]byte(`{"_embedded":{"passwordPolicies":[{"length":{"min":9,"max":3}}]}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		if st, err := decodeState(body); err == nil {
			expiryWarning(st, http.Header{"Date": {"Tue, 25 Jul 2023 15:56:49 GMT"}}, time.Now())
		}
		if ids, err := decodeUserIDs(body); err == nil {
			for _, id := range ids {
				if !validID(id) {
					t.Fatalf("id %q accepted", id)
				}
			}
		}
		p, err := decodePolicies(body)
		if err != nil {
			return
		}
		reqs := p.requirements(true)
		if pw, err := generatePassword(p); err == nil {
			for _, r := range reqs {
				if r.check != nil && !r.check(pw.Bytes()) {
					t.Fatalf("generated password fails %q", r.req.Description)
				}
			}
		}
		evaluate(reqs, []string{reqLength, reqMinCharacters, "other"}, []byte("x"))
	})
}

// FuzzAppendJSONString: the hand-written password encoder produces JSON
// that decodes to the same text.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `q"uote`, `back\slash`, "ctl\x01\x1f", "é😀", "<&>", "\u2028"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		body := newBody().secret("k", []byte(s)).boolean("b", true).bytes()
		var v struct {
			K string `json:"k"`
			B bool   `json:"b"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatalf("%q encoded as invalid JSON %q: %v", s, body, err)
		}
		if v.K != s || !v.B {
			t.Fatalf("%q came back as %q", s, v.K)
		}
		var m map[string]any
		if json.Unmarshal(body, &m) != nil || len(m) != 2 {
			t.Fatalf("body %q is not an object of two fields", body)
		}
	})
}
