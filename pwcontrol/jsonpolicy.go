package pwcontrol

import (
	"encoding/json"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// errorTypes are the SDK's JSON names of the ppolicy errors, by wire number.
var errorTypes = [...]string{
	"password-expired", "account-locked", "change-after-reset", "password-mod-not-allowed",
	"must-supply-old-password", "insufficient-password-quality", "password-too-short",
	"password-too-young", "password-in-history",
}

type policyJSON struct {
	Warning   *warningJSON `json:"warning,omitempty"`
	ErrorType string       `json:"error-type,omitempty"`
}

type warningJSON struct {
	SecondsUntilExpiration *int64 `json:"seconds-until-expiration,omitempty"`
	GraceLoginsRemaining   *int64 `json:"grace-logins-remaining,omitempty"`
}

// PolicyToJSON writes the value-json object of a password policy response
// control. As in the BER form, an unknown warning kind or error is left out
// and the warning value is clamped to [0, MaxCount].
func PolicyToJSON(p bridge.Policy) json.RawMessage {
	var out policyJSON
	switch p.Warning {
	case bridge.TimeBeforeExpiration:
		v := clamp(p.WarningValue)
		out.Warning = &warningJSON{SecondsUntilExpiration: &v}
	case bridge.GraceAuthNsRemaining:
		v := clamp(p.WarningValue)
		out.Warning = &warningJSON{GraceLoginsRemaining: &v}
	}
	if p.Error >= 0 && int(p.Error) < len(errorTypes) {
		out.ErrorType = errorTypes[p.Error]
	}
	return marshal(out)
}

// PolicyFromJSON decodes the value-json object of a password policy
// response control.
func PolicyFromJSON(valueJSON json.RawMessage) (bridge.Policy, error) {
	const op, what = "decode password policy value-json", "value-json"
	p := bridge.NoPolicy()
	m, err := object(valueJSON, op, what)
	if err != nil {
		return p, err
	}
	var wraw json.RawMessage
	if ok, err := field(m, "warning", &wraw, op, what); err != nil {
		return bridge.NoPolicy(), err
	} else if ok {
		w, err := object(wraw, op, "warning")
		if err != nil {
			return bridge.NoPolicy(), err
		}
		secs, hasSecs, err := count(w, "seconds-until-expiration", op, "warning")
		if err != nil {
			return bridge.NoPolicy(), err
		}
		grace, hasGrace, err := count(w, "grace-logins-remaining", op, "warning")
		if err != nil {
			return bridge.NoPolicy(), err
		}
		switch {
		case hasSecs && hasGrace:
			return bridge.NoPolicy(), invalid(op, "warning has both seconds-until-expiration and grace-logins-remaining")
		case hasSecs:
			p.Warning, p.WarningValue = bridge.TimeBeforeExpiration, secs
		case hasGrace:
			p.Warning, p.WarningValue = bridge.GraceAuthNsRemaining, grace
		default:
			return bridge.NoPolicy(), invalid(op, "warning has neither seconds-until-expiration nor grace-logins-remaining")
		}
	}
	var et string
	if ok, err := field(m, "error-type", &et, op, what); err != nil {
		return bridge.NoPolicy(), err
	} else if ok {
		p.Error = bridge.PolicyErrorNone
		for i, name := range errorTypes {
			if name == et {
				p.Error = bridge.PolicyError(i)
			}
		}
		if p.Error == bridge.PolicyErrorNone {
			return bridge.NoPolicy(), invalid(op, "unknown error-type %.64q", et)
		}
	}
	return p, nil
}

func clamp(v int64) int64 { return min(max(v, 0), MaxCount) }
