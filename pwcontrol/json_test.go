package pwcontrol

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Decoding takes keys in any order and ignores the ones it does not know.
func TestValidationFromJSONLenient(t *testing.T) {
	in := `{
		"seconds-until-expiration": 60,
		"future-field": {"x": [1, 2]},
		"must-change-password": true,
		"validation-details": [{
			"requirement-satisfied": false,
			"additional-information": "too short",
			"password-quality-requirement": {
				"client-side-validation-properties": [{"value": "8", "name": "minimum-length", "extra": 1}],
				"client-side-validation-type": "length",
				"description": "at least 8",
				"new": true
			},
			"other": null
		}],
		"missing-current-password": false,
		"response-type": "validation-performed"
	}`
	got, err := ValidationFromJSON(json.RawMessage(in))
	if err != nil {
		t.Fatal(err)
	}
	want := &bridge.ValidationDetails{
		ResponseType: bridge.ValidationPerformed,
		Results: []bridge.ValidationResult{{
			Requirement: bridge.Requirement{
				Description:    "at least 8",
				ValidationType: "length",
				Properties:     []bridge.Property{{Name: "minimum-length", Value: "8"}},
			},
			AdditionalInfo: ptr("too short"),
		}},
		MustChangePassword:     true,
		SecondsUntilExpiration: ptr(int64(60)),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestValidationFromJSONOptionalForms(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want *bridge.ValidationDetails
	}{
		{"performed without details is an empty list",
			`{"response-type":"validation-performed","missing-current-password":false,"must-change-password":false}`,
			&bridge.ValidationDetails{ResponseType: bridge.ValidationPerformed}},
		{"null optional fields are absent",
			`{"response-type":"no-password-provided","validation-details":null,"missing-current-password":true,"must-change-password":false,"seconds-until-expiration":null}`,
			&bridge.ValidationDetails{ResponseType: bridge.NoPasswordProvided, MissingCurrentPassword: true}},
		{"empty details with another type",
			`{"response-type":"multiple-passwords-provided","validation-details":[],"missing-current-password":false,"must-change-password":false}`,
			&bridge.ValidationDetails{ResponseType: bridge.MultiplePasswordsProvided}},
		{"empty strings are kept",
			`{"response-type":"validation-performed","validation-details":[{"password-quality-requirement":{"description":""},"requirement-satisfied":true,"additional-information":""}],"missing-current-password":false,"must-change-password":false}`,
			&bridge.ValidationDetails{Results: []bridge.ValidationResult{{Satisfied: true, AdditionalInfo: ptr("")}}}},
		{"type with an empty property list",
			`{"response-type":"validation-performed","validation-details":[{"password-quality-requirement":{"description":"d","client-side-validation-type":"t","client-side-validation-properties":[]},"requirement-satisfied":true}],"missing-current-password":false,"must-change-password":false}`,
			&bridge.ValidationDetails{Results: []bridge.ValidationResult{{Requirement: bridge.Requirement{Description: "d", ValidationType: "t"}, Satisfied: true}}}},
		{"seconds at maxInt",
			`{"response-type":"no-validation-attempted","missing-current-password":false,"must-change-password":false,"seconds-until-expiration":2147483647}`,
			&bridge.ValidationDetails{ResponseType: bridge.NoValidationAttempted, SecondsUntilExpiration: ptr(int64(MaxCount))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ValidationFromJSON(json.RawMessage(tc.in))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
		})
	}
}

func TestValidationFromJSONRejects(t *testing.T) {
	const flags = `"missing-current-password":false,"must-change-password":false`
	detail := func(req string) string {
		return `{"response-type":"validation-performed","validation-details":[{"password-quality-requirement":` + req + `,"requirement-satisfied":true}],` + flags + `}`
	}
	tests := []struct{ name, in, why string }{
		{"empty", ``, "value-json"},
		{"null", `null`, "null"},
		{"array", `[]`, "cannot unmarshal"},
		{"string", `"x"`, "cannot unmarshal"},
		{"truncated", `{"response-type":`, "value-json"},
		{"no response-type", `{` + flags + `}`, "response-type is missing"},
		{"unknown response-type", `{"response-type":"validation-details",` + flags + `}`, "unknown response-type"},
		{"response-type not a string", `{"response-type":0,` + flags + `}`, "response-type"},
		{"response-type wrong case", `{"Response-Type":"no-password-provided",` + flags + `}`, "response-type is missing"},
		{"no missing-current-password", `{"response-type":"no-password-provided","must-change-password":false}`, "missing-current-password is missing"},
		{"no must-change-password", `{"response-type":"no-password-provided","missing-current-password":false}`, "must-change-password is missing"},
		{"flag not a boolean", `{"response-type":"no-password-provided","missing-current-password":"false","must-change-password":false}`, "missing-current-password"},
		{"seconds negative", `{"response-type":"no-password-provided",` + flags + `,"seconds-until-expiration":-1}`, "out of range"},
		{"seconds beyond maxInt", `{"response-type":"no-password-provided",` + flags + `,"seconds-until-expiration":2147483648}`, "out of range"},
		{"seconds fraction", `{"response-type":"no-password-provided",` + flags + `,"seconds-until-expiration":1.5}`, "seconds-until-expiration"},
		{"seconds exponent", `{"response-type":"no-password-provided",` + flags + `,"seconds-until-expiration":1e3}`, "seconds-until-expiration"},
		{"seconds string", `{"response-type":"no-password-provided",` + flags + `,"seconds-until-expiration":"60"}`, "seconds-until-expiration"},
		{"details with another type", `{"response-type":"no-password-provided","validation-details":[{"password-quality-requirement":{"description":"d"},"requirement-satisfied":true}],` + flags + `}`, "validation-details with response-type"},
		{"details not an array", `{"response-type":"validation-performed","validation-details":{},` + flags + `}`, "validation-details"},
		{"detail not an object", `{"response-type":"validation-performed","validation-details":[1],` + flags + `}`, "validation-details[0]"},
		{"detail null", `{"response-type":"validation-performed","validation-details":[null],` + flags + `}`, "validation-details[0]"},
		{"detail without requirement", `{"response-type":"validation-performed","validation-details":[{"requirement-satisfied":true}],` + flags + `}`, "password-quality-requirement is missing"},
		{"detail without satisfied", `{"response-type":"validation-performed","validation-details":[{"password-quality-requirement":{"description":"d"}}],` + flags + `}`, "requirement-satisfied is missing"},
		{"additional information not a string", `{"response-type":"validation-performed","validation-details":[{"password-quality-requirement":{"description":"d"},"requirement-satisfied":true,"additional-information":5}],` + flags + `}`, "additional-information"},
		{"no description", detail(`{"client-side-validation-type":"t"}`), "description is missing"},
		{"empty type", detail(`{"description":"d","client-side-validation-type":""}`), "client-side-validation-type is empty"},
		{"properties without type", detail(`{"description":"d","client-side-validation-properties":[{"name":"a","value":"b"}]}`), "without client-side-validation-type"},
		{"property not an object", detail(`{"description":"d","client-side-validation-type":"t","client-side-validation-properties":["a"]}`), "property"},
		{"property without name", detail(`{"description":"d","client-side-validation-type":"t","client-side-validation-properties":[{"value":"b"}]}`), "name is missing"},
		{"property without value", detail(`{"description":"d","client-side-validation-type":"t","client-side-validation-properties":[{"name":"a"}]}`), "value is missing"},
		{"property value a number", detail(`{"description":"d","client-side-validation-type":"t","client-side-validation-properties":[{"name":"a","value":8}]}`), "property.value"},
		{"property name repeated", detail(`{"description":"d","client-side-validation-type":"t","client-side-validation-properties":[{"name":"a","value":"1"},{"name":"a","value":"2"}]}`), "repeated"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := ValidationFromJSON(json.RawMessage(tc.in))
			if err == nil {
				t.Fatalf("accepted %s as %+v", tc.in, v)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %q: want ErrInvalid about %q", err, tc.why)
			}
			if v != nil {
				t.Fatalf("returned %+v with the error", v)
			}
		})
	}
}

func TestPolicyFromJSON(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bridge.Policy
	}{
		{"empty", `{}`, bridge.NoPolicy()},
		{"unknown keys ignored", `{"x":1,"warning":{"grace-logins-remaining":2,"y":"z"}}`,
			bridge.Policy{Warning: bridge.GraceAuthNsRemaining, WarningValue: 2, Error: bridge.PolicyErrorNone}},
		{"null fields absent", `{"warning":null,"error-type":null}`, bridge.NoPolicy()},
		{"order free", `{"error-type":"account-locked","warning":{"seconds-until-expiration":0}}`,
			bridge.Policy{Warning: bridge.TimeBeforeExpiration, Error: bridge.AccountLocked}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := PolicyFromJSON(json.RawMessage(tc.in))
			if err != nil || got != tc.want {
				t.Fatalf("got %+v, %v; want %+v", got, err, tc.want)
			}
		})
	}
}

func TestPolicyFromJSONRejects(t *testing.T) {
	tests := []struct{ name, in, why string }{
		{"empty input", ``, "value-json"},
		{"null", `null`, "null"},
		{"array", `[]`, "cannot unmarshal"},
		{"warning not an object", `{"warning":5}`, "warning"},
		{"warning empty", `{"warning":{}}`, "neither"},
		{"warning both", `{"warning":{"seconds-until-expiration":1,"grace-logins-remaining":1}}`, "both"},
		{"warning negative", `{"warning":{"grace-logins-remaining":-1}}`, "out of range"},
		{"warning too large", `{"warning":{"seconds-until-expiration":2147483648}}`, "out of range"},
		{"warning fraction", `{"warning":{"seconds-until-expiration":0.5}}`, "seconds-until-expiration"},
		{"warning huge", `{"warning":{"seconds-until-expiration":99999999999999999999999}}`, "seconds-until-expiration"},
		{"error unknown", `{"error-type":"passwordExpired"}`, "unknown error-type"},
		{"error number", `{"error-type":0}`, "error-type"},
		{"error empty", `{"error-type":""}`, "unknown error-type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := PolicyFromJSON(json.RawMessage(tc.in))
			if err == nil {
				t.Fatalf("accepted %s as %+v", tc.in, p)
			}
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %q: want ErrInvalid about %q", err, tc.why)
			}
			if p != bridge.NoPolicy() {
				t.Fatalf("returned %+v with the error", p)
			}
		})
	}
}

func TestControlDecodeErrors(t *testing.T) {
	vjson := json.RawMessage(`{"response-type":"no-password-provided","missing-current-password":false,"must-change-password":false}`)
	tests := []struct {
		name string
		c    Control
		pol  bool // decode as ppolicy rather than validation details
		why  error
		msg  string
	}{
		{"wrong OID", Control{OID: OIDPasswordPolicy, ValueJSON: vjson}, false, ErrInvalid, "is not"},
		{"request OID", Control{OID: OIDValidationDetailsRequest, ValueJSON: vjson}, false, ErrInvalid, "is not"},
		{"policy wrong OID", Control{OID: OIDValidationDetailsResponse, ValueJSON: json.RawMessage(`{}`)}, true, ErrInvalid, "is not"},
		{"no value", Control{OID: OIDValidationDetailsResponse}, false, ErrInvalid, "no value"},
		{"null value-json", Control{OID: OIDPasswordPolicy, ValueJSON: json.RawMessage(`null`)}, true, ErrInvalid, "no value"},
		{"both values", Control{OID: OIDValidationDetailsResponse, ValueJSON: vjson, ValueBase64: "MAKBAA=="}, false, ErrInvalid, "both"},
		{"bad base64", Control{OID: OIDValidationDetailsResponse, ValueBase64: "MAKBAA"}, false, ErrInvalid, "value-base64"},
		{"base64 with stray bits", Control{OID: OIDPasswordPolicy, ValueBase64: "MAB="}, true, ErrInvalid, "value-base64"},
		{"bad BER in base64", Control{OID: OIDValidationDetailsResponse, ValueBase64: "MAKEAA=="}, false, ErrMalformed, "unknown response type"},
		{"bad policy BER in base64", Control{OID: OIDPasswordPolicy, ValueBase64: "MAOBAQk="}, true, ErrMalformed, "0..8"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.pol {
				var p bridge.Policy
				p, err = tc.c.Policy()
				if err == nil {
					t.Fatalf("accepted as %+v", p)
				}
			} else {
				var v *bridge.ValidationDetails
				v, err = tc.c.Validation()
				if err == nil {
					t.Fatalf("accepted as %+v", v)
				}
			}
			if !errors.Is(err, tc.why) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %q: want %v about %q", err, tc.why, tc.msg)
			}
		})
	}
}

func TestToJSONNormalises(t *testing.T) {
	tests := []struct {
		name string
		got  json.RawMessage
		want string
	}{
		{"nil details", ValidationToJSON(nil), `{"response-type":"no-validation-attempted","missing-current-password":false,"must-change-password":false}`},
		{"unknown response type", ValidationToJSON(&bridge.ValidationDetails{ResponseType: 9, MustChangePassword: true}),
			`{"response-type":"no-validation-attempted","missing-current-password":false,"must-change-password":true}`},
		{"performed with no results", ValidationToJSON(&bridge.ValidationDetails{}),
			`{"response-type":"validation-performed","validation-details":[],"missing-current-password":false,"must-change-password":false}`},
		{"results dropped for other types", ValidationToJSON(&bridge.ValidationDetails{ResponseType: bridge.NoPasswordProvided, Results: []bridge.ValidationResult{{}}}),
			`{"response-type":"no-password-provided","missing-current-password":false,"must-change-password":false}`},
		{"properties need a type; HTML not escaped", ValidationToJSON(&bridge.ValidationDetails{Results: []bridge.ValidationResult{{
			Requirement: bridge.Requirement{Description: "<8 & \"x\"", Properties: []bridge.Property{{Name: "a", Value: "b"}}}}}}),
			`{"response-type":"validation-performed","validation-details":[{"password-quality-requirement":{"description":"<8 & \"x\""},"requirement-satisfied":false}],"missing-current-password":false,"must-change-password":false}`},
		{"seconds clamped", ValidationToJSON(&bridge.ValidationDetails{ResponseType: bridge.NoPasswordProvided, SecondsUntilExpiration: ptr(int64(1) << 40)}),
			`{"response-type":"no-password-provided","missing-current-password":false,"must-change-password":false,"seconds-until-expiration":2147483647}`},
		{"policy zero value is password-expired", PolicyToJSON(bridge.Policy{}), `{"error-type":"password-expired"}`},
		{"policy nothing", PolicyToJSON(bridge.NoPolicy()), `{}`},
		{"policy unknown values left out", PolicyToJSON(bridge.Policy{Warning: 5, WarningValue: 1, Error: 12}), `{}`},
		{"policy warning clamped", PolicyToJSON(bridge.Policy{Warning: bridge.GraceAuthNsRemaining, WarningValue: -3, Error: bridge.PasswordInHistory}),
			`{"warning":{"grace-logins-remaining":0},"error-type":"password-in-history"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if string(tc.got) != tc.want {
				t.Fatalf("got  %s\nwant %s", tc.got, tc.want)
			}
		})
	}
}

// The JSON and BER encoders make the same choices for values the bridge
// form can hold but the wire cannot (see TestToJSONNormalises), so the two
// forms always describe the same control.
func TestJSONAndBERAgreeOnNormalisation(t *testing.T) {
	odd := []*bridge.ValidationDetails{
		nil,
		{ResponseType: 9},
		{ResponseType: bridge.NoPasswordProvided, Results: []bridge.ValidationResult{{}}},
		{Results: []bridge.ValidationResult{{Requirement: bridge.Requirement{Description: "d", Properties: []bridge.Property{{Name: "a"}}}}}},
		{ResponseType: bridge.NoPasswordProvided, SecondsUntilExpiration: ptr(int64(-9))},
	}
	for i, v := range odd {
		fromJSON, err := ValidationFromJSON(ValidationToJSON(v))
		if err != nil {
			t.Fatalf("%d: own JSON does not decode: %v", i, err)
		}
		fromBER, err := DecodeValidation(AppendValidation(nil, v))
		if err != nil {
			t.Fatalf("%d: own BER does not decode: %v", i, err)
		}
		if !reflect.DeepEqual(fromJSON, fromBER) {
			t.Fatalf("%d: JSON gives %+v, BER gives %+v", i, fromJSON, fromBER)
		}
	}
}
