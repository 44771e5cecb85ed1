package pingdirectory

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// ChangePassword is one POST /directory/v1/{dn}/changePassword as the
// acting user, always asking for the validation details so that a ppolicy
// error can be derived from them. It is never re-sent once any of it may
// have reached the server.
func (c *Client) ChangePassword(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
	actor := req.Actor
	// service: the core authorised a reset that no user of this backend
	// asked for; the backend's own service credential acts, and no
	// password from elsewhere is sent.
	service := actor.DN == ""
	bearer := ""
	if service {
		switch {
		case c.token != nil:
			tctx, cancel := context.WithTimeout(ctx, c.timeout)
			tok, err := c.token.get(tctx)
			cancel()
			if err != nil {
				return c.tokenOutcome(ctx, err)
			}
			bearer = tok
		case c.admin.DN != "":
			actor = c.admin
		default:
			return bridge.Fail(bridge.InsufficientAccessRights, fmt.Sprintf(
				"PingDirectory backend %q has no service account to act with for this reset", c.name))
		}
	}
	if bearer == "" {
		if actor.Password.IsZero() {
			return bridge.Fail(bridge.UnwillingToPerform, "no credentials to act with on the backend")
		}
		if strings.Contains(actor.DN, ":") {
			return bridge.Fail(bridge.UnwillingToPerform, "the acting DN contains ':', which HTTP Basic authentication to PingDirectory cannot carry")
		}
	}
	if dn, err := bridge.ParseDN(req.Target); err != nil || len(dn.RDNs) == 0 {
		return bridge.Fail(bridge.InvalidDNSyntax, "the target is not a valid DN")
	}
	// JSON strings carry Unicode; a password that is not UTF-8 would be
	// changed into something else on the way.
	if !utf8.Valid(req.OldPassword.Bytes()) || !utf8.Valid(req.NewPassword.Bytes()) {
		return bridge.Fail(bridge.UnwillingToPerform, "passwords must be valid UTF-8 for the PingDirectory REST API")
	}
	ex := c.send(ctx, transport.Change, callChangePassword, func(ctx context.Context) (*http.Request, error) {
		body, err := changeBody(req.OldPassword, req.NewPassword)
		if err != nil {
			return nil, err
		}
		u := c.endpoint(req.Target, "changePassword")
		wb := &wipingBody{b: body}
		r, err := http.NewRequestWithContext(ctx, http.MethodPost, u.String(), wb)
		if err != nil {
			wb.Close()
			return nil, fmt.Errorf("build changePassword request: %w", err)
		}
		r.URL = u
		r.ContentLength = int64(len(body))
		if bearer != "" {
			r.Header.Set("Authorization", "Bearer "+bearer)
		} else {
			r.SetBasicAuth(actor.DN, actor.Password.Reveal())
		}
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Accept", acceptJSON)
		r.Header.Set("User-Agent", userAgent)
		return r, nil
	})
	if ex.Err == nil && ex.Status == http.StatusUnauthorized {
		if service {
			// The bridge's own credential was refused: an outage of
			// the configuration, never a wrong password. The change
			// is not sent again (it is not proof that nothing was
			// done); a new token is fetched for the next one.
			if bearer != "" {
				c.token.invalidate(bearer)
			}
			c.log.WarnContext(ctx, "PingDirectory refused the service account's credentials", "status", ex.Status, "bearer", bearer != "")
			out := bridge.Fail(bridge.Unavailable, fmt.Sprintf("PingDirectory backend %q refused the bridge's service account credentials (HTTP 401)", c.name))
			out.RequestID = transport.RequestID(ex.Header)
			return out
		}
	}
	out := c.changeOutcome(ctx, ex, !req.NewPassword.IsZero())
	if ex.Err == nil && ex.Status == http.StatusUnauthorized {
		// The acting user's password (the session's, or the target's
		// old password) is wrong: invalidCredentials, worded by the
		// core as every wrong password is (a ppolicy error the server
		// sent, such as accountLocked, stays).
		out.Code, out.Diagnostic = bridge.InvalidCredentials, ""
	}
	scrubOutcome(&out, req.OldPassword, req.NewPassword, actor.Password, out.GeneratedPassword)
	out.RequestID = transport.RequestID(ex.Header)
	return out
}

// scrubOutcome removes the passwords in flight from what the server wrote
// into the outcome (its diagnostic, matched DN, the validation details'
// words), as PingOne's are (restback/pingone scrub): a server that echoes
// a password must not put it in front of the client, the log or the audit.
func scrubOutcome(out *bridge.Outcome, secrets ...bridge.Secret) {
	out.Diagnostic = scrub(out.Diagnostic, secrets...)
	out.MatchedDN = scrub(out.MatchedDN, secrets...)
	if v := out.Validation; v != nil {
		for i := range v.Results {
			r := &v.Results[i]
			r.Requirement.Description = scrub(r.Requirement.Description, secrets...)
			if r.AdditionalInfo != nil {
				s := scrub(*r.AdditionalInfo, secrets...)
				r.AdditionalInfo = &s
			}
		}
	}
}

// scrub replaces each secret (of 3 bytes or more, below which ordinary
// words would match) in s with "[REDACTED]".
func scrub(s string, secrets ...bridge.Secret) string {
	for _, sec := range secrets {
		if sec.Len() >= 3 && strings.Contains(s, sec.Reveal()) {
			s = strings.ReplaceAll(s, sec.Reveal(), "[REDACTED]")
		}
	}
	return s
}

// changeOutcome maps the answer to a password change.
func (c *Client) changeOutcome(ctx context.Context, ex *exchange, newGiven bool) bridge.Outcome {
	if ex.Err != nil {
		return c.transportOutcome(opChange, ex)
	}
	res, hasRes := readResult(ex)
	var out bridge.Outcome
	if ex.Status >= 200 && ex.Status < 300 {
		switch {
		case !hasRes:
			return bridge.Fail(bridge.Other, fmt.Sprintf(
				"PingDirectory backend %q: outcome unknown: it answered HTTP %d but the answer could not be read; the password may have been changed",
				c.name, ex.Status))
		case !res.hasCode:
			return bridge.Fail(bridge.Other, fmt.Sprintf(
				"PingDirectory backend %q: outcome unknown: its HTTP %d answer has no resultCode; the password may have been changed",
				c.name, ex.Status))
		}
		out = bridge.Outcome{Code: res.code, Diagnostic: res.diagnostic, MatchedDN: res.matchedDN}
	} else {
		out = c.statusOutcome(opChange, ex, res, hasRes)
		if hasRes {
			out.MatchedDN = res.matchedDN
		}
	}
	if hasRes {
		v, p, errs := responseControls(res.controls)
		for _, err := range errs {
			c.log.WarnContext(ctx, "PingDirectory response control ignored", "err", err.Error())
		}
		out.Validation, out.Policy = v, p
	}
	// Without a ppolicy control, derive the error: PingDirectory answers
	// constraintViolation for a password it rejects, and (as OpenDJ, its
	// ancestor, does) unwillingToPerform for one changed too soon.
	switch {
	case out.Policy != nil || out.Code == bridge.Success:
	case out.Code == bridge.ConstraintViolation:
		out.Policy = bridge.PolicyErr(policyFromValidation(out.Validation))
	case out.Validation != nil && out.Validation.MissingCurrentPassword:
		out.Policy = bridge.PolicyErr(bridge.MustSupplyOldPassword)
	case hasFailedRequirement(out.Validation):
		out.Policy = bridge.PolicyErr(policyFromValidation(out.Validation))
	}
	if out.Code == bridge.Success && !newGiven {
		if res.generated == nil || *res.generated == "" {
			out.Code = bridge.Other
			out.Diagnostic = fmt.Sprintf(
				"PingDirectory backend %q changed the password but returned no generated password; the new password is unknown", c.name)
			return out
		}
		out.GeneratedPassword = bridge.NewSecret([]byte(*res.generated))
	}
	return out
}

// changeBody writes {"oldPassword"?, "newPassword"?, "_controls": [the
// validation details request control]} straight from the secrets' bytes,
// into one buffer sized so that it never grows (no stray copies of the
// passwords are left behind for the garbage collector).
func changeBody(oldPassword, newPassword bridge.Secret) ([]byte, error) {
	ctl, err := json.Marshal([]pwcontrol.Control{pwcontrol.ValidationRequestControl()})
	if err != nil {
		return nil, fmt.Errorf("encode changePassword controls: %w", err)
	}
	b := make([]byte, 0, 64+6*(oldPassword.Len()+newPassword.Len())+len(ctl))
	b = append(b, '{')
	if !oldPassword.IsZero() {
		b = append(b, `"oldPassword":`...)
		b = appendJSONString(b, oldPassword.Bytes())
		b = append(b, ',')
	}
	if !newPassword.IsZero() {
		b = append(b, `"newPassword":`...)
		b = appendJSONString(b, newPassword.Bytes())
		b = append(b, ',')
	}
	b = append(b, `"_controls":`...)
	b = append(b, ctl...)
	b = append(b, '}')
	return b, nil
}

// appendJSONString is transport.AppendJSONString.
func appendJSONString(dst, s []byte) []byte { return transport.AppendJSONString(dst, s) }
