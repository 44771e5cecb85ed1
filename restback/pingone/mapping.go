package pingone

import (
	"strings"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// failure is what went wrong, in PingOne's terms, before it becomes an
// LDAP outcome through rules.
type failure uint8

const (
	fTooShort       failure = iota // 400, policy: only length unmet
	fInHistory                     // 400, policy: only history unmet
	fTooYoung                      // 400, policy: minimum age
	fQuality                       // 400, policy: anything else
	fWrongPassword                 // 400 INVALID_VALUE on password / currentPassword
	fLocked                        // PASSWORD_LOCKED_OUT, or no failures remaining
	fExpired                       // check: status PASSWORD_EXPIRED
	fNoPassword                    // REQUEST_FAILED, NO_PASSWORD, EXTERNAL: PingOne holds no password
	fCheckRefused                  // any other 400 of password.check with PingOne's error body
	fNoOldPassword                 // self change without a current password
	fRejected                      // any other 400
	fCredentials                   // the worker token was refused (401 after a refresh, bad secret)
	fForbidden                     // 403
	fNotFound                      // 404, or no user for the DN
	fAmbiguous                     // the DN matches several users
	fBadDN                         // the DN lacks what the user mapping needs
	fCorrelation                   // the DN lacks what the gateway's correlation templates need
	fBusy                          // 429
	fUnreachable                   // not sent (dial failure), or 503
	fServerError                   // other 5xx
	fNoAnswer                      // a check or read was sent and not answered
	fOutcomeUnknown                // a change was sent and not answered
	fCanceled                      // the caller gave up before anything was sent
	fProtocol                      // an answer the client cannot use
	numFailures
)

// rule is one row of the PingOne-to-LDAP mapping.
type rule struct {
	bind, change bridge.ResultCode
	policy       bridge.PolicyError
	// quiet rows answer a bind with invalidCredentials and no diagnostic
	// of their own: the core words it as it words a wrong password, so
	// that no client learns whether an account exists, is locked or has
	// a password (the reason goes to the log and the audit record only).
	quiet bool
	diag  string
}

// rules is THE mapping from PingOne answers to LDAP results: the only
// place that decides a result code or a ppolicy error. Bind uses the
// bind column, password changes (and SetGateway) the change column.
//
// The password statuses come from the Password Check page
// (developer.pingidentity.com/pingone-api/platform/users/user-passwords/password-check.html):
// OK, MUST_CHANGE_PASSWORD and PASSWORD_EXPIRED answer 200 when the
// password matched; NO_PASSWORD and PASSWORD_LOCKED_OUT answer 400. An
// expired password is invalidCredentials with ppolicy passwordExpired; a
// must-change password binds (changeAfterReset, see Bind); a locked
// account and a user without a password answer exactly as a wrong
// password does (quiet), ppolicy accountLocked travelling in the
// Outcome for the audit record and for a client that asked for the
// ppolicy control (ldapfront sends the control only then). See
// docs/ping-api.md.
var rules = [numFailures]rule{
	fTooShort:       {bridge.ConstraintViolation, bridge.ConstraintViolation, bridge.PasswordTooShort, false, "the new password is too short for the password policy"},
	fInHistory:      {bridge.ConstraintViolation, bridge.ConstraintViolation, bridge.PasswordInHistory, false, "the new password was used recently"},
	fTooYoung:       {bridge.ConstraintViolation, bridge.ConstraintViolation, bridge.PasswordTooYoung, false, "the password was changed too recently to change it again"},
	fQuality:        {bridge.ConstraintViolation, bridge.ConstraintViolation, bridge.InsufficientPasswordQuality, false, "the new password does not meet the password policy"},
	fWrongPassword:  {bridge.InvalidCredentials, bridge.InvalidCredentials, bridge.PolicyErrorNone, true, "invalid credentials"},
	fLocked:         {bridge.InvalidCredentials, bridge.InvalidCredentials, bridge.AccountLocked, true, "the account is locked after too many failed attempts"},
	fExpired:        {bridge.InvalidCredentials, bridge.InvalidCredentials, bridge.PasswordExpired, false, "the password has expired"},
	fNoPassword:     {bridge.InvalidCredentials, bridge.UnwillingToPerform, bridge.PolicyErrorNone, true, "PingOne holds no password for this user"},
	fCheckRefused:   {bridge.InvalidCredentials, bridge.UnwillingToPerform, bridge.PolicyErrorNone, true, "PingOne refused the password check"},
	fNoOldPassword:  {bridge.UnwillingToPerform, bridge.UnwillingToPerform, bridge.MustSupplyOldPassword, false, "must supply old password to change it"},
	fRejected:       {bridge.UnwillingToPerform, bridge.UnwillingToPerform, bridge.PolicyErrorNone, false, "PingOne refused the request"},
	fCredentials:    {bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, false, "PingOne refused the bridge's worker application credentials"},
	fForbidden:      {bridge.InsufficientAccessRights, bridge.InsufficientAccessRights, bridge.PolicyErrorNone, false, "the bridge's worker application may not do this in PingOne"},
	fNotFound:       {bridge.InvalidCredentials, bridge.NoSuchObject, bridge.PolicyErrorNone, true, "no such user in PingOne"},
	fAmbiguous:      {bridge.InvalidCredentials, bridge.UnwillingToPerform, bridge.PolicyErrorNone, true, "the DN matches more than one PingOne user"},
	fBadDN:          {bridge.InvalidCredentials, bridge.NoSuchObject, bridge.PolicyErrorNone, true, "the DN does not name a PingOne user"},
	fCorrelation:    {bridge.UnwillingToPerform, bridge.UnwillingToPerform, bridge.PolicyErrorNone, false, "cannot build the LDAP gateway correlation attributes"},
	fBusy:           {bridge.Busy, bridge.Busy, bridge.PolicyErrorNone, false, "PingOne is rate limiting requests; try again later"},
	fUnreachable:    {bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, false, "PingOne is unavailable"},
	fServerError:    {bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, false, "PingOne is unavailable"},
	fNoAnswer:       {bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, false, "PingOne did not answer in time"},
	fOutcomeUnknown: {bridge.Other, bridge.Other, bridge.PolicyErrorNone, false, "outcome unknown: PingOne did not answer the password change, which may or may not have been applied"},
	fCanceled:       {bridge.Canceled, bridge.Canceled, bridge.PolicyErrorNone, false, "operation canceled"},
	fProtocol:       {bridge.Unavailable, bridge.Other, bridge.PolicyErrorNone, false, "unexpected answer from PingOne"},
}

type opKind uint8

const (
	opBind opKind = iota
	opChange
)

// opError carries a failure through the client until it becomes an
// Outcome. Its text never holds a password.
type opError struct {
	f         failure
	detail    string
	requestID string
	// notSent is set when the request certainly never left the client.
	notSent bool
	// unmet lists PingOne's unsatisfiedRequirements for policy failures.
	unmet []string
	// apiCode is the top-level code of PingOne's error body, if any.
	apiCode string
	// policyRefusal: PingOne refused the new password (INVALID_VALUE on
	// newPassword or value) without naming unsatisfied requirements.
	policyRefusal bool
	err           error
}

func (e *opError) Error() string {
	if e.detail == "" {
		return rules[e.f].diag
	}
	return rules[e.f].diag + ": " + e.detail
}

func (e *opError) Unwrap() error { return e.err }

// outcome turns a failure into the LDAP outcome of op.
func (e *opError) outcome(op opKind) bridge.Outcome {
	r := rules[e.f]
	out := bridge.Outcome{Code: r.change, Diagnostic: e.Error(), RequestID: e.requestID}
	if op == opBind {
		out.Code = r.bind
		if r.quiet {
			// The core words it as it words a wrong password.
			out.Diagnostic = ""
		}
	}
	if r.policy != bridge.PolicyErrorNone {
		out.Policy = bridge.PolicyErr(r.policy)
	}
	return out
}

// sanitize makes server-provided text fit for a diagnostic: printable,
// one line, bounded (transport.Sanitize).
func sanitize(s string, limit int) string { return transport.Sanitize(s, limit) }

// scrub removes any of the secrets from server-provided text before it can
// reach a diagnostic.
func scrub(s string, secrets ...bridge.Secret) string {
	for _, sec := range secrets {
		if sec.Len() >= 3 {
			s = strings.ReplaceAll(s, sec.Reveal(), "[REDACTED]")
		}
	}
	return s
}
