package bridge

import "log/slog"

// Outcome is everything the front end needs to answer one operation: the
// result code, the diagnostic and matched DN, a generated password, the
// password policy control content and the validation details. Backends
// return one; the core adjusts it; the front end encodes it. It is never
// split into a code here and an error there.
type Outcome struct {
	Code       ResultCode
	Diagnostic string
	MatchedDN  string

	// GeneratedPassword is set when the backend or the bridge generated the
	// new password; it goes back to the client as genPasswd.
	GeneratedPassword Secret

	// Policy is the ppolicy response content, nil when there is nothing to
	// say (the front end still sends an empty control if one was requested).
	Policy *Policy

	// Validation is the Password Validation Details response, nil if none.
	Validation *ValidationDetails

	// MustChange is set on a successful Bind whose password was reset by an
	// administrator: the session is restricted to changing it.
	MustChange bool

	// RequestID is the backend's correlation id, for audit.
	RequestID string

	// Subject is the backend's own name for the user the operation was
	// about, as a DN (the canonical identity, see identity.go): PingOne's
	// uid={username},<base>, PingDirectory's entry DN. Backends set it on
	// a successful bind, and wherever else they know it (a failed bind of
	// a user they found, a change target); "" when they do not.
	Subject string

	// Reason is why the operation failed, in words for the log and the
	// audit record and never for the client (an unknown user, a locked
	// account: the client sees only what the Diagnostic says).
	Reason string
}

// OK reports whether the outcome is success.
func (o Outcome) OK() bool { return o.Code == Success }

// Fail builds an outcome with a code and a diagnostic.
func Fail(code ResultCode, diagnostic string) Outcome {
	return Outcome{Code: code, Diagnostic: diagnostic}
}

// LogValue lists the outcome without any password.
func (o Outcome) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.Int("code", int(o.Code)),
		slog.String("result", o.Code.String()),
	}
	if o.Diagnostic != "" {
		attrs = append(attrs, slog.String("diagnostic", o.Diagnostic))
	}
	if o.MatchedDN != "" {
		attrs = append(attrs, slog.String("matched_dn", o.MatchedDN))
	}
	if !o.GeneratedPassword.IsZero() {
		attrs = append(attrs, slog.Bool("generated", true))
	}
	if o.Policy != nil && o.Policy.Error != PolicyErrorNone {
		attrs = append(attrs, slog.String("ppolicy_error", o.Policy.Error.String()))
	}
	if o.RequestID != "" {
		attrs = append(attrs, slog.String("request_id", o.RequestID))
	}
	if o.Reason != "" {
		attrs = append(attrs, slog.String("reason", o.Reason))
	}
	return slog.GroupValue(attrs...)
}
