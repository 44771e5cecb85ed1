package main

import (
	"log/slog"

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
// an audit record for each failed bind and each password change attempt,
// all from the core's Decision: who, whom, which backend and what kind
// are the core's word, never worked out again here.
type observer struct {
	*metrics.Metrics
	trail *auditTrail
}

var _ ldapfront.Observer = (*observer)(nil)

// opRecord starts an audit record of event for the operation op.
func opRecord(event string, op ldapfront.OpInfo) audit.Record {
	return audit.Record{
		Event: event, Conn: op.Conn, Op: op.Op, MsgID: op.MsgID,
		Listener: op.Listener, Source: op.Source, Actor: op.BoundDN,
	}
}

// Decided counts and audits one decision: the only place a failed-bind
// or a password-change audit record is written.
func (o *observer) Decided(op ldapfront.OpInfo, d bridge.Decision) {
	var r audit.Record
	switch {
	case d.Op == bridge.OpBind && !d.Outcome.OK() && op.Limit != "":
		// A limit refused it before any backend was asked: not the
		// backend's error, and not a verdict on the password.
		o.Metrics.BindLimited(d.Target.Backend)
		r = opRecord(audit.EventBindFailure, op)
	case d.Op == bridge.OpBind && !d.Outcome.OK():
		o.Metrics.BindFailed(d.Target.Backend, d.Outcome)
		r = opRecord(audit.EventBindFailure, op)
	case d.ChangesPassword():
		o.Metrics.PasswordChange(d)
		r = opRecord(audit.EventPasswordChange, op)
		// The core's word on who asked, when it had one; the session's
		// identity otherwise.
		if d.Actor.DN != "" {
			r.Actor = d.Actor.DN
		}
		if d.Kind != 0 {
			r.Kind = d.Kind.String()
		}
	default:
		return
	}
	r.Target, r.Backend = d.Target.DN, d.Target.Backend
	r.FromOutcome(d.Outcome)
	if op.Limit != "" {
		r.Outcome = audit.OutcomeLimited
	}
	o.trail.record(r)
}
