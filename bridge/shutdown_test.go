package bridge

import (
	"context"
	"errors"
	"testing"
)

// Issue 10 item 9: a password change whose backend call the shutdown cut
// short is "outcome unknown (shutdown)", never a failure that did not
// happen; a decided answer stands, and other cancellations keep the
// backend's word.
func TestChangeCutShortByShutdown(t *testing.T) {
	const bob = "uid=bob,ou=staff,dc=example,dc=com"
	shutdown := func() context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(ErrShutdown)
		return ctx
	}
	abandoned := func() context.Context {
		ctx, cancel := context.WithCancelCause(context.Background())
		cancel(errors.New("abandoned"))
		return ctx
	}
	unknown := Fail(Other, DiagShutdownUnknown)
	for _, tc := range []struct {
		name    string
		ctx     func() context.Context
		backend Outcome
		want    Outcome
	}{
		{"canceled before sent", shutdown, Fail(Canceled, "operation canceled"), unknown},
		{"sent, no answer", shutdown, Fail(Other, "outcome unknown: canceled after the request was sent"), unknown},
		{"unavailable", shutdown, Fail(Unavailable, "backend unavailable"), unknown},
		{"answered success", shutdown, Outcome{Code: Success}, Outcome{Code: Success}},
		{"answered refusal", shutdown, Fail(ConstraintViolation, "password too short"), Fail(ConstraintViolation, "password too short")},
		{"abandoned", abandoned, Fail(Canceled, "operation canceled"), Fail(Canceled, "operation canceled")},
		{"not cancelled", context.Background, Fail(Unavailable, "backend unavailable"), Fail(Unavailable, "backend unavailable")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, pd, _ := newCore(t)
			p := bind(t, b, bob, "pw")
			pd.chgOut = tc.backend
			out, d := chg(b.ChangePassword(tc.ctx(), p, PasswordModify{Secure: true, NewPassword: SecretString("N3w-pw-1")}))
			if out.Code != tc.want.Code || out.Diagnostic != tc.want.Diagnostic {
				t.Errorf("outcome %v %q, want %v %q", out.Code, out.Diagnostic, tc.want.Code, tc.want.Diagnostic)
			}
			if d.Target.Backend != "pd" || d.Kind != SelfChange {
				t.Errorf("decision %+v: the identity and kind must survive", d)
			}
			if len(pd.changes) != 1 {
				t.Errorf("%d backend calls, want 1", len(pd.changes))
			}
		})
	}
}
