package bridge

import (
	"context"

	"github.com/go-ldap/ldap/v3"
)

// Backend is one REST directory behind the bridge. Implementations live in
// restback/...; each turns a request into HTTP calls and the answer into an
// Outcome. They must not retry a password change that may have reached the
// server, and must tell outages (Unavailable, Busy, Other) apart from bad
// credentials (InvalidCredentials).
type Backend interface {
	// Bind verifies a DN and password. Success may carry MustChange and a
	// Policy warning; failure carries InvalidCredentials (with a Policy
	// error such as AccountLocked or PasswordExpired where known) or an
	// outage code.
	Bind(ctx context.Context, req BindRequest) Outcome
	// ChangePassword performs a self change or an administrative reset,
	// already authorised by the core.
	ChangePassword(ctx context.Context, req ChangeRequest) Outcome
}

// RequestControls are the request controls the core understands.
type RequestControls struct {
	PasswordPolicy    bool // 1.3.6.1.4.1.42.2.27.8.5.1
	ValidationDetails bool // 1.3.6.1.4.1.30221.2.5.40
}

// Credentials are a DN and its password, as the session learnt them at
// bind time; backends that act as the user (PingDirectory) use them.
type Credentials struct {
	DN       string
	Password Secret
}

// BindRequest is a simple bind with a non-empty DN and password.
type BindRequest struct {
	DN       string
	Password Secret
	Controls RequestControls
	Route    RouteOptions
	// Parsed is the core's parse of DN (nil: none given), so that a
	// backend need not parse it again. Read only: it is the core's.
	Parsed *ldap.DN
}

// ChangeKind tells a self change from an administrative reset.
type ChangeKind uint8

// The kinds of password change.
const (
	SelfChange ChangeKind = iota + 1
	AdminReset
)

func (k ChangeKind) String() string {
	switch k {
	case SelfChange:
		return "self"
	case AdminReset:
		return "administrative"
	}
	return "unknown"
}

// ChangeRequest is a password change the core has authorised.
type ChangeRequest struct {
	// Target is the DN whose password changes.
	Target string
	Kind   ChangeKind
	// Actor is the identity the backend acts as: the bound session's DN
	// and password, or, for a self change proven by the old password, the
	// target and its old password. Actor.DN is empty for local service
	// accounts (backends then use their own administrative credentials).
	Actor       Credentials
	OldPassword Secret // zero when absent
	NewPassword Secret // zero: the backend (or the bridge) generates one
	Controls    RequestControls
	Route       RouteOptions
}

// RouteOptions are the per-route settings a backend may need.
type RouteOptions struct {
	// Base is the route's base DN.
	Base string
	// ForceChange marks an administratively reset password as
	// must-change (PingOne forceChange); true unless configured otherwise.
	ForceChange bool
	// BypassPolicy lets administrative resets skip the password policy
	// (PingOne bypassPolicy); false unless configured.
	BypassPolicy bool
	// Gateway, when set, is the PingOne LDAP gateway administrative
	// resets carry as external.gateway.
	Gateway *Gateway
}

// Gateway is a PingOne LDAP gateway reference.
type Gateway struct {
	ID         string
	UserTypeID string
	// Correlation maps a correlation attribute name to a template over
	// the DN's RDN attributes, e.g. {"uid": "{uid}"}.
	Correlation map[string]string
}
