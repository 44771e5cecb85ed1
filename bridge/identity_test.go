package bridge

import (
	"context"
	"testing"

	"github.com/go-ldap/ldap/v3"
)

// namer is a recorder that is a Namer: one RDN of uid under the base.
type namer struct{ recorder }

func (n *namer) CanonicalDN(dn *ldap.DN, route RouteOptions) (string, bool) {
	base, _ := ParseDN(route.Base)
	if len(dn.RDNs) != len(base.RDNs)+1 || len(dn.RDNs[0].Attributes) != 1 || !SameValue(dn.RDNs[0].Attributes[0].Type, "uid") ||
		!SameDN(&ldap.DN{RDNs: dn.RDNs[1:]}, base) {
		return "", false
	}
	return "uid=" + EscapeDNValue(dn.RDNs[0].Attributes[0].Value) + "," + route.Base, true
}

func identityCore(t *testing.T) (*Bridge, *recorder, *namer) {
	t.Helper()
	pd := &recorder{name: "pd", bindOut: Outcome{Code: Success}, chgOut: Outcome{Code: Success}}
	p1 := &namer{recorder{name: "p1", bindOut: Outcome{Code: Success}, chgOut: Outcome{Code: Success}}}
	st, err := NewState([]Route{
		{Base: "dc=example,dc=com", Backend: "pd", BackendAuthorizes: true},
		{Base: "ou=people,dc=example,dc=com", Backend: "p1", ServiceCredential: true, Admins: []string{"cn=adsmin,dc=example,dc=com", "cn=kate,dc=example,dc=com"}},
	}, map[string]Backend{"pd": pd, "p1": p1}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return New(st, nil), pd, p1
}

// The admin check is SameDN against the canonical identity: no Unicode
// case folding the backend may not share.
func TestAdminCheckDoesNotFold(t *testing.T) {
	for _, tc := range []struct {
		dn    string
		admin bool
	}{
		{"cn=adsmin,dc=example,dc=com", true},
		{"CN=AdSmin, DC=Example, DC=Com", true},
		{"cn=ad\u017fmin,dc=example,dc=com", false}, // ſ
		{"cn=\u212aate,dc=example,dc=com", false},   // the Kelvin sign
	} {
		b, _, p1 := identityCore(t)
		p := bind(t, b, tc.dn, "pw")
		out, _ := chg(b.ChangePassword(context.Background(), p, PasswordModify{Secure: true,
			UserIdentity: "uid=alice,ou=people,dc=example,dc=com", NewPassword: SecretString("New-pw-1")}))
		if out.OK() != tc.admin || (tc.admin != (len(p1.changes) == 1)) {
			t.Errorf("%q resets alice: %+v (%d changes), admin %v", tc.dn, out, len(p1.changes), tc.admin)
		}
		if !tc.admin && out.Code != InsufficientAccessRights {
			t.Errorf("%q: %v, want insufficientAccessRights", tc.dn, out.Code)
		}
	}
}

// The backend's name for the user (Outcome.Subject) is the session's
// identity; a spelling a Namer refuses never reaches the backend.
func TestBindIdentityIsTheBackendsName(t *testing.T) {
	ctx := context.Background()
	b, pd, p1 := identityCore(t)
	pd.bindOut = Outcome{Code: Success, Subject: "uid=bob,ou=staff,dc=example,dc=com"}
	d := b.Bind(ctx, "UID=Bob, OU=Staff, DC=Example, DC=Com", SecretString("pw"), RequestControls{})
	if !d.Outcome.OK() || d.Principal.DN() != "uid=bob,ou=staff,dc=example,dc=com" || d.Target.DN != d.Principal.DN() {
		t.Fatalf("%+v", d)
	}
	// A Subject another route serves: refused.
	pd.bindOut = Outcome{Code: Success, Subject: "uid=alice,ou=people,dc=example,dc=com"}
	if d := b.Bind(ctx, "uid=bob,ou=staff,dc=example,dc=com", SecretString("pw"), RequestControls{}); d.Outcome.Code != InvalidCredentials || d.Principal != nil {
		t.Errorf("subject on another route: %+v", d)
	}

	wrong := b.Bind(ctx, "uid=nobody,dc=other,dc=org", SecretString("pw"), RequestControls{})
	for _, dn := range []string{
		"uid=alice,ou=x,ou=people,dc=example,dc=com",
		"uid=alice+cn=x,ou=people,dc=example,dc=com",
		"cn=alice,ou=people,dc=example,dc=com",
	} {
		d := b.Bind(ctx, dn, SecretString("pw"), RequestControls{})
		if d.Outcome.Code != InvalidCredentials || d.Outcome.Diagnostic != wrong.Outcome.Diagnostic || d.Outcome.Reason == "" || d.Principal != nil {
			t.Errorf("%q: %+v", dn, d.Outcome)
		}
	}
	if len(p1.binds) != 0 {
		t.Errorf("%d binds reached the backend", len(p1.binds))
	}
	p1.bindOut = Outcome{Code: Success, Subject: "uid=alice,ou=people,dc=example,dc=com"}
	d = b.Bind(ctx, "UID=ALICE,OU=People,dc=example,dc=com", SecretString("pw"), RequestControls{})
	if !d.Outcome.OK() || d.Principal.DN() != "uid=alice,ou=people,dc=example,dc=com" {
		t.Fatalf("%+v", d)
	}
	if wrong.Outcome.Reason == "" {
		t.Error("no reason for a DN no route serves")
	}
}
