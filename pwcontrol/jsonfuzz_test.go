package pwcontrol

import (
	"encoding/json"
	"reflect"
	"testing"
)

// Whatever value-json decodes must survive a trip through our JSON and
// through our BER unchanged: the bridge reads PingDirectory's JSON and
// writes BER, so the two must never disagree.

func FuzzValidationFromJSON(f *testing.F) {
	vec := loadVectors(f)
	for _, tc := range vec.ValidationDetails {
		var c Control
		if err := json.Unmarshal(tc.JSON, &c); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(c.ValueJSON))
	}
	f.Add([]byte(`{"response-type":"validation-performed","validation-details":[{"password-quality-requirement":{"description":"d","client-side-validation-type":"t","client-side-validation-properties":[{"name":"a","value":"1"}]},"requirement-satisfied":false,"additional-information":"i"}],"missing-current-password":true,"must-change-password":true,"seconds-until-expiration":5,"x":null}`))
	f.Add([]byte(`{"response-type":"no-password-provided","missing-current-password":false,"must-change-password":false,"seconds-until-expiration":-1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := ValidationFromJSON(json.RawMessage(in))
		if err != nil {
			if v != nil {
				t.Fatalf("value %+v returned with error %v", v, err)
			}
			return
		}
		out := ValidationToJSON(v)
		w, err := ValidationFromJSON(out)
		if err != nil || !reflect.DeepEqual(w, v) {
			t.Fatalf("%s decoded to %+v; our JSON %s decodes to %+v, %v", in, v, out, w, err)
		}
		b, err := DecodeValidation(AppendValidation(nil, v))
		if err != nil || !reflect.DeepEqual(b, v) {
			t.Fatalf("%s decoded to %+v; its BER decodes to %+v, %v", in, v, b, err)
		}
		if got := ValidationToJSON(w); string(got) != string(out) {
			t.Fatalf("JSON not stable: %s then %s", out, got)
		}
	})
}

func FuzzPolicyFromJSON(f *testing.F) {
	vec := loadVectors(f)
	for _, tc := range vec.Ppolicy {
		var c Control
		if err := json.Unmarshal(tc.JSON, &c); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(c.ValueJSON))
	}
	f.Add([]byte(`{"warning":{"seconds-until-expiration":2147483648}}`))
	f.Add([]byte(`{"warning":{"grace-logins-remaining":1,"seconds-until-expiration":1}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := PolicyFromJSON(json.RawMessage(in))
		if err != nil {
			return
		}
		out := PolicyToJSON(p)
		q, err := PolicyFromJSON(out)
		if err != nil || q != p {
			t.Fatalf("%s decoded to %+v; our JSON %s decodes to %+v, %v", in, p, out, q, err)
		}
		r, err := DecodePolicy(AppendPolicy(nil, p))
		if err != nil || r != p {
			t.Fatalf("%s decoded to %+v; its BER decodes to %+v, %v", in, p, r, err)
		}
	})
}
