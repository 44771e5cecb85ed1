package pwcontrol

import (
	"encoding/json"
	"fmt"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// responseTypes are the SDK's JSON names of the response types, by CHOICE tag.
var responseTypes = [...]string{
	"validation-performed", "no-password-provided", "multiple-passwords-provided", "no-validation-attempted",
}

// The struct field order is the SDK's key order.
type validationJSON struct {
	ResponseType           string        `json:"response-type"`
	ValidationDetails      *[]detailJSON `json:"validation-details,omitempty"`
	MissingCurrentPassword bool          `json:"missing-current-password"`
	MustChangePassword     bool          `json:"must-change-password"`
	SecondsUntilExpiration *int64        `json:"seconds-until-expiration,omitempty"`
}

type detailJSON struct {
	Requirement           requirementJSON `json:"password-quality-requirement"`
	RequirementSatisfied  bool            `json:"requirement-satisfied"`
	AdditionalInformation *string         `json:"additional-information,omitempty"`
}

type requirementJSON struct {
	Description string         `json:"description"`
	Type        string         `json:"client-side-validation-type,omitempty"`
	Properties  []propertyJSON `json:"client-side-validation-properties,omitempty"`
}

type propertyJSON struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// ValidationToJSON writes the value-json object of a Password Validation
// Details response control, with the same normalisation as the BER
// encoder: nil or an unknown response type is no-validation-attempted,
// validation-details appear for validation-performed only, properties only
// with a validation type, seconds clamped to [0, MaxCount].
func ValidationToJSON(v *bridge.ValidationDetails) json.RawMessage {
	var out validationJSON
	rt := bridge.NoValidationAttempted
	if v != nil && v.ResponseType <= bridge.NoValidationAttempted {
		rt = v.ResponseType
	}
	out.ResponseType = responseTypes[rt]
	if v == nil {
		return marshal(out)
	}
	if rt == bridge.ValidationPerformed {
		details := make([]detailJSON, len(v.Results))
		for i, r := range v.Results {
			d := &details[i]
			d.Requirement.Description = r.Requirement.Description
			d.Requirement.Type = r.Requirement.ValidationType
			if r.Requirement.ValidationType != "" {
				for _, p := range r.Requirement.Properties {
					d.Requirement.Properties = append(d.Requirement.Properties, propertyJSON(p))
				}
			}
			d.RequirementSatisfied = r.Satisfied
			d.AdditionalInformation = r.AdditionalInfo
		}
		out.ValidationDetails = &details
	}
	out.MissingCurrentPassword = v.MissingCurrentPassword
	out.MustChangePassword = v.MustChangePassword
	if v.SecondsUntilExpiration != nil {
		s := clamp(*v.SecondsUntilExpiration)
		out.SecondsUntilExpiration = &s
	}
	return marshal(out)
}

// ValidationFromJSON decodes the value-json object of a Password Validation
// Details response control. As in the SDK, response-type,
// missing-current-password and must-change-password are required. What the
// bridge form cannot hold is an error: validation-details with another
// response type, an empty client-side-validation-type, properties without
// a type, a repeated property name.
func ValidationFromJSON(valueJSON json.RawMessage) (*bridge.ValidationDetails, error) {
	const op, what = "decode password validation details value-json", "value-json"
	m, err := object(valueJSON, op, what)
	if err != nil {
		return nil, err
	}
	v := &bridge.ValidationDetails{}
	var rt string
	if ok, err := field(m, "response-type", &rt, op, what); err != nil {
		return nil, err
	} else if !ok {
		return nil, invalid(op, "response-type is missing")
	}
	found := false
	for i, name := range responseTypes {
		if name == rt {
			v.ResponseType, found = bridge.ValidationResponseType(i), true
		}
	}
	if !found {
		return nil, invalid(op, "unknown response-type %.64q", rt)
	}

	var details []json.RawMessage
	if _, err := field(m, "validation-details", &details, op, what); err != nil {
		return nil, err
	}
	if len(details) > 0 && v.ResponseType != bridge.ValidationPerformed {
		return nil, invalid(op, "validation-details with response-type %s", rt)
	}
	for i, raw := range details {
		r, err := detailFromJSON(raw)
		if err != nil {
			return nil, fmt.Errorf("%s: validation-details[%d]: %w", op, i, err)
		}
		v.Results = append(v.Results, r)
	}

	for _, f := range []struct {
		key string
		dst *bool
	}{
		{"missing-current-password", &v.MissingCurrentPassword},
		{"must-change-password", &v.MustChangePassword},
	} {
		if ok, err := field(m, f.key, f.dst, op, what); err != nil {
			return nil, err
		} else if !ok {
			return nil, invalid(op, "%s is missing", f.key)
		}
	}
	if s, ok, err := count(m, "seconds-until-expiration", op, what); err != nil {
		return nil, err
	} else if ok {
		v.SecondsUntilExpiration = &s
	}
	return v, nil
}

// detailFromJSON decodes one validation-details element; the caller names
// the operation and the element's index in its errors.
func detailFromJSON(raw json.RawMessage) (bridge.ValidationResult, error) {
	const op = ""
	var r bridge.ValidationResult
	m, err := object(raw, op, "element")
	if err != nil {
		return r, err
	}
	var rraw json.RawMessage
	if ok, err := field(m, "password-quality-requirement", &rraw, op, "element"); err != nil {
		return r, err
	} else if !ok {
		return r, invalid(op, "password-quality-requirement is missing")
	}
	if r.Requirement, err = requirementFromJSON(rraw, op); err != nil {
		return r, err
	}
	if ok, err := field(m, "requirement-satisfied", &r.Satisfied, op, "element"); err != nil {
		return r, err
	} else if !ok {
		return r, invalid(op, "requirement-satisfied is missing")
	}
	var info string
	if ok, err := field(m, "additional-information", &info, op, "element"); err != nil {
		return r, err
	} else if ok {
		r.AdditionalInfo = &info
	}
	return r, nil
}

func requirementFromJSON(raw json.RawMessage, op string) (bridge.Requirement, error) {
	const what = "password-quality-requirement"
	var req bridge.Requirement
	m, err := object(raw, op, what)
	if err != nil {
		return req, err
	}
	if ok, err := field(m, "description", &req.Description, op, what); err != nil {
		return req, err
	} else if !ok {
		return req, invalid(op, "description is missing")
	}
	hasType, err := field(m, "client-side-validation-type", &req.ValidationType, op, what)
	if err != nil {
		return req, err
	}
	if hasType && req.ValidationType == "" {
		// "" means "absent" in bridge.Requirement.
		return req, invalid(op, "client-side-validation-type is empty")
	}
	var props []json.RawMessage
	if _, err := field(m, "client-side-validation-properties", &props, op, what); err != nil {
		return req, err
	}
	if len(props) > 0 && !hasType {
		return req, invalid(op, "client-side-validation-properties without client-side-validation-type")
	}
	seen := make(map[string]struct{}, len(props))
	for i, praw := range props {
		pm, err := object(praw, op, "property")
		if err != nil {
			return req, err
		}
		var p bridge.Property
		if ok, err := field(pm, "name", &p.Name, op, "property"); err != nil {
			return req, err
		} else if !ok {
			return req, invalid(op, "client-side-validation-properties[%d]: name is missing", i)
		}
		if ok, err := field(pm, "value", &p.Value, op, "property"); err != nil {
			return req, err
		} else if !ok {
			return req, invalid(op, "client-side-validation-properties[%d]: value is missing", i)
		}
		if _, dup := seen[p.Name]; dup {
			return req, invalid(op, "client-side-validation-properties: %.64q repeated", p.Name)
		}
		seen[p.Name] = struct{}{}
		req.Properties = append(req.Properties, p)
	}
	return req, nil
}
