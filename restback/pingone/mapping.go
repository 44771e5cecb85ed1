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
	diag         string
}

// rules is THE mapping from PingOne answers to LDAP results: the only
// place that decides a result code or a ppolicy error. Bind uses the
// bind column, password changes (and SetGateway) the change column.
var rules = [numFailures]rule{
	fTooShort:       {bridge.ConstraintViolation, bridge.ConstraintViolation, bridge.PasswordTooShort, "the new password is too short for the password policy"},
	fInHistory:      {bridge.ConstraintViolation, bridge.ConstraintViolation, bridge.PasswordInHistory, "the new password was used recently"},
	fTooYoung:       {bridge.ConstraintViolation, bridge.ConstraintViolation, bridge.PasswordTooYoung, "the password was changed too recently to change it again"},
	fQuality:        {bridge.ConstraintViolation, bridge.ConstraintViolation, bridge.InsufficientPasswordQuality, "the new password does not meet the password policy"},
	fWrongPassword:  {bridge.InvalidCredentials, bridge.InvalidCredentials, bridge.PolicyErrorNone, "invalid credentials"},
	fLocked:         {bridge.InvalidCredentials, bridge.InvalidCredentials, bridge.AccountLocked, "the account is locked after too many failed attempts"},
	fExpired:        {bridge.InvalidCredentials, bridge.InvalidCredentials, bridge.PasswordExpired, "the password has expired"},
	fNoPassword:     {bridge.InvalidCredentials, bridge.UnwillingToPerform, bridge.PolicyErrorNone, "PingOne holds no password for this user"},
	fNoOldPassword:  {bridge.UnwillingToPerform, bridge.UnwillingToPerform, bridge.MustSupplyOldPassword, "must supply old password to change it"},
	fRejected:       {bridge.UnwillingToPerform, bridge.UnwillingToPerform, bridge.PolicyErrorNone, "PingOne refused the request"},
	fCredentials:    {bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, "PingOne refused the bridge's worker application credentials"},
	fForbidden:      {bridge.InsufficientAccessRights, bridge.InsufficientAccessRights, bridge.PolicyErrorNone, "the bridge's worker application may not do this in PingOne"},
	fNotFound:       {bridge.InvalidCredentials, bridge.NoSuchObject, bridge.PolicyErrorNone, "no such user in PingOne"},
	fAmbiguous:      {bridge.InvalidCredentials, bridge.UnwillingToPerform, bridge.PolicyErrorNone, "the DN matches more than one PingOne user"},
	fBadDN:          {bridge.InvalidCredentials, bridge.NoSuchObject, bridge.PolicyErrorNone, "the DN does not name a PingOne user"},
	fCorrelation:    {bridge.UnwillingToPerform, bridge.UnwillingToPerform, bridge.PolicyErrorNone, "cannot build the LDAP gateway correlation attributes"},
	fBusy:           {bridge.Busy, bridge.Busy, bridge.PolicyErrorNone, "PingOne is rate limiting requests; try again later"},
	fUnreachable:    {bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, "PingOne is unavailable"},
	fServerError:    {bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, "PingOne is unavailable"},
	fNoAnswer:       {bridge.Unavailable, bridge.Unavailable, bridge.PolicyErrorNone, "PingOne did not answer in time"},
	fOutcomeUnknown: {bridge.Other, bridge.Other, bridge.PolicyErrorNone, "outcome unknown: PingOne did not answer the password change, which may or may not have been applied"},
	fCanceled:       {bridge.Canceled, bridge.Canceled, bridge.PolicyErrorNone, "operation canceled"},
	fProtocol:       {bridge.Unavailable, bridge.Other, bridge.PolicyErrorNone, "unexpected answer from PingOne"},
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
	err   error
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
