// The JSON form: the functions here convert the two response controls to
// and from the form the PingDirectory Directory REST API uses in
// "_controls" (the UnboundID LDAP SDK's toJSONControl form).
//
// Encoding writes the keys in the SDK's order. Decoding accepts keys in any
// order and ignores keys it does not know, as the SDK's lenient mode does:
// the JSON comes from a server that may add fields in a later release, and
// the bridge must keep working across that upgrade. Everything it does know
// is checked strictly: types, required fields, enumerated names, ranges.

package pwcontrol

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Control is a control object as the Directory REST API writes it in "_controls".
type Control struct {
	OID         string          `json:"oid"`
	ControlName string          `json:"control-name,omitempty"`
	Criticality bool            `json:"criticality"`
	ValueJSON   json.RawMessage `json:"value-json,omitempty"`
	ValueBase64 string          `json:"value-base64,omitempty"`
}

// The control names the SDK writes.
const (
	NamePolicyResponse     = "Password Policy Response Control"
	NameValidationResponse = "Password Validation Details Response Control"
	NameValidationRequest  = "Password Validation Details Request Control"
)

// ErrInvalid is wrapped by every decoding error.
var ErrInvalid = errors.New("invalid control JSON")

// invalid builds a decoding error; op is "" in helpers whose caller adds
// the operation and the position.
func invalid(op, format string, args ...any) error {
	if op == "" {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	return fmt.Errorf("%s: %w: %s", op, ErrInvalid, fmt.Sprintf(format, args...))
}

// ValidationControl is the full response control object, as the SDK's
// toJSONControl writes it.
func ValidationControl(v *bridge.ValidationDetails) Control {
	return Control{
		OID:         OIDValidationDetailsResponse,
		ControlName: NameValidationResponse,
		ValueJSON:   ValidationToJSON(v),
	}
}

// PolicyControl is the full password policy response control object.
func PolicyControl(p bridge.Policy) Control {
	return Control{
		OID:         OIDPasswordPolicy,
		ControlName: NamePolicyResponse,
		ValueJSON:   PolicyToJSON(p),
	}
}

// ValidationRequestControl is the Password Validation Details request
// control (no value), as in the Directory REST API's documentation.
func ValidationRequestControl() Control {
	return Control{OID: OIDValidationDetailsRequest, ControlName: NameValidationRequest}
}

// Validation decodes a Password Validation Details response control from
// its value-json or its value-base64 (exactly one must be present).
func (c Control) Validation() (*bridge.ValidationDetails, error) {
	const op = "decode password validation details control"
	if c.OID != OIDValidationDetailsResponse {
		return nil, invalid(op, "OID %.64q is not %s", c.OID, OIDValidationDetailsResponse)
	}
	raw, hasJSON, err := c.value(op)
	if err != nil {
		return nil, err
	}
	if hasJSON {
		return ValidationFromJSON(c.ValueJSON)
	}
	v, err := DecodeValidation(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: value-base64: %w", op, err)
	}
	return v, nil
}

// Policy decodes a password policy response control from its value-json or
// its value-base64 (exactly one must be present).
func (c Control) Policy() (bridge.Policy, error) {
	const op = "decode password policy control"
	if c.OID != OIDPasswordPolicy {
		return bridge.NoPolicy(), invalid(op, "OID %.64q is not %s", c.OID, OIDPasswordPolicy)
	}
	raw, hasJSON, err := c.value(op)
	if err != nil {
		return bridge.NoPolicy(), err
	}
	if hasJSON {
		return PolicyFromJSON(c.ValueJSON)
	}
	p, err := DecodePolicy(raw)
	if err != nil {
		return bridge.NoPolicy(), fmt.Errorf("%s: value-base64: %w", op, err)
	}
	return p, nil
}

// value tells which value form the control carries and decodes the base64
// one. A JSON null counts as absent.
func (c Control) value(op string) (raw []byte, hasJSON bool, err error) {
	hasJSON = len(c.ValueJSON) > 0 && !bytes.Equal(bytes.TrimSpace(c.ValueJSON), []byte("null"))
	switch {
	case hasJSON && c.ValueBase64 != "":
		return nil, false, invalid(op, "both value-json and value-base64 are present")
	case hasJSON:
		return nil, true, nil
	case c.ValueBase64 == "":
		return nil, false, invalid(op, "the control has no value")
	}
	raw, err = base64.StdEncoding.Strict().DecodeString(c.ValueBase64)
	if err != nil {
		return nil, false, invalid(op, "value-base64: %v", err)
	}
	return raw, false, nil
}

// marshal writes v as compact JSON without HTML escaping (the SDK writes
// '<' and '&' as they are). Marshalling these fixed shapes cannot fail.
func marshal(v any) json.RawMessage {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(fmt.Sprintf("pwcontrol: marshal %T: %v", v, err)) // unreachable: no maps, channels or funcs
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// object decodes a JSON object into its fields, keyed exactly (encoding/json
// would match struct fields case-insensitively).
func object(raw json.RawMessage, op, what string) (map[string]json.RawMessage, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, invalid(op, "%s: %v", what, err)
	}
	if m == nil {
		return nil, invalid(op, "%s: null, want an object", what)
	}
	return m, nil
}

// field decodes the field key of m into dst and reports whether it was
// there; a JSON null counts as absent.
func field(m map[string]json.RawMessage, key string, dst any, op, what string) (bool, error) {
	raw, ok := m[key]
	if !ok || bytes.Equal(raw, []byte("null")) {
		return false, nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		return false, invalid(op, "%s.%s: %v", what, key, err)
	}
	return true, nil
}

// count decodes an integer field in [0, MaxCount].
func count(m map[string]json.RawMessage, key, op, what string) (int64, bool, error) {
	var n int64
	ok, err := field(m, key, &n, op, what)
	if err != nil || !ok {
		return 0, ok, err
	}
	if n < 0 || n > MaxCount {
		return 0, false, invalid(op, "%s.%s: %d is out of range", what, key, n)
	}
	return n, true, nil
}
