package ldapfront

import (
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Issue 10 item 10: a bind refused by a limit is reported with the limit's
// name in OpInfo.Limit, so that metrics count it as refused by a limit and
// not as the backend's error; a bind the core decided carries none.
func TestObserverBindLimitNamed(t *testing.T) {
	core, _ := testCore(t)
	clk := newFakeClock()
	lim := testLimits()
	lim.RatePerIP, lim.RateBurst, lim.FailedBindsPerDN = 1, 2, 1
	ts := startServerWith(t, core, Options{Limits: lim}, Listener{Name: "busy"}, withClock(clk))
	r := dialRaw(t, ts.addr)
	r.send(envelope(1, bindOp(3, userDN, "wrong")))
	r.read()
	r.send(envelope(2, bindOp(3, userDN, userPass)))
	r.read()
	r.send(envelope(3, bindOp(3, adminDN, adminPass)))
	r.read()
	got := ts.ev.bindFailures()
	if len(got) != 3 {
		t.Fatalf("%d failed binds reported, want 3: %+v", len(got), got)
	}
	for i, want := range []struct {
		code  bridge.ResultCode
		limit string
	}{
		{bridge.InvalidCredentials, ""},
		{bridge.Busy, "failed_binds_per_dn"},
		{bridge.Busy, "rate_per_ip"},
	} {
		if got[i].out.Code != want.code || got[i].op.Limit != want.limit {
			t.Errorf("failed bind %d: code %v, limit %q; want %v, %q", i+1, got[i].out.Code, got[i].op.Limit, want.code, want.limit)
		}
	}
}
