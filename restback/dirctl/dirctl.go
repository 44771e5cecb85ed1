// Package dirctl converts the two response controls to and from the JSON
// form the PingDirectory Directory REST API uses in "_controls".
package dirctl

import (
	"encoding/json"
	"errors"

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

var errTODO = errors.New("not implemented yet")

// ValidationFromJSON decodes a Password Validation Details "value-json".
func ValidationFromJSON(valueJSON json.RawMessage) (*bridge.ValidationDetails, error) {
	return nil, errTODO
}

// ValidationToJSON writes the "value-json" object of a Password Validation Details control.
func ValidationToJSON(v *bridge.ValidationDetails) json.RawMessage { return json.RawMessage(`{}`) }

// PolicyFromJSON decodes a password policy "value-json".
func PolicyFromJSON(valueJSON json.RawMessage) (bridge.Policy, error) {
	return bridge.NoPolicy(), errTODO
}

// PolicyToJSON writes the "value-json" object of a password policy control.
func PolicyToJSON(p bridge.Policy) json.RawMessage { return json.RawMessage(`{}`) }

// ValidationControl is the full response control object.
func ValidationControl(v *bridge.ValidationDetails) Control { return Control{} }

// PolicyControl is the full response control object.
func PolicyControl(p bridge.Policy) Control { return Control{} }

// ValidationRequestControl is the request control (.40).
func ValidationRequestControl() Control { return Control{} }

// Validation decodes a Password Validation Details response control.
func (c Control) Validation() (*bridge.ValidationDetails, error) { return nil, errTODO }

// Policy decodes a password policy response control.
func (c Control) Policy() (bridge.Policy, error) { return bridge.NoPolicy(), errTODO }
