package ldapfront

import (
	"container/heap"
	"crypto/sha256"
	"encoding/binary"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// table is a map of at most max entries, each with a time after which it
// is worth nothing (an expired entry means the same as an absent one).
// Expired entries are dropped first; when the table is full of live ones,
// the entry that expires soonest is evicted, so what is lost is always the
// state closest to harmless. The owner does the locking.
type table[K comparable, V any] struct {
	max int
	m   map[K]*entry[K, V]
	h   entryHeap[K, V]
}

type entry[K comparable, V any] struct {
	key     K
	expires time.Time
	idx     int // in the heap
	v       V
}

func newTable[K comparable, V any](max int) *table[K, V] {
	return &table[K, V]{max: max, m: make(map[K]*entry[K, V])}
}

func (t *table[K, V]) get(k K) *entry[K, V] { return t.m[k] }

func (t *table[K, V]) len() int { return len(t.m) }

// add inserts a new entry for k, which must be absent, making room first.
func (t *table[K, V]) add(k K, now time.Time, expires time.Time) *entry[K, V] {
	for len(t.h) > 0 && !t.h[0].expires.After(now) {
		t.remove(t.h[0])
	}
	for len(t.m) >= t.max && len(t.h) > 0 {
		t.remove(t.h[0])
	}
	e := &entry[K, V]{key: k, expires: expires}
	t.m[k] = e
	heap.Push(&t.h, e)
	return e
}

// setExpires moves e to its place for a new expiry time.
func (t *table[K, V]) setExpires(e *entry[K, V], expires time.Time) {
	e.expires = expires
	heap.Fix(&t.h, e.idx)
}

func (t *table[K, V]) remove(e *entry[K, V]) {
	heap.Remove(&t.h, e.idx)
	delete(t.m, e.key)
}

// entryHeap orders entries by expiry, soonest first.
type entryHeap[K comparable, V any] []*entry[K, V]

func (h entryHeap[K, V]) Len() int           { return len(h) }
func (h entryHeap[K, V]) Less(i, j int) bool { return h[i].expires.Before(h[j].expires) }
func (h entryHeap[K, V]) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].idx, h[j].idx = i, j
}

func (h *entryHeap[K, V]) Push(x any) {
	e := x.(*entry[K, V])
	e.idx = len(*h)
	*h = append(*h, e)
}

func (h *entryHeap[K, V]) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return e
}

// rateLimiter is a token bucket per client address, kept as the time at
// which the bucket is full again (GCRA): one request costs interval, and a
// request is refused when it would put that time more than burst intervals
// ahead. A full bucket is the same as none, so an entry expires then.
type rateLimiter struct {
	interval time.Duration
	depth    time.Duration // burst * interval

	mu sync.Mutex
	t  *table[netip.Addr, struct{}]
}

// The bounds of a rate's interval: a rate so high that one request costs
// nothing, or so low that the bucket's depth would overflow a Duration.
const (
	minInterval = time.Nanosecond
	maxInterval = time.Hour
)

func newRateLimiter(perSecond float64, burst, entries int) *rateLimiter {
	iv := time.Duration(math.Min(float64(time.Second)/perSecond, float64(maxInterval)))
	iv = max(iv, minInterval)
	depth := time.Duration(math.MaxInt64)
	if int64(burst) < math.MaxInt64/int64(iv) {
		depth = iv * time.Duration(burst)
	}
	return &rateLimiter{interval: iv, depth: depth, t: newTable[netip.Addr, struct{}](entries)}
}

// allow charges one request to ip and reports whether it is within the rate.
func (r *rateLimiter) allow(ip netip.Addr, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := r.t.get(ip)
	tat := now
	if e != nil && e.expires.After(now) {
		tat = e.expires
	}
	next := tat.Add(r.interval)
	if next.Sub(now) > r.depth {
		return false
	}
	if e == nil {
		r.t.add(ip, now, next)
	} else {
		r.t.setExpires(e, next)
	}
	return true
}

func (r *rateLimiter) size() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.t.len()
}

// bindWindow is one DN's count of failed binds in the window that began
// with the first of them (the entry's expiry is the window's end).
type bindWindow struct {
	failures int // including binds in progress, counted as failures until they end
}

// bindThrottle counts invalidCredentials per DN: once max of them fall in
// one window (window long from the first), further binds for the DN are
// refused until the window ends, without reaching the core. A bind in
// progress holds one failure in advance, so that concurrent binds cannot
// get more than max attempts to the backend. DNs are kept only as hashes
// of their normalised form.
type bindThrottle struct {
	max    int
	window time.Duration

	mu sync.Mutex
	t  *table[dnKey, bindWindow]
}

type dnKey [sha256.Size]byte

// bindTicket is a bind let through; end settles it.
type bindTicket struct {
	key dnKey
	end time.Time // identifies the window the failure was counted in
}

func newBindThrottle(max, entries int, window time.Duration) *bindThrottle {
	return &bindThrottle{max: max, window: window, t: newTable[dnKey, bindWindow](entries)}
}

// begin reports whether a bind for key may proceed, and counts it as a
// failure until end says otherwise.
func (b *bindThrottle) begin(key dnKey, now time.Time) (bindTicket, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.t.get(key)
	switch {
	case e == nil:
		e = b.t.add(key, now, now.Add(b.window))
	case !e.expires.After(now):
		// The window is over: a new one starts with this bind.
		e.v = bindWindow{}
		b.t.setExpires(e, now.Add(b.window))
	case e.v.failures >= b.max:
		return bindTicket{}, false
	}
	e.v.failures++
	return bindTicket{key: key, end: e.expires}, true
}

// end settles a bind begin let through: a failure stays counted; a success
// forgets the DN's failures; any other outcome (an outage) is not held
// against the DN.
func (b *bindThrottle) end(tk bindTicket, code bridge.ResultCode) {
	if code == bridge.InvalidCredentials {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.t.get(tk.key)
	if e == nil || !e.expires.Equal(tk.end) {
		return // the window this bind was counted in is gone
	}
	if code == bridge.Success {
		b.t.remove(e)
		return
	}
	if e.v.failures--; e.v.failures <= 0 {
		b.t.remove(e)
	}
}

// named counts a bind's outcome against the canonical identity the core
// named (Decision.Target), when its key is not the one the bind was let
// through under: a failure is counted there too, a success forgets its
// failures.
//
// The rule (docs/architecture.md, "Identity"): before the backend
// answers, a bind is counted under its DN folded (case, order of a
// multi-valued RDN), which for PingOne is already the canonical identity,
// since the core lets through only the canonical spelling, up to ASCII
// case (every other one is refused without a backend call and cannot
// guess a password). PingDirectory names the entry only once it has
// authenticated, so failures count under the spelling (folded), and the
// directory's own lockout counts per entry whatever the spelling; a
// success is settled under the entry's DN as well.
func (b *bindThrottle) named(tk bindTicket, dn string, code bridge.ResultCode, now time.Time) {
	k, ok := keyOfDN(dn)
	if !ok || k == tk.key || (code != bridge.InvalidCredentials && code != bridge.Success) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	e := b.t.get(k)
	if code == bridge.Success {
		if e != nil {
			b.t.remove(e)
		}
		return
	}
	switch {
	case e == nil:
		e = b.t.add(k, now, now.Add(b.window))
	case !e.expires.After(now):
		e.v = bindWindow{}
		b.t.setExpires(e, now.Add(b.window))
	}
	e.v.failures++
}

func (b *bindThrottle) size() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.t.len()
}

// keyOfDN hashes the normalised form of dn: attribute types and values
// case-folded (as the core compares DNs), the attributes of a multi-valued
// RDN sorted, every part length-prefixed so that no two DNs share a key by
// accident of escaping. It reports false for a DN that does not parse,
// which the core refuses without asking a backend.
func keyOfDN(dn string) (dnKey, bool) {
	d, err := bridge.ParseDN(dn)
	if err != nil || len(d.RDNs) == 0 {
		return dnKey{}, false
	}
	h := sha256.New()
	var buf []byte
	for _, rdn := range d.RDNs {
		avas := make([]string, 0, len(rdn.Attributes))
		for _, a := range rdn.Attributes {
			t, v := fold(a.Type), fold(a.Value)
			avas = append(avas, string(binary.AppendUvarint(nil, uint64(len(t))))+t+v)
		}
		slices.Sort(avas)
		buf = binary.AppendUvarint(buf[:0], uint64(len(avas)))
		for _, s := range avas {
			buf = binary.AppendUvarint(buf, uint64(len(s)))
			buf = append(buf, s...)
		}
		h.Write(buf)
	}
	var k dnKey
	h.Sum(k[:0])
	return k, true
}

// fold maps each rune of s to the smallest rune of its case-folding orbit
// ('k', 'K' and the Kelvin sign all become 'K'), so that fold(a) ==
// fold(b) exactly when strings.EqualFold(a, b).
func fold(s string) string {
	return strings.Map(func(r rune) rune {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			return r
		}
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				return r2
			}
			r = r2
		}
	}, s)
}
