// Package generation turns a configuration into the one value the core
// serves (bridge.State): routes, backends, local accounts, the
// verified-bind cache and the root DSE's naming contexts. config knows
// nothing of the core; the core knows nothing of the configuration file;
// this is where the two meet. A reload builds a new generation here and
// swaps it in with bridge.Bridge.Swap.
package generation

import (
	"maps"

	"github.com/ldapbridge/ldapbridge/accounts"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/confkit"
)

// Build makes the core's state from cfg and the backends built for it,
// with a new verified-bind cache when bind_cache.enabled: a reload
// forgets every cached bind.
func Build(cfg *config.Config, backends map[string]bridge.Backend) (*bridge.State, error) {
	var opts []bridge.StateOption
	if bc := cfg.BindCache; bc.Enabled {
		c, err := bridge.NewBindCache(bridge.BindCacheConfig{TTL: bc.TTL.Duration(), Size: bc.Size})
		if err != nil {
			return nil, err
		}
		opts = append(opts, bridge.WithBindCache(c))
	}
	opts = append(opts, bridge.WithSearchLimits(bridge.SearchLimits{
		MaxEntries: cfg.Limits.MaxSearchEntries, MaxScan: cfg.Search.MaxScan}))
	return bridge.NewState(Routes(cfg), backends, LocalAccounts(cfg), opts...)
}

// Routes converts the configured routes for the core. A route to a
// backend that applies its own access control, with no admins, leaves
// authorisation of resets to the backend.
func Routes(cfg *config.Config) []bridge.Route {
	out := make([]bridge.Route, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		// The backend's own traits say whether it applies its own access
		// control (PingDirectory acts as the bound user).
		var traits confkit.Traits
		if be, ok := cfg.Backend(r.Backend); ok && be.Settings() != nil {
			traits = be.Settings().Traits()
		}
		br := bridge.Route{
			Base:                  r.Base,
			Backend:               r.Backend,
			Admins:                append([]string(nil), r.Admins...),
			BackendAuthorizes:     traits.Authorizes,
			AllowOldPasswordProof: r.AllowOldPasswordProof,
			ServiceCredential:     traits.ServiceCredential,
			Searchers:             append([]string(nil), r.Searchers...),
			Search:                bridge.SearchAccess{BoundUsers: r.Search.BoundUsers, Anonymous: r.Search.Anonymous},
			Options: bridge.RouteOptions{
				Base:         r.Base,
				ForceChange:  r.ForceChange,
				BypassPolicy: r.BypassPolicy,
			},
		}
		if g := r.Gateway; g != nil {
			br.Options.Gateway = &bridge.Gateway{ID: g.ID, UserTypeID: g.UserTypeID, Correlation: maps.Clone(g.Correlation)}
			if br.Options.Gateway.Correlation == nil {
				br.Options.Gateway.Correlation = map[string]string{}
			}
		}
		out = append(out, br)
	}
	return out
}

// LocalAccounts converts the configured service accounts for the core;
// each verifies passwords against its hash with package accounts.
func LocalAccounts(cfg *config.Config) []bridge.LocalAccount {
	out := make([]bridge.LocalAccount, 0, len(cfg.Accounts))
	for _, a := range cfg.Accounts {
		out = append(out, bridge.LocalAccount{DN: a.DN, Verify: accounts.Verifier(a.PasswordHash)})
	}
	return out
}
