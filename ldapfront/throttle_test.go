package ldapfront

import (
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

// dialFrom connects to addr from a given loopback address: on Linux all
// of 127.0.0.0/8 is local, which gives the tests many client addresses.
func dialFrom(t *testing.T, src, addr string) *rawClient {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", src, err)
	}
	t.Cleanup(func() { c.Close() })
	return &rawClient{t: t, c: c, br: newReader(c)}
}

func (r *rawClient) whoAmI(id int64) response {
	r.t.Helper()
	r.send(envelope(id, extOp(oidWhoAmI, nil, false)))
	rs := parseResponse(r.t, r.read())
	if rs.id != id {
		r.t.Fatalf("response to %d: %+v", id, rs)
	}
	return rs
}

func TestRatePerIP(t *testing.T) {
	core, sc := testCore(t)
	clk := newFakeClock()
	lim := testLimits()
	lim.RatePerIP, lim.RateBurst = 1, 3
	ts := startServerWith(t, core, Options{Limits: lim}, Listener{Name: "t"}, withClock(clk))

	a := dialRaw(t, ts.addr)
	a.bind(1, userDN, userPass)
	if rs := a.whoAmI(2); rs.code != bridge.Success {
		t.Fatalf("within the burst: %+v", rs)
	}
	// A second connection from the same address shares the bucket.
	b := dialRaw(t, ts.addr)
	if rs := b.whoAmI(1); rs.code != bridge.Success {
		t.Fatalf("within the burst: %+v", rs)
	}
	// Over it: busy, at once, in the request's own response type.
	if rs := a.whoAmI(3); rs.code != bridge.Busy || rs.opTag != appExtendedResp || !strings.Contains(rs.diag, "too many requests") {
		t.Fatalf("over the rate: %+v", rs)
	}
	r := rootDSESearch(4, "vendorName")
	a.send(r)
	if rs := parseResponse(t, a.read()); rs.id != 4 || rs.opTag != appSearchDone || rs.code != bridge.Busy {
		t.Fatalf("search over the rate: %+v", rs)
	}
	// A bind over the rate does not reach the core, and leaves the
	// session anonymous, as any failed bind does.
	binds := sc.bindCount()
	a.send(envelope(5, bindOp(3, userDN, userPass)))
	if rs := parseResponse(t, a.read()); rs.id != 5 || rs.opTag != appBindResponse || rs.code != bridge.Busy || sc.bindCount() != binds {
		t.Fatalf("bind over the rate: %+v (backend binds %d -> %d)", rs, binds, sc.bindCount())
	}
	// Abandon has no response and costs nothing; the connection stays.
	a.send(envelope(6, abandonOp(99)))

	// Another address is not affected.
	if rs := dialFrom(t, "127.0.0.2", ts.addr).whoAmI(1); rs.code != bridge.Success {
		t.Fatalf("another address: %+v", rs)
	}

	// One second later, one more request is allowed, and one only.
	clk.Advance(time.Second)
	if rs := a.whoAmI(7); rs.code != bridge.Success || len(rs.value) != 0 {
		t.Fatalf("after a second: %+v, want success as anonymous", rs)
	}
	if rs := a.whoAmI(8); rs.code != bridge.Busy {
		t.Fatalf("the second request after a second: %+v", rs)
	}
	// And after a long pause, the whole burst again.
	clk.Advance(time.Hour)
	for id := int64(9); id < 12; id++ {
		if rs := a.whoAmI(id); rs.code != bridge.Success {
			t.Fatalf("burst after a pause, request %d: %+v", id, rs)
		}
	}
	hits := 0
	for _, h := range ts.ev.limitHits() {
		if h == "rate_per_ip" {
			hits++
		}
	}
	if hits != 4 {
		t.Fatalf("rate_per_ip reported %d times, want 4 (limit hits %v)", hits, ts.ev.limitHits())
	}
	if got := ts.ev.opCodes("bind"); !slices.Contains(got, bridge.Busy) {
		t.Fatalf("OpDone(bind) %v, want a busy one", got)
	}
}

func TestRatePerIPBounded(t *testing.T) {
	core, _ := testCore(t)
	clk := newFakeClock()
	lim := testLimits()
	lim.RatePerIP, lim.RateBurst, lim.LimiterEntries = 1, 2, 4
	ts := startServerWith(t, core, Options{Limits: lim}, Listener{Name: "t"}, withClock(clk))
	for i := 2; i < 14; i++ {
		src := "127.0.0." + itoa(i)
		if rs := dialFrom(t, src, ts.addr).whoAmI(1); rs.code != bridge.Success {
			t.Fatalf("%s: %+v", src, rs)
		}
		if n := ts.srv.rate.size(); n > lim.LimiterEntries {
			t.Fatalf("%d addresses tracked, bound %d", n, lim.LimiterEntries)
		}
	}
	if n := ts.srv.rate.size(); n != lim.LimiterEntries {
		t.Fatalf("%d addresses tracked, want the bound %d", n, lim.LimiterEntries)
	}
	// Once every bucket is full again, the state is dropped as it goes.
	clk.Advance(time.Minute)
	dialFrom(t, "127.0.0.200", ts.addr).whoAmI(1)
	if n := ts.srv.rate.size(); n != 1 {
		t.Fatalf("%d addresses tracked after they all refilled, want 1", n)
	}
}

func TestFailedBindsPerDN(t *testing.T) {
	core, sc := testCore(t)
	clk := newFakeClock()
	lim := testLimits()
	lim.FailedBindsPerDN = 2
	ts := startServerWith(t, core, Options{Limits: lim}, Listener{Name: "t"}, withClock(clk))
	l := dialLDAP(t, ts.addr)

	for i := range 2 {
		if err := l.Bind(userDN, "wrong"); ldapCode(err) != uint16(bridge.InvalidCredentials) {
			t.Fatalf("failed bind %d: %v", i+1, err)
		}
	}
	// Further binds for the DN, even with the right password and however
	// the DN is spelt, are busy and reach no backend.
	binds := sc.bindCount()
	for _, dn := range []string{userDN, "UID=JDoe, OU=People, DC=example, DC=com"} {
		err := l.Bind(dn, userPass)
		if ldapCode(err) != uint16(bridge.Busy) || !strings.Contains(ldapDiag(err), "too many failed binds") {
			t.Fatalf("bind as %q after the failures: %v", dn, err)
		}
	}
	// The ppolicy control, when asked for, says nothing (the account is
	// not locked at the backend).
	r := dialRaw(t, ts.addr)
	r.send(envelope(1, bindOp(3, userDN, userPass), reqControlPacket(pwcontrol.OIDPasswordPolicy, false)))
	if rs := parseResponse(t, r.read()); rs.code != bridge.Busy {
		t.Fatalf("bind with ppolicy: %+v", rs)
	} else if v, ok := rs.control(t, pwcontrol.OIDPasswordPolicy); !ok || len(v) != 2 {
		t.Fatalf("ppolicy control % x (present %v)", v, ok)
	}
	if sc.bindCount() != binds {
		t.Fatalf("throttled binds reached the backend: %d -> %d", binds, sc.bindCount())
	}
	// Another DN still binds, from the same client.
	if err := l.Bind(adminDN, adminPass); err != nil {
		t.Fatalf("another DN: %v", err)
	}
	if got := ts.ev.limitHits(); len(got) != 3 || got[0] != "failed_binds_per_dn" {
		t.Fatalf("limit hits %v", got)
	}

	// After the minute, the DN binds again, and a success clears its count.
	clk.Advance(time.Minute)
	if err := l.Bind(userDN, "wrong"); ldapCode(err) != uint16(bridge.InvalidCredentials) {
		t.Fatalf("failed bind in the new minute: %v", err)
	}
	if err := l.Bind(userDN, userPass); err != nil {
		t.Fatalf("bind in the new minute: %v", err)
	}
	for i := range 2 {
		if err := l.Bind(userDN, "wrong"); ldapCode(err) != uint16(bridge.InvalidCredentials) {
			t.Fatalf("failed bind %d after the success: %v", i+1, err)
		}
	}
	if err := l.Bind(userDN, userPass); ldapCode(err) != uint16(bridge.Busy) {
		t.Fatalf("third failure-free bind: %v", err)
	}
	// Anonymous binds and DNs with no password never reach a password
	// check, and are not throttled.
	if err := l.UnauthenticatedBind(userDN); ldapCode(err) != uint16(bridge.UnwillingToPerform) {
		t.Fatalf("DN without password: %v", err)
	}
}

func TestFailedBindsPerDNBounded(t *testing.T) {
	core, _ := testCore(t)
	lim := testLimits()
	lim.FailedBindsPerDN, lim.LimiterEntries = 1, 4
	ts := startServer(t, core, Options{Limits: lim}, Listener{Name: "t"})
	l := dialLDAP(t, ts.addr)
	for i := range 12 {
		dn := "uid=u" + itoa(i) + ",ou=people,dc=example,dc=com"
		if err := l.Bind(dn, "wrong"); ldapCode(err) != uint16(bridge.InvalidCredentials) {
			t.Fatalf("bind %s: %v", dn, err)
		}
		if n := ts.srv.binds.size(); n > lim.LimiterEntries {
			t.Fatalf("%d DNs tracked, bound %d", n, lim.LimiterEntries)
		}
	}
	// The most recent DN is still held.
	if err := l.Bind("uid=u11,ou=people,dc=example,dc=com", userPass); ldapCode(err) != uint16(bridge.Busy) {
		t.Fatalf("the most recent DN: %v", err)
	}
}

func TestRateLimiterTable(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	rl := newRateLimiter(10, 5, 1000)
	var a [4]byte
	for i := range 100_000 {
		a[1], a[2], a[3] = byte(i>>16), byte(i>>8), byte(i)
		if !rl.allow(netip.AddrFrom4(a), now) {
			t.Fatalf("first request from a new address %d refused", i)
		}
		if rl.size() > 1000 {
			t.Fatalf("%d entries, bound 1000", rl.size())
		}
	}
	ip := netip.MustParseAddr("192.0.2.1")
	for i := range 5 {
		if !rl.allow(ip, now) {
			t.Fatalf("request %d of the burst refused", i)
		}
	}
	if rl.allow(ip, now) {
		t.Fatal("request over the burst allowed")
	}
	if !rl.allow(ip, now.Add(100*time.Millisecond)) || rl.allow(ip, now.Add(100*time.Millisecond)) {
		t.Fatal("not one request per interval")
	}
	// Extreme rates neither overflow nor divide by zero.
	for _, tc := range []struct {
		rate  float64
		burst int
	}{{1e-12, 1 << 30}, {1e30, 1}, {1, 1 << 62}} {
		rl := newRateLimiter(tc.rate, tc.burst, 10)
		if !rl.allow(ip, now) || rl.interval <= 0 || rl.depth < rl.interval {
			t.Fatalf("rate %g burst %d: interval %v depth %v", tc.rate, tc.burst, rl.interval, rl.depth)
		}
	}
}

func TestBindThrottleTable(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	bt := newBindThrottle(2, 100, time.Minute)
	key := func(dn string) dnKey {
		k, ok := keyOfDN(dn)
		if !ok {
			t.Fatalf("keyOfDN(%q) failed", dn)
		}
		return k
	}
	k := key(userDN)

	// Binds in progress count: two at once use the DN's allowance.
	t1, ok1 := bt.begin(k, now)
	t2, ok2 := bt.begin(k, now)
	if _, ok := bt.begin(k, now); !ok1 || !ok2 || ok {
		t.Fatalf("begin: %v %v, third %v", ok1, ok2, ok)
	}
	// An outage is not held against the DN; a failure is.
	bt.end(t1, bridge.Unavailable)
	bt.end(t2, bridge.InvalidCredentials)
	t3, ok := bt.begin(k, now)
	if !ok {
		t.Fatal("refused after an outage was given back")
	}
	bt.end(t3, bridge.InvalidCredentials)
	if _, ok := bt.begin(k, now.Add(59*time.Second)); ok {
		t.Fatal("allowed within the minute after two failures")
	}
	t4, ok := bt.begin(k, now.Add(time.Minute))
	if !ok {
		t.Fatal("refused after the minute")
	}
	bt.end(t4, bridge.Success)
	if bt.size() != 0 {
		t.Fatalf("a success left %d entries", bt.size())
	}
	// A ticket from an ended window does not touch the next one.
	t5, _ := bt.begin(k, now.Add(2*time.Minute))
	bt.end(t5, bridge.InvalidCredentials)
	t6, _ := bt.begin(k, now.Add(2*time.Minute))
	t7, _ := bt.begin(k, now.Add(4*time.Minute)) // a new window
	bt.end(t6, bridge.Unavailable)               // from the old one: ignored
	if _, ok := bt.begin(k, now.Add(4*time.Minute)); !ok {
		t.Fatal("second bind of the new window refused")
	}
	if _, ok := bt.begin(k, now.Add(4*time.Minute)); ok {
		t.Fatal("a stale ticket gave back a failure of the new window")
	}
	_ = t7

	// Bounded, whatever the number of DNs.
	for i := range 10_000 {
		tk, _ := bt.begin(key("uid=u"+itoa(i)+",dc=example,dc=com"), now.Add(5*time.Minute))
		bt.end(tk, bridge.InvalidCredentials)
		if bt.size() > 100 {
			t.Fatalf("%d entries, bound 100", bt.size())
		}
	}
}

func TestKeyOfDN(t *testing.T) {
	same := [][2]string{
		{userDN, "UID=JDOE,OU=PEOPLE,DC=EXAMPLE,DC=COM"},
		{userDN, "uid = jdoe , ou=people, dc=example,dc=com"},
		{"cn=a+sn=b,dc=x", "sn=b+cn=a,dc=x"},
		{"cn=\u212a,dc=x", "cn=k,dc=x"}, // the Kelvin sign folds to k, as strings.EqualFold says
		{"cn=\\41,dc=x", "cn=a,dc=x"},
	}
	for _, p := range same {
		a, okA := keyOfDN(p[0])
		b, okB := keyOfDN(p[1])
		if !okA || !okB || a != b {
			t.Errorf("keyOfDN(%q) != keyOfDN(%q)", p[0], p[1])
		}
	}
	different := [][2]string{
		{userDN, "uid=jdoe2,ou=people,dc=example,dc=com"},
		{"cn=a\\+b=c,dc=x", "cn=a+b=c,dc=x"}, // one value with a plus, or two attributes
		{"cn=a\\,b=c,dc=x", "cn=a,b=c,dc=x"}, // a comma in a value, or two RDNs
		{"cn=ab,dc=x", "cn=a+b=,dc=x"},       // no concatenation ambiguity
		{"cn=a,dc=x", "cn=a,dc=x,dc=y"},
	}
	for _, p := range different {
		a, okA := keyOfDN(p[0])
		b, okB := keyOfDN(p[1])
		if !okA || !okB || a == b {
			t.Errorf("keyOfDN(%q) == keyOfDN(%q) (ok %v %v)", p[0], p[1], okA, okB)
		}
	}
	for _, bad := range []string{"", "uid=x,,", "not a dn"} {
		if _, ok := keyOfDN(bad); ok {
			t.Errorf("keyOfDN(%q) accepted", bad)
		}
	}
	for _, p := range [][2]string{{"ǅ", "ǆ"}, {"Ǆ", "ǅ"}, {"ſ", "S"}, {"\u212a", "K"}, {"Straße", "STRASSE"}, {"a", "b"}, {"", ""}} {
		if (fold(p[0]) == fold(p[1])) != strings.EqualFold(p[0], p[1]) {
			t.Errorf("fold(%q) == fold(%q) is not strings.EqualFold", p[0], p[1])
		}
	}
}

func TestLimiterDefaults(t *testing.T) {
	cases := []struct {
		in                  Limits
		rate                float64
		burst, binds, table int
	}{
		{Limits{}, 0, 0, 0, 16384},
		{Limits{RatePerIP: 2.5}, 2.5, 10, 0, 16384},
		{Limits{RatePerIP: 50, FailedBindsPerDN: 5, LimiterEntries: 7}, 50, 50, 5, 7},
		{Limits{RatePerIP: 1, RateBurst: 2}, 1, 2, 0, 16384},
		{Limits{RatePerIP: -1, RateBurst: 3, FailedBindsPerDN: -2}, 0, 0, 0, 16384},
	}
	for _, tc := range cases {
		got := tc.in.withDefaults()
		if got.RatePerIP != tc.rate || got.RateBurst != tc.burst || got.FailedBindsPerDN != tc.binds || got.LimiterEntries != tc.table {
			t.Errorf("%+v: got rate %g burst %d binds %d table %d", tc.in, got.RatePerIP, got.RateBurst, got.FailedBindsPerDN, got.LimiterEntries)
		}
	}
	// Off means no limiter at all.
	core, _ := testCore(t)
	if s := NewServer(core, Options{}); s.rate != nil || s.binds != nil {
		t.Fatal("limiters made with the limits off")
	}
}

func itoa(i int) string { return strconv.Itoa(i) }

// A bind's outcome is counted under the identity the core named as well,
// when that key differs from the spelling it was let through under.
func TestBindThrottleNamed(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	bt := newBindThrottle(2, 100, time.Minute)
	spelled, _ := keyOfDN("uid=bob,ou=people,dc=example,dc=com")
	canonical, _ := keyOfDN(userDN)
	for i := 0; i < 2; i++ {
		tk, ok := bt.begin(spelled, now)
		if !ok {
			t.Fatal("refused")
		}
		bt.named(tk, userDN, bridge.InvalidCredentials, now)
		bt.end(tk, bridge.InvalidCredentials)
	}
	if _, ok := bt.begin(canonical, now); ok {
		t.Fatal("the canonical identity's failures were not counted")
	}
	// The same key, or an outage: nothing more.
	n := bt.size()
	tk := bindTicket{key: spelled}
	bt.named(tk, "uid=bob,ou=people,dc=example,dc=com", bridge.InvalidCredentials, now)
	bt.named(tk, "cn=other,dc=x", bridge.Unavailable, now)
	if bt.size() != n {
		t.Fatalf("%d entries, want %d", bt.size(), n)
	}
	// A success forgets the canonical identity's failures.
	bt.named(tk, userDN, bridge.Success, now)
	if _, ok := bt.begin(canonical, now); !ok {
		t.Fatal("a success did not forget the canonical identity's failures")
	}
}
