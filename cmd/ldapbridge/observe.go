package main

import (
	"log/slog"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/audit"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/ldapfront"
	"github.com/ldapbridge/ldapbridge/metrics"
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
// an audit record for each failed bind and each password change attempt.
type observer struct {
	*metrics.Metrics
	trail *auditTrail
	// backendOf names the backend that serves a DN under the
	// configuration in force.
	backendOf func(dn string) string
}

var _ ldapfront.Observer = (*observer)(nil)

// opRecord starts an audit record of event for the operation op.
func opRecord(event string, op ldapfront.OpInfo) audit.Record {
	return audit.Record{
		Event: event, Conn: op.Conn, Op: op.Op, MsgID: op.MsgID,
		Listener: op.Listener, Source: op.Source, Actor: op.BoundDN,
	}
}

// BindFailed counts and audits one failed bind, whether the core or the
// front end refused it.
func (o *observer) BindFailed(op ldapfront.OpInfo, dn string, out bridge.Outcome) {
	backend := o.backendOf(dn)
	o.Metrics.BindFailed(backend, out)
	r := opRecord(audit.EventBindFailure, op)
	r.Target, r.Backend = dn, backend
	r.FromOutcome(out)
	o.trail.record(r)
}

// PasswordChange counts and audits one password change attempt.
func (o *observer) PasswordChange(op ldapfront.OpInfo, info bridge.ChangeInfo, out bridge.Outcome) {
	o.Metrics.PasswordChange(info, out)
	r := opRecord(audit.EventPasswordChange, op)
	// The core's word on who asked, when it had one; the session's
	// identity otherwise.
	if info.Actor != "" {
		r.Actor = info.Actor
	}
	r.Target, r.Backend = info.Target, info.Backend
	if info.Kind != 0 {
		r.Kind = info.Kind.String()
	}
	r.FromOutcome(out)
	o.trail.record(r)
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
