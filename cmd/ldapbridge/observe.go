package main

import (
	"context"
	"log/slog"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/bridge/audit"
	"github.com/ldapbridge/ldapbridge/bridge/metrics"
	"github.com/ldapbridge/ldapbridge/ldapfront"
)

// auditTrail writes audit records, and logs and counts the ones it cannot.
type auditTrail struct {
	w   *audit.Writer
	m   *metrics.Metrics
	log *slog.Logger
}

func (t *auditTrail) record(r audit.Record) {
	if err := t.w.Write(r); err != nil {
		t.m.AuditWriteFailed()
		t.log.Error("audit record lost", "event", r.Event, "err", err)
	}
}

// observer is the LDAP front end's Observer: metrics for everything, and
// an audit record for each password change attempt.
type observer struct {
	*metrics.Metrics
	trail *auditTrail
}

var _ ldapfront.Observer = (*observer)(nil)

// PasswordChange counts and audits one password change attempt.
//
// The Observer does not pass the connection and operation ids or the
// listener yet; the records leave them out until it does.
func (o *observer) PasswordChange(info bridge.ChangeInfo, out bridge.Outcome, source string) {
	o.Metrics.PasswordChange(info, out, source)
	r := audit.Record{
		Event:   audit.EventPasswordChange,
		Source:  source,
		Actor:   info.Actor,
		Target:  info.Target,
		Backend: info.Backend,
	}
	if info.Kind != 0 {
		r.Kind = info.Kind.String()
	}
	r.FromOutcome(out)
	o.trail.record(r)
}

// auditedCore is the core as the front end sees it: every failed bind
// with a DN becomes an audit record.
//
// It sees the binds that reach the core; binds the front end refuses
// itself (confidentialityRequired, SASL, protocol version) and the
// connection they came on need an Observer hook in ldapfront.
type auditedCore struct {
	*bridge.Bridge
	trail *auditTrail
	// backendOf names the backend that serves a DN under the
	// configuration in force.
	backendOf func(dn string) string
}

var _ ldapfront.Core = auditedCore{}

func (c auditedCore) Bind(ctx context.Context, dn string, password bridge.Secret, ctl bridge.RequestControls) (bridge.Outcome, *bridge.Principal) {
	out, p := c.Bridge.Bind(ctx, dn, password, ctl)
	if !out.OK() && dn != "" {
		r := audit.Record{Event: audit.EventBindFailure, Target: dn, Backend: c.backendOf(dn)}
		r.FromOutcome(out)
		c.trail.record(r)
	}
	return out, p
}

// backendIndex answers which backend serves a DN, for audit records: the
// core's routing, rebuilt from the same configuration.
type backendIndex struct {
	router *bridge.Router
	locals []*ldap.DN
}

func newBackendIndex(routes []bridge.Route, locals []bridge.LocalAccount) (*backendIndex, error) {
	r, err := bridge.NewRouter(routes)
	if err != nil {
		return nil, err
	}
	ix := &backendIndex{router: r}
	for _, la := range locals {
		if dn, err := bridge.ParseDN(la.DN); err == nil {
			ix.locals = append(ix.locals, dn)
		}
	}
	return ix, nil
}

// backend is the backend name, "local" for the bridge's own accounts and
// "" for a DN no route serves (or that does not parse).
func (ix *backendIndex) backend(dn string) string {
	ndn, err := bridge.ParseDN(dn)
	if err != nil || len(ndn.RDNs) == 0 {
		return ""
	}
	for _, l := range ix.locals {
		if l.EqualFold(ndn) {
			return "local"
		}
	}
	if rt, ok := ix.router.Match(ndn); ok {
		return rt.Backend
	}
	return ""
}
