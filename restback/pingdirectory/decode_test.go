package pingdirectory

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge/bridge"
)

func TestDecodeResult(t *testing.T) {
	tests := []struct {
		name    string
		body    string
		ok      bool
		hasCode bool
		code    bridge.ResultCode
		diag    string
		ctls    int
	}{
		{"documented answer", docResponseBody, true, true, 0, "", 1},
		{"bare code", `{"resultCode":19,"diagnosticMessage":"short"}`, true, true, 19, "short", 0},
		{"errorMessage", `{"errorMessage":"no"}`, true, false, 0, "no", 0},
		{"SCIM-style detail", `{"status":"404","detail":"Request failed"}`, true, false, 0, "Request failed", 0},
		{"diagnostic wins over errorMessage", `{"diagnosticMessage":"a","errorMessage":"b"}`, true, false, 0, "a", 0},
		{"code as a numeric string", `{"resultCode":"19"}`, true, true, 19, "", 0},
		{"code of the wrong type", `{"resultCode":"nineteen"}`, true, false, 0, "", 0},
		{"code object of the wrong type", `{"resultCode":{"value":true}}`, true, false, 0, "", 0},
		{"fractional code", `{"resultCode":{"value":19.5}}`, true, false, 0, "", 0},
		{"negative code", `{"resultCode":{"value":-1}}`, true, false, 0, "", 0},
		{"huge code", `{"resultCode":{"value":1e40}}`, true, false, 0, "", 0},
		{"diagnostic of the wrong type", `{"resultCode":{"value":32},"diagnosticMessage":7}`, true, true, 32, "", 0},
		{"control without OID skipped", `{"resultCode":0,"_controls":[{"criticality":true},{"oid":"1.2.3"},5]}`, true, true, 0, "", 1},
		{"controls of the wrong type", `{"resultCode":0,"_controls":{}}`, true, true, 0, "", 0},
		{"control characters", `{"diagnosticMessage":"a\u0000b\nc"}`, true, false, 0, "a b c", 0},
		{"not an object", `[]`, false, false, 0, "", 0},
		{"null", `null`, false, false, 0, "", 0},
		{"not JSON", `<html>`, false, false, 0, "", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, err := decodeResult([]byte(tc.body))
			if (err == nil) != tc.ok {
				t.Fatalf("err %v", err)
			}
			if res.hasCode != tc.hasCode || res.code != tc.code || res.diagnostic != tc.diag || len(res.controls) != tc.ctls {
				t.Fatalf("%+v", res)
			}
		})
	}
}

func TestSanitizeBounds(t *testing.T) {
	long := strings.Repeat("é", 1000)
	s := sanitize(long, maxDiagnostic)
	if !utf8.ValidString(s) || len(s) > maxDiagnostic+len("…") {
		t.Fatalf("%d bytes, valid %v", len(s), utf8.ValidString(s))
	}
	if got := sanitize("a\xffb", 10); got != "a\uFFFDb" {
		t.Fatalf("%q", got)
	}
}

func TestPolicyFromValidation(t *testing.T) {
	req := func(typ string, ok bool) bridge.ValidationResult {
		return bridge.ValidationResult{Requirement: bridge.Requirement{ValidationType: typ}, Satisfied: ok}
	}
	tests := []struct {
		name string
		v    *bridge.ValidationDetails
		want bridge.PolicyError
	}{
		{"no details", nil, bridge.InsufficientPasswordQuality},
		{"nothing failed", &bridge.ValidationDetails{Results: []bridge.ValidationResult{req("length", true)}}, bridge.InsufficientPasswordQuality},
		{"length", &bridge.ValidationDetails{Results: []bridge.ValidationResult{req("length", false), req("character-set", true)}}, bridge.PasswordTooShort},
		{"current password", &bridge.ValidationDetails{Results: []bridge.ValidationResult{req("not-current-password", false)}}, bridge.PasswordInHistory},
		{"history", &bridge.ValidationDetails{Results: []bridge.ValidationResult{req("password-history", false)}}, bridge.PasswordInHistory},
		{"too young wins", &bridge.ValidationDetails{Results: []bridge.ValidationResult{req("length", false), req("minimum-password-age", false)}}, bridge.PasswordTooYoung},
		{"mixed", &bridge.ValidationDetails{Results: []bridge.ValidationResult{req("length", false), req("password-history", false)}}, bridge.InsufficientPasswordQuality},
		{"other", &bridge.ValidationDetails{Results: []bridge.ValidationResult{req("character-set", false)}}, bridge.InsufficientPasswordQuality},
		{"no client-side type", &bridge.ValidationDetails{Results: []bridge.ValidationResult{req("", false)}}, bridge.InsufficientPasswordQuality},
	}
	for _, tc := range tests {
		if got := policyFromValidation(tc.v); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestDecodeState(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		must   bool
		policy *bridge.Policy
	}{
		{"no state", `{"_dn":"uid=a"}`, false, nil},
		{"object", `{"ds-pwp-state-json":{"must-change-password":true}}`, true, &bridge.Policy{Error: bridge.ChangeAfterReset}},
		{"string", `{"ds-pwp-state-json":"{\"must-change-password\":true}"}`, true, &bridge.Policy{Error: bridge.ChangeAfterReset}},
		{"array", `{"ds-pwp-state-json":[{"must-change-password":true}]}`, true, &bridge.Policy{Error: bridge.ChangeAfterReset}},
		{"pwdReset TRUE", `{"pwdReset":"TRUE"}`, true, &bridge.Policy{Error: bridge.ChangeAfterReset}},
		{"pwdReset array", `{"pwdReset":["true"]}`, true, &bridge.Policy{Error: bridge.ChangeAfterReset}},
		{"pwdReset false", `{"pwdReset":false}`, false, nil},
		{"wrong type skipped", `{"ds-pwp-state-json":{"must-change-password":"yes","seconds-until-password-expiration":60,"account-usability-warnings":[{"type-name":"password-expiring"}]}}`,
			false, &bridge.Policy{Warning: bridge.TimeBeforeExpiration, WarningValue: 60, Error: bridge.PolicyErrorNone}},
		{"outside the warning interval", `{"ds-pwp-state-json":{"seconds-until-password-expiration":600,"password-expiration-warning-interval-seconds":60}}`, false, nil},
		{"inside the warning interval", `{"ds-pwp-state-json":{"seconds-until-password-expiration":60,"password-expiration-warning-interval-seconds":600}}`,
			false, &bridge.Policy{Warning: bridge.TimeBeforeExpiration, WarningValue: 60, Error: bridge.PolicyErrorNone}},
		{"grace login", `{"ds-pwp-state-json":{"password-is-expired":true,"remaining-grace-login-count":2}}`,
			false, &bridge.Policy{Warning: bridge.GraceAuthNsRemaining, WarningValue: 2, Error: bridge.PolicyErrorNone}},
		{"garbage state", `{"ds-pwp-state-json":42}`, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st, err := decodeState([]byte(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			p := st.policy()
			if st.mustChange != tc.must || (p == nil) != (tc.policy == nil) || (p != nil && *p != *tc.policy) {
				t.Fatalf("must %v policy %+v", st.mustChange, p)
			}
		})
	}
}

// FuzzDecodeChangeResponse feeds arbitrary answers to the change decoder
// and checks the invariants the front end relies on.
func FuzzDecodeChangeResponse(f *testing.F) {
	for _, seed := range []string{
		docResponseBody,
		`{"resultCode":{"value":19,"name":"constraintViolation"},"diagnosticMessage":"x","_controls":[{"oid":"1.3.6.1.4.1.30221.2.5.41","value-json":{"response-type":"validation-performed","validation-details":[{"password-quality-requirement":{"description":"d","client-side-validation-type":"length"},"requirement-satisfied":false}]}}]}`,
		`{"resultCode":{"value":0},"generatedPassword":"Gen-1"}`,
		`{"resultCode":0,"generatedPassword":""}`,
		`{"resultCode":49,"_controls":[{"oid":"1.3.6.1.4.1.42.2.27.8.5.1","value-json":{"error-type":"account-locked"}}]}`,
		`{"resultCode":{"value":53},"_controls":[{"oid":"1.3.6.1.4.1.30221.2.5.41","value-base64":"MAKBAA=="}]}`,
		`{"errorMessage":"x"}`,
		`[]`, `null`, `{`, `<html>`,
	} {
		f.Add(200, "application/json", []byte(seed), false)
		f.Add(400, "application/hal+json", []byte(seed), true)
	}
	f.Add(503, "text/plain", []byte("down"), true)
	f.Fuzz(func(t *testing.T, status int, contentType string, body []byte, newGiven bool) {
		if _, err := decodeResult(body); err != nil {
			_ = err
		}
		c := &Client{name: "fuzz", log: discardLogger()}
		ex := &exchange{Status: status, Header: http.Header{"Content-Type": {contentType}}, Body: body, Sent: true}
		out := c.changeOutcome(t.Context(), ex, newGiven)
		if out.Code != bridge.Success && !out.GeneratedPassword.IsZero() {
			t.Fatal("generated password on failure")
		}
		if out.Code == bridge.Success && !newGiven && out.GeneratedPassword.IsZero() {
			t.Fatal("success without the generated password")
		}
		if out.Code == bridge.Success && (status < 200 || status > 299) {
			t.Fatalf("success from HTTP %d", status)
		}
		if !utf8.ValidString(out.Diagnostic) || len(out.Diagnostic) > 2*maxDiagnostic {
			t.Fatalf("diagnostic %q", out.Diagnostic)
		}
		if out.Code == bridge.ConstraintViolation && out.Policy == nil {
			t.Fatal("constraintViolation without a ppolicy error")
		}
		if _, err := json.Marshal(out); err != nil {
			t.Fatal(err)
		}
		st, err := decodeState(body)
		if err == nil {
			if p := st.policy(); p != nil && p.Warning == bridge.WarningNone && p.Error == bridge.PolicyErrorNone {
				t.Fatal("empty policy returned")
			}
		}
	})
}
