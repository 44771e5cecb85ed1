// Package audit writes the bridge's audit trail: one record for each failed
// bind and each password change attempt, to the log or to a file of its
// own, one JSON object a line. A record names identities and outcomes and
// never a password: it has no field that could hold one.
package audit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/logtext"
)

// The events a record describes.
const (
	EventBindFailure    = "bind_failure"
	EventPasswordChange = "password_change"
)

// The outcome classes, shared with the metrics.
const (
	OutcomeSuccess = "success"
	// OutcomeRefused: the request was decided against (bad credentials,
	// policy, access control, bad input); the backend was working.
	OutcomeRefused = "refused"
	// OutcomeError: the request could not be decided (backend down or
	// busy, timeout, outcome unknown, abandoned).
	OutcomeError = "error"
	// OutcomeLimited: a limit of the bridge (failed binds per DN, request
	// rate per address) refused the request before any backend was asked.
	// It is neither a verdict on the credentials nor a backend's failure.
	OutcomeLimited = "limited"
)

// Outcome classifies a result code as OutcomeSuccess, OutcomeRefused or
// OutcomeError, so that alerts can tell an outage from users mistyping.
func Outcome(code bridge.ResultCode) string {
	switch code {
	case bridge.Success:
		return OutcomeSuccess
	case bridge.OperationsError, bridge.TimeLimitExceeded, bridge.AdminLimitExceeded,
		bridge.Busy, bridge.Unavailable, bridge.Other, bridge.Canceled:
		return OutcomeError
	}
	return OutcomeRefused
}

// Record is one audit event. Zero fields are left out of the output,
// except Code and the identifying fields.
type Record struct {
	Time  time.Time
	Event string // EventBindFailure or EventPasswordChange
	// Conn and Op are the connection and operation ids the LDAP front end
	// logs ("conn", "op"), MsgID the client's message id ("msgid"); zero
	// when not known.
	Conn     uint64
	Op       uint64
	MsgID    int64
	Listener string
	Source   string // client address, host:port
	// Actor is the session's identity when the request arrived ("" when
	// anonymous); for a bind, the identity the bind would replace.
	Actor string
	// Target is the DN whose password changes, or the name a failed bind
	// sent ("" for most SASL binds).
	Target string
	// Backend is the backend that served the DN; "local" for the bridge's
	// own accounts, "" when no route matched or the request never got
	// that far.
	Backend string
	// Kind is "self", "administrative" or "" (bind, or refused before the
	// kind was known); Generated is set when a password was generated.
	Kind      string
	Generated bool
	Outcome   string // OutcomeSuccess, OutcomeRefused or OutcomeError
	Code      bridge.ResultCode
	// Diagnostic is the message the client got.
	Diagnostic  string
	PolicyError string // the ppolicy error name, "" when none
	RequestID   string // the backend's correlation id
	// Reason is why it failed, as the backend or the core saw it (an
	// unknown user, a locked account), which the client's Diagnostic
	// does not say.
	Reason string
}

// FromOutcome fills the outcome fields of r from o.
func (r *Record) FromOutcome(o bridge.Outcome) {
	r.Outcome = Outcome(o.Code)
	r.Code = o.Code
	r.Diagnostic = o.Diagnostic
	r.RequestID = o.RequestID
	r.Reason = o.Reason
	r.Generated = r.Generated || !o.GeneratedPassword.IsZero()
	if o.Policy != nil && o.Policy.Error != bridge.PolicyErrorNone {
		r.PolicyError = o.Policy.Error.String()
	}
}

// attrs lists the record; the order is the order in the output.
func (r Record) attrs() []slog.Attr {
	a := make([]slog.Attr, 0, 20)
	a = append(a, slog.String("event", r.Event))
	if r.Conn != 0 {
		a = append(a, slog.Uint64("conn", r.Conn))
	}
	if r.Op != 0 {
		a = append(a, slog.Uint64("op", r.Op))
	}
	if r.MsgID != 0 {
		a = append(a, slog.Int64("msgid", r.MsgID))
	}
	// Every string field may hold client-supplied text (a DN, a
	// diagnostic that quotes one): each is bounded, so that a 1 MB DN
	// does not make a 1 MB record.
	str := func(k, v string) {
		if v != "" {
			a = append(a, slog.String(k, logtext.Bound(v)))
		}
	}
	str("listener", r.Listener)
	str("source", r.Source)
	a = append(a, slog.String("actor", logtext.Bound(r.Actor)))
	str("target", r.Target)
	str("backend", r.Backend)
	str("kind", r.Kind)
	if r.Generated {
		a = append(a, slog.Bool("generated", true))
	}
	a = append(a,
		slog.String("outcome", r.Outcome),
		slog.Int("code", int(r.Code)),
		slog.String("result", r.Code.String()),
	)
	str("diagnostic", r.Diagnostic)
	str("ppolicy_error", r.PolicyError)
	str("request_id", r.RequestID)
	str("reason", r.Reason)
	return a
}

// Message is the log message of every audit record.
const Message = "audit"

// Writer writes records to the process log or to a file of their own. It
// is safe for concurrent use, and its destination can change while in use
// (SetPath) without losing a record.
type Writer struct {
	log slog.Handler

	mu   sync.Mutex
	path string
	file *os.File
	h    slog.Handler // the log, or a JSON handler on file
}

// New makes a writer to the file at path, or, when path is "", to log as
// INFO records with the message "audit", whatever level log is set to:
// the audit trail does not depend on the log level.
func New(log slog.Handler, path string) (*Writer, error) {
	if log == nil {
		log = slog.DiscardHandler
	}
	w := &Writer{log: log, h: log}
	if err := w.SetPath(path); err != nil {
		return nil, err
	}
	return w, nil
}

// SetPath sends later records to the file at path (appended to, created
// 0640 if missing), or to the log when path is "". Given the current path
// it opens the file again, which is what log rotation needs (logrotate
// renames the file, then the bridge gets SIGHUP). On failure the previous
// destination stays.
func (w *Writer) SetPath(path string) error {
	var f *os.File
	h := w.log
	if path != "" {
		var err error
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
		if err != nil {
			return fmt.Errorf("open audit file: %w", err)
		}
		h = fileHandler(f)
	}
	w.mu.Lock()
	old := w.file
	w.path, w.file, w.h = path, f, h
	w.mu.Unlock()
	if old != nil {
		if err := old.Close(); err != nil {
			return fmt.Errorf("close the previous audit file: %w", err)
		}
	}
	return nil
}

// Path is the audit file, "" when records go to the log.
func (w *Writer) Path() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.path
}

// fileHandler writes bare JSON lines: the level and message say nothing in
// a file that holds only audit records.
func fileHandler(f io.Writer) slog.Handler {
	return slog.NewJSONHandler(f, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && (a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
				return slog.Attr{}
			}
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.String(slog.TimeKey, a.Value.Time().UTC().Format(time.RFC3339Nano))
			}
			return a
		},
	})
}

// Write writes one record; a zero Time is now.
func (w *Writer) Write(r Record) error {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	rec := slog.NewRecord(r.Time, slog.LevelInfo, Message, 0)
	rec.AddAttrs(r.attrs()...)
	// The lock keeps SetPath from closing the file under a write.
	w.mu.Lock()
	var err error
	if w.h == nil {
		err = errors.New("writer is closed")
	} else {
		// Handle, not Logger.Log: Log would drop the record below the
		// configured level.
		err = w.h.Handle(context.Background(), rec)
	}
	w.mu.Unlock()
	if err != nil {
		return fmt.Errorf("write audit record: %w", err)
	}
	return nil
}

// Close syncs and closes the audit file; later writes fail. A second
// Close does nothing.
func (w *Writer) Close() error {
	w.mu.Lock()
	f := w.file
	w.file, w.h = nil, nil
	w.mu.Unlock()
	if f == nil {
		return nil
	}
	// The records are on disk before the process reports it stopped.
	serr := f.Sync()
	if errors.Is(serr, syscall.EINVAL) || errors.Is(serr, syscall.ENOTSUP) {
		serr = nil // a pipe or a terminal (audit_file: /dev/stdout): nothing to sync
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close audit file: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("sync audit file: %w", serr)
	}
	return nil
}
