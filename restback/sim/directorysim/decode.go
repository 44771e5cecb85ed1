package directorysim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"strings"

	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

// maxBody bounds a request body; a password change is a few hundred bytes.
const maxBody = 64 << 10

// changeRequest is a decoded changePassword body. A field that is absent
// (or null) is nil; an empty string is present and empty.
type changeRequest struct {
	OldPassword *string             `json:"oldPassword"`
	NewPassword *string             `json:"newPassword"`
	Controls    []pwcontrol.Control `json:"_controls"`
}

var errUnsupportedMedia = errors.New("the request body must be application/json")

// isJSON reports whether a Content-Type names JSON (application/json or a
// +json subtype).
func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// decodeChangeRequest parses a changePassword request body strictly:
// unknown fields, trailing data, controls without an OID and bodies that
// are not one JSON object are errors, as the Directory REST API rejects
// them with 400.
func decodeChangeRequest(contentType string, body []byte) (changeRequest, error) {
	var req changeRequest
	if !isJSON(contentType) {
		return req, errUnsupportedMedia
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return req, errors.New("the request body is empty")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		return changeRequest{}, fmt.Errorf("the request body is not a valid changePassword object: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return changeRequest{}, errors.New("the request body has data after the JSON object")
	}
	if bytes.HasPrefix(bytes.TrimSpace(body), []byte("null")) {
		return changeRequest{}, errors.New("the request body must be a JSON object")
	}
	for i, c := range req.Controls {
		if strings.TrimSpace(c.OID) == "" {
			return changeRequest{}, fmt.Errorf("request control %d has no oid", i)
		}
	}
	return req, nil
}
