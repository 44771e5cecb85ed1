package directorysim

import (
	"encoding/json"
	"testing"
)

// FuzzDecodeChangeRequest: any body either decodes into a request that
// re-encodes to an equivalent object or is rejected, and never panics.
func FuzzDecodeChangeRequest(f *testing.F) {
	for _, seed := range []string{
		`{"oldPassword":"oldPasswordExample","newPassword":"newPasswordExample","_controls":[{"oid":"1.3.6.1.4.1.30221.2.5.40","control-name":"Password Validation Details Request Control","criticality":false}]}`,
		`{}`,
		`{"newPassword":""}`,
		`{"oldPassword":null}`,
		`{"_controls":[{"oid":""}]}`,
		`{"_controls":[{"oid":"1.2.3","criticality":true,"value-base64":"AAA="}]}`,
		`null`,
		`[]`,
		`{"newPassword":"\ud800"}`,
		`{} x`,
		`{"newPassword":"a","newPassword":"b"}`,
	} {
		f.Add("application/json", []byte(seed))
	}
	f.Add("text/plain", []byte(`{}`))
	f.Add("application/hal+json; charset=utf-8", []byte(`{"newPassword":"x"}`))
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		req, err := decodeChangeRequest(contentType, body)
		if err != nil {
			return
		}
		if !isJSON(contentType) {
			t.Fatalf("accepted content type %q", contentType)
		}
		for _, c := range req.Controls {
			if c.OID == "" {
				t.Fatal("accepted a control without an OID")
			}
		}
		again, err := json.Marshal(req)
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		if _, err := decodeChangeRequest("application/json", again); err != nil {
			t.Fatalf("re-encoded %s does not decode: %v", again, err)
		}
	})
}
