package pingone

import (
	"context"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge/bridge"
)

func intp(n int) *int { return &n }

// Property: every generated password meets the policy's local rules, uses
// only the policy's characters, and none repeats.
func TestGeneratedPasswordsMeetPolicy(t *testing.T) {
	e := newEnv(t)
	standard, oe := e.c.policies.get(context.Background(), e.c)
	if oe != nil {
		t.Fatal(oe)
	}
	policies := map[string]*passwordPolicy{
		"Standard (from the simulator)": standard,
		"long, several specials, no runs": {
			Length:                &policyLength{Min: 30, Max: 40},
			MinCharacters:         map[string]int{setSpecial: 3, setDigits: 2, "xyz": 1},
			MaxRepeatedCharacters: intp(1),
			MinUniqueCharacters:   intp(12),
		},
		"short maximum":     {Length: &policyLength{Min: 4, Max: 8}, MinCharacters: map[string]int{setUpper: 1, setLower: 1}},
		"no character sets": {Length: &policyLength{Min: 8, Max: 64}},
	}
	for name, p := range policies {
		t.Run(name, func(t *testing.T) {
			reqs := p.requirements(true)
			seen := map[string]bool{}
			pool := strings.Join(p.characterSets(), "")
			if pool == "" {
				pool = setUpper + setLower + setDigits + setSpecial
			}
			for i := 0; i < 1000; i++ {
				s, err := generatePassword(p)
				if err != nil {
					t.Fatal(err)
				}
				pw := s.Bytes()
				for _, r := range reqs {
					if r.check != nil && !r.check(pw) {
						t.Fatalf("generated password fails %q", r.req.Description)
					}
				}
				for _, r := range string(pw) {
					if !strings.ContainsRune(pool, r) {
						t.Fatalf("generated password has %q, outside the policy's characters", r)
					}
				}
				if n := utf8.RuneCount(pw); n < 8 && (p.Length == nil || n < p.Length.Min) {
					t.Fatalf("generated password of %d characters", n)
				}
				if seen[s.Reveal()] {
					t.Fatal("a generated password repeated")
				}
				seen[s.Reveal()] = true
			}
		})
	}
	if _, err := generatePassword(&passwordPolicy{Length: &policyLength{Min: 1, Max: 2}, MinCharacters: map[string]int{setUpper: 2, setDigits: 2}}); err == nil {
		t.Error("an unsatisfiable policy produced a password")
	}
	if _, err := generatePassword(&passwordPolicy{MinCharacters: map[string]int{"ab": 1}, MinUniqueCharacters: intp(5)}); err == nil {
		t.Error("a policy needing more unique characters than its pool produced a password")
	}
}

// Generated passwords are accepted by PingOne (the simulator) and bind.
func TestGeneratedPasswordsBind(t *testing.T) {
	e := newEnv(t)
	out := e.adminReset("alice", "", bridge.RouteOptions{ForceChange: true}, allCtl)
	if !out.OK() || out.GeneratedPassword.IsZero() {
		t.Fatalf("admin reset: %v %s", out.Code, out.Diagnostic)
	}
	gen := out.GeneratedPassword.Reveal()
	e.secrets = append(e.secrets, gen)
	if out := e.bind("alice", gen, ppolicy); !out.OK() || !out.MustChange || policyErr(out) != bridge.ChangeAfterReset {
		t.Fatalf("bind with the generated password: %v mustChange=%v %v", out.Code, out.MustChange, policyErr(out))
	}
	cur := gen
	for i := 0; i < 10; i++ {
		out := e.selfChange("alice", cur, "", noControls)
		if !out.OK() || out.GeneratedPassword.IsZero() {
			t.Fatalf("self change %d: %v %s", i, out.Code, out.Diagnostic)
		}
		cur = out.GeneratedPassword.Reveal()
		e.secrets = append(e.secrets, cur)
		if out := e.bind("alice", cur, noControls); !out.OK() || out.MustChange {
			t.Fatalf("bind after self change %d: %v mustChange=%v", i, out.Code, out.MustChange)
		}
	}
	// No generated password comes back from a failed change.
	out = e.selfChange("alice", "Not-The-Passw0rd!", "", noControls)
	if out.Code != bridge.InvalidCredentials || !out.GeneratedPassword.IsZero() {
		t.Errorf("failed change: %v, generated %d bytes", out.Code, out.GeneratedPassword.Len())
	}
}
