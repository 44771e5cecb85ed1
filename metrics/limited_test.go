package metrics

import (
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Issue 10 item 10: a bind that a limit of the bridge refused is counted
// as "limited", never as an error of the backend that serves the DN, read
// back from the gathered registry as /metrics serves it.
func TestBindLimitedIsNotABackendError(t *testing.T) {
	m, reg := newMetrics(t)
	m.Backend("pd")
	m.BindLimited("pd")
	m.BindLimited("pd")
	m.LimitHit("failed_binds_per_dn")
	m.LimitHit("failed_binds_per_dn")
	m.BindFailed("pd", bridge.Fail(bridge.InvalidCredentials, "invalid credentials"))
	m.BindLimited("")

	got := map[[2]string]float64{}
	mf := scrape(t, reg)["ldapbridge_bind_failures_total"]
	if mf == nil {
		t.Fatal("ldapbridge_bind_failures_total missing from the scrape")
	}
	for _, mt := range mf.Metric {
		var backend, outcome string
		for _, l := range mt.Label {
			switch l.GetName() {
			case "backend":
				backend = l.GetValue()
			case "outcome":
				outcome = l.GetValue()
			}
		}
		got[[2]string{backend, outcome}] = mt.GetCounter().GetValue()
	}
	want := map[[2]string]float64{
		{"pd", "refused"}: 1, {"pd", "error"}: 0, {"pd", "limited"}: 2, {"none", "limited"}: 1,
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("bind_failures_total{backend=%q,outcome=%q} = %v, want %v (all: %v)", k[0], k[1], got[k], v, got)
		}
	}
	var hits float64
	for _, mt := range scrape(t, reg)["ldapbridge_ldap_limit_hits_total"].Metric {
		for _, l := range mt.Label {
			if l.GetName() == "limit" && l.GetValue() == "failed_binds_per_dn" {
				hits = mt.GetCounter().GetValue()
			}
		}
	}
	if hits != 2 {
		t.Errorf("limit_hits_total{limit=\"failed_binds_per_dn\"} = %v, want 2", hits)
	}
}
