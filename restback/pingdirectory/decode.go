package pingdirectory

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strings"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// OIDs of the response controls the bridge reads from "_controls".
const (
	oidValidationResponse = "1.3.6.1.4.1.30221.2.5.41"
	oidPasswordPolicy     = "1.3.6.1.4.1.42.2.27.8.5.1"
)

// apiResult is the LDAP result a Directory REST API body carries.
//
// Evidence: the changePassword documentation gives the 200 body (resultCode
// {value, name}, matchedDN, diagnosticMessage, generatedPassword,
// _controls) and says that for non-success results "the explicit LDAP
// diagnostic message is included in the HTTP failure response", without
// showing that response. No example of it was found, so decodeResult
// accepts the documented shape on every status and, for the diagnostic,
// the usual alternatives (errorMessage, message, detail); resultCode may be
// the documented object or a bare number. This is the one place that
// choice is made.
type apiResult struct {
	hasCode    bool
	code       bridge.ResultCode
	diagnostic string
	matchedDN  string
	generated  *string
	controls   []pwcontrol.Control
}

var errNotObject = errors.New("answer is not a JSON object")

// decodeResult reads an answer body leniently: a field of the wrong type
// is treated as absent rather than failing the whole answer, because the
// result code must come out of whatever the server (or a proxy) sent.
func decodeResult(body []byte) (apiResult, error) {
	var res apiResult
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil {
		return res, err
	}
	if fields == nil {
		return res, errNotObject
	}
	if raw, ok := fields["resultCode"]; ok {
		res.code, res.hasCode = decodeResultCode(raw)
	}
	for _, k := range []string{"diagnosticMessage", "errorMessage", "message", "detail"} {
		if s, ok := jsonString(fields[k]); ok && strings.TrimSpace(s) != "" {
			res.diagnostic = sanitize(s, maxDiagnostic)
			break
		}
	}
	if s, ok := jsonString(fields["matchedDN"]); ok {
		res.matchedDN = sanitize(s, maxDiagnostic)
	}
	if s, ok := jsonString(fields["generatedPassword"]); ok {
		res.generated = &s
	}
	var controls []json.RawMessage
	if raw, ok := fields["_controls"]; ok && json.Unmarshal(raw, &controls) == nil {
		for _, rc := range controls {
			var c pwcontrol.Control
			if json.Unmarshal(rc, &c) == nil && c.OID != "" {
				res.controls = append(res.controls, c)
			}
		}
	}
	return res, nil
}

// decodeResultCode accepts {"value": n, "name": "..."} or a bare n.
func decodeResultCode(raw json.RawMessage) (bridge.ResultCode, bool) {
	var obj struct {
		Value json.Number `json:"value"`
	}
	num := json.Number("")
	if err := json.Unmarshal(raw, &obj); err == nil && obj.Value != "" {
		num = obj.Value
	} else if err := json.Unmarshal(raw, &num); err != nil {
		return 0, false
	}
	n, err := num.Int64()
	if err != nil || n < 0 || n > math.MaxUint16 {
		return 0, false
	}
	return bridge.ResultCode(n), true
}

func jsonString(raw json.RawMessage) (string, bool) {
	if raw == nil {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

const maxDiagnostic = 512

// sanitize makes backend text safe for a diagnostic (transport.Sanitize).
func sanitize(s string, limit int) string { return transport.Sanitize(s, limit) }

// readResult decodes the body of a response when it claims to be JSON.
func readResult(ex *exchange) (apiResult, bool) {
	if ex.BodyErr != nil || !transport.IsJSON(ex.Header.Get("Content-Type")) || len(bytes.TrimSpace(ex.Body)) == 0 {
		return apiResult{}, false
	}
	res, err := decodeResult(ex.Body)
	return res, err == nil
}

// statusCodes maps an HTTP failure status without a usable LDAP result in
// its body to an LDAP result. Binds differ in one row: an unknown entry is
// invalidCredentials there, as a directory answers a bind to a missing DN.
// Statuses not listed: 5xx unavailable, 429 busy (see outcomeForStatus),
// other 4xx other.
var statusCodes = map[int]bridge.ResultCode{
	http.StatusBadRequest:            bridge.UnwillingToPerform,
	http.StatusUnauthorized:          bridge.InvalidCredentials,
	http.StatusForbidden:             bridge.InsufficientAccessRights,
	http.StatusNotFound:              bridge.NoSuchObject,
	http.StatusMethodNotAllowed:      bridge.UnwillingToPerform,
	http.StatusConflict:              bridge.UnwillingToPerform,
	http.StatusRequestEntityTooLarge: bridge.UnwillingToPerform,
	http.StatusUnsupportedMediaType:  bridge.UnwillingToPerform,
	http.StatusUnprocessableEntity:   bridge.UnwillingToPerform,
}

// requirementErrors maps a failed password quality requirement (by its
// client-side-validation-type) to the ppolicy error it stands for; a
// requirement not listed is insufficientPasswordQuality. "length" and
// "not-current-password" are PingDirectory's names; "password-history" and
// "minimum-password-age" are the simulator's (no evidence found for
// PingDirectory's own), kept here so that both spellings map.
var requirementErrors = map[string]bridge.PolicyError{
	"length":               bridge.PasswordTooShort,
	"not-current-password": bridge.PasswordInHistory,
	"password-history":     bridge.PasswordInHistory,
	"minimum-password-age": bridge.PasswordTooYoung,
}

// policyFromValidation derives a ppolicy error for a constraintViolation
// from the failed requirements: too young wins (nothing else was judged);
// otherwise one kind of failure gives its error, a mix gives
// insufficientPasswordQuality.
func policyFromValidation(v *bridge.ValidationDetails) bridge.PolicyError {
	if v == nil {
		return bridge.InsufficientPasswordQuality
	}
	found := bridge.PolicyErrorNone
	mixed := false
	for _, r := range v.Results {
		if r.Satisfied {
			continue
		}
		e, ok := requirementErrors[r.Requirement.ValidationType]
		if !ok {
			e = bridge.InsufficientPasswordQuality
		}
		if e == bridge.PasswordTooYoung {
			return e
		}
		if found != bridge.PolicyErrorNone && found != e {
			mixed = true
		}
		found = e
	}
	if found == bridge.PolicyErrorNone || mixed {
		return bridge.InsufficientPasswordQuality
	}
	return found
}

func hasFailedRequirement(v *bridge.ValidationDetails) bool {
	if v == nil {
		return false
	}
	for _, r := range v.Results {
		if !r.Satisfied {
			return true
		}
	}
	return false
}

// responseControls reads the validation details and ppolicy controls;
// one that does not decode is logged by the caller and ignored.
func responseControls(controls []pwcontrol.Control) (v *bridge.ValidationDetails, p *bridge.Policy, errs []error) {
	for _, c := range controls {
		switch c.OID {
		case oidValidationResponse:
			d, err := c.Validation()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			v = d
		case oidPasswordPolicy:
			pol, err := c.Policy()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if pol.Error != bridge.PolicyErrorNone || pol.Warning != bridge.WarningNone {
				p = &pol
			}
		}
	}
	return v, p, errs
}
