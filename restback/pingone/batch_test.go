package pingone

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
)

func TestSetGatewayBatch(t *testing.T) {
	e := newEnv(t)
	gw := bridge.Gateway{ID: "gw-1", UserTypeID: "ut-1", Correlation: map[string]string{"uid": "{uid}", "mail": "{uid}@example.com"}}
	dns := []string{dn("alice"), "", dn("nobody"), "cn=carol,dc=example,dc=com", dn("bob")}

	var out bytes.Buffer
	sum := SetGatewayBatch(context.Background(), e.c, dns, gw, true, &out)
	if sum.Total != 4 || sum.Changed != 2 || sum.Failed != 2 || !sum.DryRun {
		t.Errorf("dry run summary %+v", sum)
	}
	for _, name := range []string{"alice", "bob"} {
		if st, _ := e.sim.UserState(e.ids[name]); st.Status != "OK" {
			t.Errorf("dry run changed %s: %s", name, st.Status)
		}
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	wantPrefixes := []string{
		"would set\t" + dn("alice") + "\tuser " + e.ids["alice"] + "\tcorrelation mail=alice@example.com,uid=alice",
		"failed\t" + dn("nobody") + "\tnoSuchObject",
		"failed\tcn=carol,dc=example,dc=com\t",
		"would set\t" + dn("bob") + "\tuser " + e.ids["bob"],
	}
	if len(lines) != len(wantPrefixes) {
		t.Fatalf("dry run output:\n%s", out.String())
	}
	for i, p := range wantPrefixes {
		if !strings.HasPrefix(lines[i], p) {
			t.Errorf("line %d %q, want prefix %q", i, lines[i], p)
		}
	}

	out.Reset()
	sum = SetGatewayBatch(context.Background(), e.c, dns, gw, false, &out)
	if sum.Total != 4 || sum.Changed != 2 || sum.Failed != 2 || len(sum.Failures) != 2 || sum.Failures[0].DN != dn("nobody") {
		t.Errorf("summary %+v", sum)
	}
	for _, name := range []string{"alice", "bob"} {
		st, _ := e.sim.UserState(e.ids[name])
		if st.Status != "EXTERNAL" || st.Gateway != "gw-1" || st.GatewayUserType != "ut-1" || st.CorrelationAttributes["mail"] != name+"@example.com" {
			t.Errorf("%s after set-gateway: %+v", name, st)
		}
	}
	if st, _ := e.sim.UserState(e.ids["carol"]); st.Status != "OK" {
		t.Errorf("carol changed: %s", st.Status)
	}
	if !strings.Contains(out.String(), "set\t"+dn("alice")+"\n") || !strings.HasSuffix(out.String(), "set\t"+dn("bob")+"\n") {
		t.Errorf("output:\n%s", out.String())
	}

	// A canceled context attempts nothing more.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	sum = SetGatewayBatch(ctx, e.c, []string{dn("carol")}, gw, false, nil)
	if sum.Failed != 1 || sum.Changed != 0 {
		t.Errorf("canceled: %+v", sum)
	}
	if st, _ := e.sim.UserState(e.ids["carol"]); st.Status != "OK" {
		t.Errorf("carol changed after cancel: %s", st.Status)
	}
}

func TestSetGatewayErrors(t *testing.T) {
	e := newEnv(t)
	err := e.c.SetGateway(context.Background(), dn("alice"), bridge.Gateway{ID: "gw"})
	var pe *Error
	if err == nil || !asError(err, &pe) || pe.Outcome.Code != bridge.UnwillingToPerform {
		t.Errorf("gateway without user type: %v", err)
	}
	err = e.c.SetGateway(context.Background(), dn("nobody"), bridge.Gateway{ID: "gw", UserTypeID: "ut"})
	if !asError(err, &pe) || pe.Outcome.Code != bridge.NoSuchObject || !strings.Contains(err.Error(), "nobody") {
		t.Errorf("unknown user: %v", err)
	}
}

func asError(err error, target **Error) bool {
	e, ok := err.(*Error)
	if ok {
		*target = e
	}
	return ok
}
