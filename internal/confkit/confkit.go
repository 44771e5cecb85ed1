// Package confkit is what the configuration and the backend packages
// share without importing each other: the Duration type, the Checker
// through which a backend's Validate reports problems with their line
// numbers, and the contract of a backend type (its configuration block,
// its constructor, its traits).
//
// A backend type is one package that owns its configuration block: the
// block implements Settings, and config.Backend has one field for it (the
// registry: one line per backend type). Nothing else names backend types.
package confkit

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Checker reports configuration problems at paths such as
// "backends[1].pingone.region"; config implements it, knowing the line of
// every path.
type Checker interface {
	// Add reports a problem at path (once per path).
	Add(path, format string, args ...any)
	// Has reports whether path was written in the file.
	Has(path string) bool
	// Required reports an empty value as missing or empty.
	Required(path, value, what string) bool
	// OneOf reports a value that is none of allowed.
	OneOf(path, value string, allowed ...string) bool
	// URL checks an absolute https URL (http only for a loopback host)
	// and returns it without trailing slashes.
	URL(path, raw, example string) string
	// Show is how a message quotes a value: as written, or only the
	// ${...} reference when it came from the environment.
	Show(path, value string) string
	// Expanded is the value as written when it used ${...}.
	Expanded(path string) (string, bool)
	// FileChecks reports whether files may be read (not for a
	// configuration written for another machine).
	FileChecks() bool
	// Skipped reports a check left out because files may not be read:
	// the path of the key and what was not checked (check-config
	// --offline lists them).
	Skipped(path, what string)
	// ReadFile reads a regular file of at most limit bytes; the error
	// leaves the path out.
	ReadFile(path string, limit int64) ([]byte, error)
}

// Settings is a backend type's configuration block, decoded by config's
// strict decoder (yaml tags; Duration, bridge.Secret, nested structs).
type Settings interface {
	// SetDefaults sets the block's defaults before the file is applied.
	SetDefaults()
	// Validate checks the block, which is at path, and resolves what
	// depends on more than one key.
	Validate(c Checker, path string)
	// Traits are what the core and the configuration must know of the
	// backend type.
	Traits() Traits
	// Build makes the backend. It does not contact it.
	Build(env Env) (Instance, error)
}

// Traits of a backend type.
type Traits struct {
	// Authorizes: the backend applies its own access control to a
	// reset (it acts as the bound user), so a route to it with no admins
	// leaves the decision to it (bridge.Route.BackendAuthorizes).
	Authorizes bool
	// RouteOptions: the route options force_change, bypass_policy and
	// gateway mean something to the backend.
	RouteOptions bool
	// ServiceCredential: the backend can act on its users with a
	// credential of its own (bridge.Route.ServiceCredential), which lets
	// a local account or another route's user listed in a route's
	// admins reset passwords there.
	ServiceCredential bool
	// Needs says what the block needs at least, for the message when it
	// is missing.
	Needs string
}

// Env is what every backend is built with besides its own block.
type Env struct {
	Name    string
	Timeout time.Duration
	// CAFile, when set, is the only trust for the backend's TLS
	// certificate (see restback/transport).
	CAFile string
	Logger *slog.Logger
	// Wrap, when set, wraps the HTTP transport (metrics); the call
	// names come from the request context (transport.CallName).
	Wrap func(http.RoundTripper) http.RoundTripper
	// CacheObserver, when set, hears of every lookup in the backend's
	// caches, for metrics.
	CacheObserver func(cache string, hit bool)
}

// Instance is a built backend: what a configuration generation holds.
type Instance interface {
	bridge.Backend
	// Check is the readiness probe.
	Check(ctx context.Context) error
	// Close releases what the backend holds (idle connections) when a
	// reload retires its generation; operations still running finish.
	Close()
}
