package pwcontrol

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// vectorFile is the reference vectors (testdata/controls.json, a copy of
// the project's shared vectors: CI may not have them): each control as the
// UnboundID LDAP SDK 7.0.6 writes it in JSON and in BER.
type vectorFile struct {
	ValidationOID     string `json:"validation_details_oid"`
	PolicyOID         string `json:"ppolicy_oid"`
	ValidationDetails []struct {
		Name            string          `json:"name"`
		JSON            json.RawMessage `json:"json"`
		SDKJSONText     string          `json:"sdk_json_text"`
		ValueHex        string          `json:"value_hex"`
		ValueBase64JSON json.RawMessage `json:"value_base64_json"`
	} `json:"validation_details"`
	Ppolicy []struct {
		Name  string `json:"name"`
		Input struct {
			WarningType  *string `json:"warning_type"`
			WarningValue *int64  `json:"warning_value"`
			ErrorCode    *int    `json:"error_code"`
		} `json:"input"`
		JSON        json.RawMessage `json:"json"`
		SDKJSONText string          `json:"sdk_json_text"`
		ValueHex    string          `json:"value_hex"`
		Base64JSON  json.RawMessage `json:"experimental_draft_behera_class_json"`
		// ExperimentalValueHex is the value as the SDK's experimental
		// draft-behera class encodes it.
		ExperimentalValueHex string `json:"experimental_draft_behera_class_value_hex"`
	} `json:"ppolicy"`
	DecodeCheck struct {
		InputHex     string          `json:"input_hex"`
		JSON         json.RawMessage `json:"json"`
		SDKJSONText  string          `json:"sdk_json_text"`
		ReencodedHex string          `json:"reencoded_hex"`
	} `json:"decode_check"`
	Variants []struct {
		Label    string `json:"label"`
		InputHex string `json:"input_hex"`
	} `json:"decode_check_javadoc_tag_variants"`
}

func loadVectors(tb testing.TB) vectorFile {
	tb.Helper()
	data, err := os.ReadFile("testdata/controls.json")
	if err != nil {
		tb.Fatalf("read vectors: %v", err)
	}
	var v vectorFile
	if err := json.Unmarshal(data, &v); err != nil {
		tb.Fatalf("parse vectors: %v", err)
	}
	if len(v.ValidationDetails) != 18 || len(v.Ppolicy) != 16 || len(v.Variants) != 3 {
		tb.Fatalf("vectors: %d validation, %d ppolicy, %d variants; want 18, 16, 3",
			len(v.ValidationDetails), len(v.Ppolicy), len(v.Variants))
	}
	if v.ValidationOID != OIDValidationDetailsResponse || v.PolicyOID != OIDPasswordPolicy {
		tb.Fatalf("vector OIDs %s, %s do not match the package's", v.ValidationOID, v.PolicyOID)
	}
	return v
}

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(strings.ReplaceAll(s, " ", ""))
	if err != nil {
		tb.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

// sameTokens compares two JSON texts token by token: same keys in the same
// order, same values, whatever the whitespace and string escaping.
func sameTokens(a, b []byte) error {
	da, db := json.NewDecoder(bytes.NewReader(a)), json.NewDecoder(bytes.NewReader(b))
	da.UseNumber()
	db.UseNumber()
	for i := 0; ; i++ {
		ta, errA := da.Token()
		tb, errB := db.Token()
		if errA == io.EOF && errB == io.EOF {
			return nil
		}
		if errA != nil || errB != nil {
			return fmt.Errorf("token %d: %v / %v", i, errA, errB)
		}
		if ta != tb {
			return fmt.Errorf("token %d: %v (%T) != %v (%T)", i, ta, ta, tb, tb)
		}
	}
}

// sameValue compares two JSON texts as values, ignoring key order.
func sameValue(a, b []byte) error {
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		return err
	}
	if !reflect.DeepEqual(va, vb) {
		return fmt.Errorf("%s\n!= %s", a, b)
	}
	return nil
}

func mustMarshal(t *testing.T, c Control) []byte {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("marshal control: %v", err)
	}
	return b
}

func TestGoldenValidation(t *testing.T) {
	vec := loadVectors(t)
	for _, tc := range vec.ValidationDetails {
		t.Run(tc.Name, func(t *testing.T) {
			ber := unhex(t, tc.ValueHex)
			var c Control
			if err := json.Unmarshal(tc.JSON, &c); err != nil {
				t.Fatal(err)
			}

			// value-json → struct → BER.
			fromJSON, err := c.Validation()
			if err != nil {
				t.Fatalf("Validation(): %v", err)
			}
			direct, err := ValidationFromJSON(c.ValueJSON)
			if err != nil || !reflect.DeepEqual(direct, fromJSON) {
				t.Fatalf("ValidationFromJSON = %+v, %v; Control.Validation = %+v", direct, err, fromJSON)
			}
			if got := AppendValidation(nil, fromJSON); !bytes.Equal(got, ber) {
				t.Fatalf("JSON → BER\n got %x\nwant %x", got, ber)
			}

			// BER → struct → JSON, BER → struct → BER.
			fromBER, err := DecodeValidation(ber)
			if err != nil {
				t.Fatalf("DecodeValidation: %v", err)
			}
			if !reflect.DeepEqual(fromBER, fromJSON) {
				t.Fatalf("BER decodes to %+v, JSON to %+v", fromBER, fromJSON)
			}
			if got := AppendValidation(nil, fromBER); !bytes.Equal(got, ber) {
				t.Fatalf("BER → BER\n got %x\nwant %x", got, ber)
			}
			vj := ValidationToJSON(fromBER)
			if err := sameValue(vj, c.ValueJSON); err != nil {
				t.Fatalf("value-json differs: %v", err)
			}
			if err := sameTokens(vj, c.ValueJSON); err != nil {
				t.Fatalf("value-json key order or values differ: %v\n got %s", err, vj)
			}
			full := mustMarshal(t, ValidationControl(fromBER))
			if err := sameTokens(full, tc.JSON); err != nil {
				t.Fatalf("control object differs from json: %v\n got %s", err, full)
			}
			if err := sameTokens(full, []byte(tc.SDKJSONText)); err != nil {
				t.Fatalf("control object differs from sdk_json_text: %v", err)
			}

			// The value-base64 form decodes to the same value.
			var b64 Control
			if err := json.Unmarshal(tc.ValueBase64JSON, &b64); err != nil {
				t.Fatal(err)
			}
			if b64.ValueBase64 != base64.StdEncoding.EncodeToString(ber) {
				t.Fatalf("vector's value-base64 is not value_hex")
			}
			fromB64, err := b64.Validation()
			if err != nil || !reflect.DeepEqual(fromB64, fromJSON) {
				t.Fatalf("value-base64 decodes to %+v, %v", fromB64, err)
			}
		})
	}
}

func TestGoldenDecodeCheck(t *testing.T) {
	vec := loadVectors(t)
	dc := vec.DecodeCheck
	in := unhex(t, dc.InputHex)
	v, err := DecodeValidation(in)
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendValidation(nil, v); !bytes.Equal(got, unhex(t, dc.ReencodedHex)) {
		t.Fatalf("re-encoded %x", got)
	}
	full := mustMarshal(t, ValidationControl(v))
	if err := sameTokens(full, dc.JSON); err != nil {
		t.Fatalf("control object: %v\n got %s", err, full)
	}
	if err := sameTokens(full, []byte(dc.SDKJSONText)); err != nil {
		t.Fatalf("control object vs sdk_json_text: %v", err)
	}
	for _, tc := range vec.Variants {
		t.Run(tc.Label, func(t *testing.T) {
			b := unhex(t, tc.InputHex)
			if v, err := DecodeValidation(b); err == nil {
				t.Fatalf("DecodeValidation accepted it: %+v", v)
			}
			c := Control{OID: OIDValidationDetailsResponse, ValueBase64: base64.StdEncoding.EncodeToString(b)}
			if v, err := c.Validation(); err == nil || !errors.Is(err, ErrMalformed) {
				t.Fatalf("Control.Validation = %+v, %v; want a malformed-value error", v, err)
			}
		})
	}
}

func TestGoldenPolicy(t *testing.T) {
	vec := loadVectors(t)
	for _, tc := range vec.Ppolicy {
		t.Run(tc.Name, func(t *testing.T) {
			want := bridge.NoPolicy()
			if tc.Input.WarningType != nil {
				want.Warning = map[string]bridge.WarningKind{
					"TIME_BEFORE_EXPIRATION": bridge.TimeBeforeExpiration,
					"GRACE_LOGINS_REMAINING": bridge.GraceAuthNsRemaining,
				}[*tc.Input.WarningType]
				want.WarningValue = *tc.Input.WarningValue
			}
			if tc.Input.ErrorCode != nil {
				want.Error = bridge.PolicyError(*tc.Input.ErrorCode)
			}
			ber := unhex(t, tc.ValueHex)
			var c Control
			if err := json.Unmarshal(tc.JSON, &c); err != nil {
				t.Fatal(err)
			}

			fromJSON, err := c.Policy()
			if err != nil || fromJSON != want {
				t.Fatalf("Policy() = %+v, %v; want %+v", fromJSON, err, want)
			}
			if direct, err := PolicyFromJSON(c.ValueJSON); err != nil || direct != want {
				t.Fatalf("PolicyFromJSON = %+v, %v", direct, err)
			}
			if got := AppendPolicy(nil, fromJSON); !bytes.Equal(got, ber) {
				t.Fatalf("JSON → BER\n got %x\nwant %x", got, ber)
			}

			fromBER, err := DecodePolicy(ber)
			if err != nil || fromBER != want {
				t.Fatalf("DecodePolicy = %+v, %v", fromBER, err)
			}
			if got := AppendPolicy(nil, fromBER); !bytes.Equal(got, ber) {
				t.Fatalf("BER → BER\n got %x", got)
			}
			vj := PolicyToJSON(fromBER)
			if err := sameValue(vj, c.ValueJSON); err != nil {
				t.Fatalf("value-json: %v", err)
			}
			if err := sameTokens(vj, c.ValueJSON); err != nil {
				t.Fatalf("value-json order: %v\n got %s", err, vj)
			}
			full := mustMarshal(t, PolicyControl(fromBER))
			if err := sameTokens(full, tc.JSON); err != nil {
				t.Fatalf("control object: %v\n got %s", err, full)
			}
			if err := sameTokens(full, []byte(tc.SDKJSONText)); err != nil {
				t.Fatalf("control object vs sdk_json_text: %v", err)
			}

			// The older SDK class writes the same bytes as value-base64.
			var b64 Control
			if err := json.Unmarshal(tc.Base64JSON, &b64); err != nil {
				t.Fatal(err)
			}
			if got, err := b64.Policy(); err != nil || got != want {
				t.Fatalf("value-base64 decodes to %+v, %v", got, err)
			}
		})
	}
}

// The example response in the Directory REST API's Password Modify page.
func TestPingDocExampleResponse(t *testing.T) {
	body := []byte(`{
    "_links": {"entry": {"href": "https://localhost:1443/directory/v1/uid=jimbob,ou=People,dc=example,dc=com"}},
    "resultCode": {"value": 0, "name": "success"},
    "_controls": [
        {
            "oid": "1.3.6.1.4.1.30221.2.5.41",
            "control-name": "Password Validation Details Response Control",
            "criticality": false,
            "value-json": {
                "response-type": "validation-performed",
                "validation-details": [
                    {
                        "password-quality-requirement": {
                            "description": "The new password must not be the same as the current password.",
                            "client-side-validation-type": "not-current-password"
                        },
                        "requirement-satisfied": true
                    }
                ],
                "missing-current-password": false,
                "must-change-password": false
            }
        }
    ]
}`)
	var resp struct {
		Controls []Control `json:"_controls"`
	}
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	got, err := resp.Controls[0].Validation()
	if err != nil {
		t.Fatal(err)
	}
	want := &bridge.ValidationDetails{
		ResponseType: bridge.ValidationPerformed,
		Results: []bridge.ValidationResult{{
			Requirement: bridge.Requirement{
				Description:    "The new password must not be the same as the current password.",
				ValidationType: "not-current-password",
			},
			Satisfied: true,
		}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
}

func TestValidationRequestControl(t *testing.T) {
	got := mustMarshal(t, ValidationRequestControl())
	want := `{"oid":"1.3.6.1.4.1.30221.2.5.40","control-name":"Password Validation Details Request Control","criticality":false}`
	if string(got) != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}
