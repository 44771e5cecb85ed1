package ldapfront

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Issue 10 item 9: when the drain deadline passes, the operations still in
// flight are cancelled with bridge.ErrShutdown, and Wait returns only once
// each has reported its Decision (the audit record), however long the
// backend takes to give up. The core makes the change "outcome unknown
// (shutdown)".
func TestShutdownWaitsForDecisions(t *testing.T) {
	core, sc := testCore(t)
	ts := startServer(t, core, Options{}, Listener{Name: "t"})
	started := make(chan struct{})
	causes := make(chan error, 1)
	sc.setOnChange(func(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
		close(started)
		<-ctx.Done()
		causes <- context.Cause(ctx)
		// A backend client that takes a moment to give up: the
		// Decision comes well after the cancellation.
		time.Sleep(300 * time.Millisecond)
		return bridge.Fail(bridge.Canceled, "operation canceled")
	})
	r := dialRaw(t, ts.addr)
	r.bind(1, userDN, userPass)
	r.send(envelope(2, extOp(oidPasswordModify, nil, false)))
	<-started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown = %v, want the context's error", err)
	}
	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := ts.srv.Wait(wctx); err != nil {
		t.Fatalf("Wait = %v", err)
	}
	var changes []audited
	for _, a := range ts.ev.audited() {
		if !a.bind {
			changes = append(changes, a)
		}
	}
	if len(changes) != 1 {
		t.Fatalf("%d password changes reported when Wait returned, want 1", len(changes))
	}
	if o := changes[0].out; o.Code != bridge.Other || o.Diagnostic != bridge.DiagShutdownUnknown {
		t.Errorf("reported %v %q, want other %q", o.Code, o.Diagnostic, bridge.DiagShutdownUnknown)
	}
	if c := <-causes; !errors.Is(c, bridge.ErrShutdown) {
		t.Errorf("the operation was cancelled with %v, want bridge.ErrShutdown", c)
	}
	r.expectClosed()
}
