package bridge

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// countingBackend answers binds from a password table and counts calls;
// ChangePassword updates the table, and can block to let a test interleave
// a bind with a change.
type countingBackend struct {
	mu        sync.Mutex
	passwords map[string]string // by lower-cased DN
	binds     int
	bindOut   *Outcome // when set, every bind answers this
	changing  chan struct{}
	release   chan struct{}
}

func (c *countingBackend) Bind(_ context.Context, req BindRequest) Outcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.binds++
	if c.bindOut != nil {
		return *c.bindOut
	}
	if c.passwords[strings.ToLower(req.DN)] == req.Password.Reveal() {
		return Outcome{Code: Success}
	}
	return Outcome{Code: InvalidCredentials}
}

func (c *countingBackend) ChangePassword(_ context.Context, req ChangeRequest) Outcome {
	if c.changing != nil {
		c.changing <- struct{}{}
		<-c.release
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.passwords[strings.ToLower(req.Target)] = req.NewPassword.Reveal()
	return Outcome{Code: Success}
}

func (c *countingBackend) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.binds
}

const (
	cacheBob   = "uid=bob,ou=staff,dc=example,dc=com"
	cacheAlice = "uid=alice,ou=staff,dc=example,dc=com"
)

func cachedCore(t testing.TB, cfg BindCacheConfig) (*Bridge, *countingBackend, *BindCache, *time.Time) {
	t.Helper()
	be := &countingBackend{passwords: map[string]string{cacheBob: "bob-pw-1", cacheAlice: "alice-pw-1"}}
	c, err := NewBindCache(cfg)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_800_000_000, 0)
	c.now = func() time.Time { return now }
	st, err := NewState([]Route{{Base: "dc=example,dc=com", Backend: "pd", BackendAuthorizes: true}},
		map[string]Backend{"pd": be}, nil, WithBindCache(c))
	if err != nil {
		t.Fatal(err)
	}
	b := New(st, nil)
	return b, be, c, &now
}

func bindCode(b *Bridge, dn, pw string, ctl RequestControls) ResultCode {
	out, p := split(b.Bind(context.Background(), dn, SecretString(pw), ctl))
	p.Wipe()
	return out.Code
}

func TestBindCacheServesRepeatedBinds(t *testing.T) {
	b, be, c, now := cachedCore(t, BindCacheConfig{TTL: 10 * time.Second})
	for i := 0; i < 5; i++ {
		if code := bindCode(b, cacheBob, "bob-pw-1", RequestControls{}); code != Success {
			t.Fatalf("bind %d: %v", i, code)
		}
	}
	if be.count() != 1 {
		t.Fatalf("%d backend binds for 5 identical binds, want 1", be.count())
	}
	// The same DN written differently is the same user.
	if bindCode(b, "UID=Bob, OU=Staff, DC=Example, DC=Com", "bob-pw-1", RequestControls{}) != Success || be.count() != 1 {
		t.Errorf("a differently written DN missed the cache (%d backend binds)", be.count())
	}
	// A wrong password always reaches the backend, and fails.
	if bindCode(b, cacheBob, "guess", RequestControls{}) != InvalidCredentials || be.count() != 2 {
		t.Fatalf("wrong password: %d backend binds", be.count())
	}
	// ... and drops what the cache knew of the user (a lockout starts
	// counting at the backend at once).
	bindCode(b, cacheBob, "bob-pw-1", RequestControls{})
	if be.count() != 3 {
		t.Errorf("after a failed bind the next good bind used the cache (%d backend binds)", be.count())
	}
	// After the TTL the backend is asked again.
	*now = now.Add(10 * time.Second)
	bindCode(b, cacheBob, "bob-pw-1", RequestControls{})
	if be.count() != 4 {
		t.Errorf("expired entry served (%d backend binds)", be.count())
	}
	if s := c.Stats(); s.Hits != 5 || s.Entries != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestBindCacheOnlyCleanSuccess(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  Outcome
	}{
		{"must change", Outcome{Code: Success, MustChange: true}},
		{"expiry warning", Outcome{Code: Success, Policy: &Policy{Warning: TimeBeforeExpiration, WarningValue: 60, Error: PolicyErrorNone}}},
		{"grace login", Outcome{Code: Success, Policy: &Policy{Warning: GraceAuthNsRemaining, WarningValue: 1, Error: PolicyErrorNone}}},
		{"unavailable", Outcome{Code: Unavailable}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, be, _, _ := cachedCore(t, BindCacheConfig{})
			be.bindOut = &tc.out
			bindCode(b, cacheBob, "bob-pw-1", RequestControls{PasswordPolicy: true})
			bindCode(b, cacheBob, "bob-pw-1", RequestControls{PasswordPolicy: true})
			if be.count() != 2 {
				t.Errorf("%d backend binds, want 2 (nothing cached)", be.count())
			}
		})
	}
}

// A success learnt without the ppolicy control does not answer a bind
// that asks for it: the backend was not asked about warnings.
func TestBindCachePolicyControl(t *testing.T) {
	b, be, _, _ := cachedCore(t, BindCacheConfig{})
	pp := RequestControls{PasswordPolicy: true}
	bindCode(b, cacheBob, "bob-pw-1", RequestControls{})
	bindCode(b, cacheBob, "bob-pw-1", pp)
	if be.count() != 2 {
		t.Fatalf("%d backend binds, want 2", be.count())
	}
	bindCode(b, cacheBob, "bob-pw-1", pp)
	bindCode(b, cacheBob, "bob-pw-1", RequestControls{})
	if be.count() != 2 {
		t.Errorf("%d backend binds, want 2", be.count())
	}
}

func TestBindCacheDroppedByPasswordChange(t *testing.T) {
	b, be, _, _ := cachedCore(t, BindCacheConfig{})
	ctx := context.Background()
	out, p := split(b.Bind(ctx, cacheBob, SecretString("bob-pw-1"), RequestControls{}))
	if !out.OK() {
		t.Fatal(out)
	}
	bindCode(b, cacheAlice, "alice-pw-1", RequestControls{})
	if out, _ := chg(b.ChangePassword(ctx, p, PasswordModify{Secure: true, OldPassword: SecretString("bob-pw-1"), NewPassword: SecretString("bob-pw-2")})); !out.OK() {
		t.Fatal(out)
	}
	n := be.count()
	if code := bindCode(b, cacheBob, "bob-pw-1", RequestControls{}); code != InvalidCredentials {
		t.Errorf("old password after the change: %v", code)
	}
	if code := bindCode(b, cacheBob, "bob-pw-2", RequestControls{}); code != Success || be.count() != n+2 {
		t.Errorf("new password: %v, %d backend binds", code, be.count()-n)
	}
	// Alice's entry is untouched.
	bindCode(b, cacheAlice, "alice-pw-1", RequestControls{})
	if be.count() != n+2 {
		t.Errorf("another user's entry was dropped")
	}
}

// A bind verified by the backend while a change of the same user's
// password is in flight is not stored: it may have checked the old one.
func TestBindCacheRefusesVerificationOverlappingChange(t *testing.T) {
	b, be, c, _ := cachedCore(t, BindCacheConfig{})
	ctx := context.Background()
	out, p := split(b.Bind(ctx, cacheBob, SecretString("bob-pw-1"), RequestControls{}))
	if !out.OK() {
		t.Fatal(out)
	}
	// Probe before the change starts, as a bind that is already at the
	// backend when the change begins.
	_, _, probe := c.lookup(b.Current(), p.ParsedDN(), SecretString("bob-pw-1"), RequestControls{})
	be.changing, be.release = make(chan struct{}), make(chan struct{})
	done := make(chan Outcome)
	go func() {
		o, _ := chg(b.ChangePassword(ctx, p, PasswordModify{Secure: true, OldPassword: SecretString("bob-pw-1"), NewPassword: SecretString("bob-pw-2")}))
		done <- o
	}()
	<-be.changing
	c.store(probe, b.Current(), RequestControls{}, Outcome{Code: Success}, p.ParsedDN())
	close(be.release)
	if o := <-done; !o.OK() {
		t.Fatal(o)
	}
	c.store(probe, b.Current(), RequestControls{}, Outcome{Code: Success}, p.ParsedDN())
	if hit, _, _ := c.lookup(b.Current(), p.ParsedDN(), SecretString("bob-pw-1"), RequestControls{}); hit {
		t.Fatal("the old password is cached after the change")
	}
	if code := bindCode(b, cacheBob, "bob-pw-1", RequestControls{}); code != InvalidCredentials {
		t.Errorf("old password: %v", code)
	}
}

func TestBindCacheEvictsLeastRecentlyUsed(t *testing.T) {
	b, be, c, _ := cachedCore(t, BindCacheConfig{Size: 2})
	be.passwords["uid=carol,ou=staff,dc=example,dc=com"] = "carol-pw"
	bindCode(b, cacheBob, "bob-pw-1", RequestControls{})
	bindCode(b, cacheAlice, "alice-pw-1", RequestControls{})
	bindCode(b, cacheBob, "bob-pw-1", RequestControls{}) // bob is now the most recent
	bindCode(b, "uid=carol,ou=staff,dc=example,dc=com", "carol-pw", RequestControls{})
	n := be.count()
	bindCode(b, cacheBob, "bob-pw-1", RequestControls{})
	if be.count() != n {
		t.Error("the most recently used entry was evicted")
	}
	bindCode(b, cacheAlice, "alice-pw-1", RequestControls{})
	if be.count() != n+1 {
		t.Error("the least recently used entry was kept")
	}
	if s := c.Stats(); s.Entries != 2 {
		t.Errorf("%d entries, limit 2", s.Entries)
	}
}

// A reload installs a new State; entries verified under the old one are
// not used, even were the new one to share the cache.
func TestBindCacheNotAcrossReload(t *testing.T) {
	b, be, c, _ := cachedCore(t, BindCacheConfig{})
	bindCode(b, cacheBob, "bob-pw-1", RequestControls{})
	st, err := NewState([]Route{{Base: "dc=example,dc=com", Backend: "pd", BackendAuthorizes: true}}, map[string]Backend{"pd": be}, nil, WithBindCache(c))
	if err != nil {
		t.Fatal(err)
	}
	b.Swap(st)
	bindCode(b, cacheBob, "bob-pw-1", RequestControls{})
	if be.count() != 2 {
		t.Errorf("%d backend binds, want 2", be.count())
	}
}

// The cache holds no password: no entry contains the password's bytes,
// and two caches give different proofs for the same password.
func TestBindCacheHoldsNoPassword(t *testing.T) {
	b, _, c, _ := cachedCore(t, BindCacheConfig{})
	bindCode(b, cacheBob, "bob-pw-1", RequestControls{})
	c.mu.Lock()
	for el := c.lru.Front(); el != nil; el = el.Next() {
		e := el.Value.(*cacheEntry)
		dump := fmt.Sprintf("%#v %v %v", *e, e.proof, e.user)
		if strings.Contains(dump, "bob-pw-1") || bytes.Contains(e.proof[:], []byte("bob-pw-1")) {
			t.Error("an entry holds the password")
		}
	}
	c.mu.Unlock()
	c2, err := NewBindCache(BindCacheConfig{})
	if err != nil {
		t.Fatal(err)
	}
	dn, _ := ParseDN(cacheBob)
	if c.proof(c.user(dn), SecretString("x")) == c2.proof(c2.user(dn), SecretString("x")) {
		t.Error("two caches share a key")
	}
}

func TestBindCacheConfig(t *testing.T) {
	for _, cfg := range []BindCacheConfig{{TTL: -time.Second}, {TTL: time.Hour}, {Size: -1}, {Size: MaxBindCacheSize + 1}} {
		if _, err := NewBindCache(cfg); err == nil {
			t.Errorf("%+v accepted", cfg)
		}
	}
	c, err := NewBindCache(BindCacheConfig{})
	if err != nil || c.ttl != DefaultBindCacheTTL || c.size != DefaultBindCacheSize {
		t.Errorf("defaults: %v %v %d", err, c.ttl, c.size)
	}
	// A nil cache is off, not a crash.
	var nilCache *BindCache
	if hit, _, _ := nilCache.lookup(nil, nil, Secret{}, RequestControls{}); hit {
		t.Error("nil cache hit")
	}
	nilCache.store(bindProbe{}, nil, RequestControls{}, Outcome{}, nil)
	nilCache.forget(nil)
	if nilCache.Stats() != (BindCacheStats{}) {
		t.Error("nil cache stats")
	}
}

func TestIdentityAndFoldKeys(t *testing.T) {
	parse := func(s string) *ldap.DN {
		dn, err := ParseDN(s)
		if err != nil {
			t.Fatal(err)
		}
		return dn
	}
	for _, key := range []func(*ldap.DN) string{identityKey, foldKey} {
		if key(parse("UID=Bob+CN=B, DC=Example")) != key(parse("cn=b+uid=bob,dc=example")) {
			t.Error("equal DNs differ")
		}
		for _, pair := range [][2]string{
			{"uid=a\\,b,dc=x", "uid=a,b=,dc=x"},
			{"cn=a+cn=b,dc=x", "cn=a\\+cn\\=b,dc=x"},
			{"uid=bob,dc=x", "uid=bob,dc=y"},
		} {
			if key(parse(pair[0])) == key(parse(pair[1])) {
				t.Errorf("%q and %q collide", pair[0], pair[1])
			}
		}
	}
	// The identity key folds ASCII case only; the fold key (invalidation:
	// forget too much rather than too little) folds Unicode case and
	// runs of spaces too.
	for _, pair := range [][2]string{
		{"cn=ad\u017fmin,dc=x", "cn=adsmin,dc=x"},
		{"cn=\u212a,dc=x", "cn=k,dc=x"},
		{"cn=\u00c9lodie,dc=x", "cn=\u00e9lodie,dc=x"},
		{"cn=a  b,dc=x", "cn=a b,dc=x"},
	} {
		a, b := parse(pair[0]), parse(pair[1])
		if identityKey(a) == identityKey(b) || SameDN(a, b) {
			t.Errorf("identity: %q and %q are the same", pair[0], pair[1])
		}
		if foldKey(a) != foldKey(b) {
			t.Errorf("fold: %q and %q differ", pair[0], pair[1])
		}
	}
}

func BenchmarkBindCacheHit(b *testing.B) {
	core, _, _, _ := cachedCore(b, BindCacheConfig{})
	ctx := context.Background()
	pw := SecretString("bob-pw-1")
	core.Bind(ctx, cacheBob, pw, RequestControls{})
	b.ReportAllocs()
	for b.Loop() {
		out, p := split(core.Bind(ctx, cacheBob, pw, RequestControls{}))
		if !out.OK() {
			b.Fatal(out)
		}
		p.Wipe()
	}
}
