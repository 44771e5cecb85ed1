package bridge

import (
	"sync"

	"github.com/go-ldap/ldap/v3"
)

// Principal is an authenticated identity, held by a session from a
// successful bind until rebind, unbind or close, when the session must call
// Wipe. It keeps the password because backends such as PingDirectory act
// as the user; it is the only place the bridge keeps one.
type Principal struct {
	dn    string
	ndn   *ldap.DN
	id    Identity
	route string // the route base it bound through; "" for local accounts
	local bool

	mu         sync.Mutex
	password   Secret
	mustChange bool
}

// DN is the session's canonical identity: the backend's own name for the
// user (identity.go), not the client's spelling at bind time.
func (p *Principal) DN() string { return p.dn }

// ParsedDN is the parsed canonical identity.
func (p *Principal) ParsedDN() *ldap.DN { return p.ndn }

// Identity is the identity the core resolved at bind time; zero on nil
// (an anonymous session).
func (p *Principal) Identity() Identity {
	if p == nil {
		return Identity{}
	}
	return p.id
}

// Local reports whether the identity is one of the bridge's own service
// accounts rather than a backend user.
func (p *Principal) Local() bool { return p.local }

// MustChange reports whether the session may only change its own password
// (Restriction says what that allows). False on nil.
func (p *Principal) MustChange() bool {
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.mustChange
}

func (p *Principal) credentials() Credentials {
	p.mu.Lock()
	defer p.mu.Unlock()
	// A copy: the session may Wipe while a backend call is still using it.
	return Credentials{DN: p.dn, Password: NewSecret(p.password.Bytes())}
}

// passwordChanged records the session's new password after it changed its
// own, so that later operations on the session authenticate with it.
func (p *Principal) passwordChanged(newPassword Secret) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.password.Wipe()
	p.password = NewSecret(newPassword.Bytes())
	p.mustChange = false
}

// Wipe forgets the password. Safe on nil.
func (p *Principal) Wipe() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.password.Wipe()
}

// Is reports whether dn names this principal: SameDN against the
// canonical identity (another spelling of the same user is not it).
func (p *Principal) Is(dn *ldap.DN) bool { return p != nil && SameDN(p.ndn, dn) }
