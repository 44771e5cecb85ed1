package bridge

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"hash"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/go-ldap/ldap/v3"
)

// BindCacheConfig sizes the verified-bind cache.
type BindCacheConfig struct {
	// TTL is how long a verified password is trusted without asking the
	// backend again (default 10s, at most 5m): the longest a password
	// changed or an account locked outside the bridge keeps working.
	TTL time.Duration
	// Size bounds the number of users remembered (default 10000); the
	// least recently used are dropped first.
	Size int
}

// Limits of BindCacheConfig.
const (
	DefaultBindCacheTTL  = 10 * time.Second
	MaxBindCacheTTL      = 5 * time.Minute
	DefaultBindCacheSize = 10000
	MaxBindCacheSize     = 1 << 20
)

// invalidationRing is how many recent password changes the cache
// remembers, to refuse a verification that raced with one.
const invalidationRing = 4096

// BindCache remembers successful simple binds so that a client rebinding
// with the same password does not cost a backend request each time. It
// holds no password: an entry is an HMAC-SHA256 of the DN and password
// under a key drawn at random when the cache is made, which never leaves
// the process, so neither the entries nor a memory dump let anyone test
// guesses offline. Only clean successes are kept (no must-change, no
// password policy warning or error), and only under the canonical
// identity the backend named (see identity.go): another spelling of the
// same user never hits. An entry is dropped when the user's password is
// changed through the bridge (under any spelling a directory could take
// for the user), when a bind as the user fails,
// when the configuration is reloaded, and after TTL.
type BindCache struct {
	key  []byte
	macs sync.Pool // of keyed HMAC-SHA256 hash.Hash
	ttl  time.Duration
	size int
	now  func() time.Time

	mu      sync.Mutex
	entries map[userID]*list.Element // of *cacheEntry
	// byFold indexes the entries by the folded canonical identity, for
	// forget.
	byFold map[userID]map[userID]struct{}
	lru    list.List                // front: most recently used
	seq    uint64                   // password changes seen
	recent [invalidationRing]userID // recent[seq%len] is the folded identity of the seq-th change

	hits, misses, stores, invalidations atomic.Uint64
}

type userID [sha256.Size]byte

type cacheEntry struct {
	user userID // the canonical identity (identityKey)
	fold userID // the same, folded (foldKey)
	// subject is the canonical DN the backend named the user by.
	subject string
	proof   [sha256.Size]byte
	// state is the configuration the bind was verified under: a reload
	// may route the DN elsewhere.
	state *State
	// policyChecked: the bind asked for the password policy control, so
	// the backend would have reported a warning; only such an entry may
	// answer a bind that asks for the control.
	policyChecked bool
	expires       time.Time
}

// NewBindCache makes an empty cache with a fresh random key.
func NewBindCache(cfg BindCacheConfig) (*BindCache, error) {
	if cfg.TTL == 0 {
		cfg.TTL = DefaultBindCacheTTL
	}
	if cfg.Size == 0 {
		cfg.Size = DefaultBindCacheSize
	}
	if cfg.TTL < 0 || cfg.TTL > MaxBindCacheTTL {
		return nil, fmt.Errorf("bind cache: ttl %v: want more than 0 and at most %v", cfg.TTL, MaxBindCacheTTL)
	}
	if cfg.Size < 0 || cfg.Size > MaxBindCacheSize {
		return nil, fmt.Errorf("bind cache: size %d: want 1 to %d", cfg.Size, MaxBindCacheSize)
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("bind cache: key: %w", err)
	}
	c := &BindCache{key: key, ttl: cfg.TTL, size: cfg.Size, now: time.Now, entries: make(map[userID]*list.Element),
		byFold: make(map[userID]map[userID]struct{})}
	c.macs.New = func() any { return hmac.New(sha256.New, c.key) }
	return c, nil
}

// BindCacheStats are counters for metrics.
type BindCacheStats struct {
	Hits, Misses, Stores, Invalidations uint64
	Entries                             int
}

// Stats reads the counters. Safe on nil (all zero).
func (c *BindCache) Stats() BindCacheStats {
	if c == nil {
		return BindCacheStats{}
	}
	c.mu.Lock()
	n := c.lru.Len()
	c.mu.Unlock()
	return BindCacheStats{Hits: c.hits.Load(), Misses: c.misses.Load(), Stores: c.stores.Load(),
		Invalidations: c.invalidations.Load(), Entries: n}
}

// foldKey is a form of dn under which every spelling a directory could
// take for the same entry (case variants under Unicode simple folding, runs
// of spaces, the order of a multi-valued RDN) gives the same string. It
// merges more than SameDN does, which is what invalidation wants: the
// cache forgets too much rather than too little.
func foldKey(dn *ldap.DN) string { return dnKey(dn, foldText) }

// foldText maps each rune to the smallest of its case-folding orbit and
// each run of spaces to one.
func foldText(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for _, r := range s {
		if r == ' ' {
			if !space {
				b.WriteByte(' ')
			}
			space = true
			continue
		}
		space = false
		m := r
		for r2 := unicode.SimpleFold(r); r2 != r; r2 = unicode.SimpleFold(r2) {
			m = min(m, r2)
		}
		r = m
		b.WriteRune(r)
	}
	return b.String()
}

// mac is HMAC-SHA256 under the cache's key of the length-prefixed parts
// (so that parts cannot run into each other). The keyed hashes are pooled:
// a bind costs no allocation here.
func (c *BindCache) mac(parts ...[]byte) (out [sha256.Size]byte) {
	m := c.macs.Get().(hash.Hash)
	m.Reset()
	for _, p := range parts {
		var n [4]byte
		n[0], n[1], n[2], n[3] = byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p))
		m.Write(n[:])
		m.Write(p)
	}
	m.Sum(out[:0])
	c.macs.Put(m)
	return out
}

// user is the entry key of an identity: its identityKey (SameDN), so
// that only a spelling SameDN takes for the canonical DN finds the entry.
func (c *BindCache) user(dn *ldap.DN) userID {
	return c.mac([]byte("dn"), []byte(identityKey(dn)))
}

// folded is the invalidation key of a DN: its foldKey, which merges every
// spelling a directory could take for the same entry.
func (c *BindCache) folded(dn *ldap.DN) userID {
	return c.mac([]byte("fold"), []byte(foldKey(dn)))
}

func (c *BindCache) proof(u userID, password Secret) [sha256.Size]byte {
	return c.mac([]byte("password"), u[:], password.Bytes())
}

// bindProbe carries what lookup learnt to store, so that each HMAC is
// computed once per bind.
type bindProbe struct {
	user  userID
	fold  userID
	proof [sha256.Size]byte
	seq   uint64
}

// lookup reports whether dn last bound with this password less than TTL
// ago under st, and the canonical DN the backend named the user by then;
// on a miss it returns the probe for store. Safe on nil.
func (c *BindCache) lookup(st *State, dn *ldap.DN, password Secret, ctl RequestControls) (bool, string, bindProbe) {
	if c == nil {
		return false, "", bindProbe{}
	}
	p := bindProbe{user: c.user(dn), fold: c.folded(dn)}
	p.proof = c.proof(p.user, password)
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	p.seq = c.seq
	if el, ok := c.entries[p.user]; ok {
		e := el.Value.(*cacheEntry)
		switch {
		case !now.Before(e.expires) || e.state != st:
			c.remove(el)
		case hmac.Equal(e.proof[:], p.proof[:]) && (e.policyChecked || !ctl.PasswordPolicy):
			c.lru.MoveToFront(el)
			c.hits.Add(1)
			return true, e.subject, p
		}
	}
	c.misses.Add(1)
	return false, "", p
}

// store records the backend's answer to a bind that missed; subject is
// the canonical DN the backend named the user by. Only a clean success
// of the canonical spelling is kept (another spelling always asks the
// backend), and only if no password change for the user began since
// lookup: the backend may have verified the old password. A failure drops
// what the cache knew of the spelling. Safe on nil.
func (c *BindCache) store(p bindProbe, st *State, ctl RequestControls, out Outcome, subject *ldap.DN) {
	if c == nil {
		return
	}
	clean := out.Code == Success && !out.MustChange &&
		(out.Policy == nil || (out.Policy.Warning == WarningNone && out.Policy.Error == PolicyErrorNone))
	var sfold userID
	if clean {
		clean = subject != nil && c.user(subject) == p.user
		if clean {
			sfold = c.folded(subject)
		}
	}
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !clean {
		if el, ok := c.entries[p.user]; ok {
			c.remove(el)
		}
		return
	}
	if c.changedSince(p.fold, p.seq) || c.changedSince(sfold, p.seq) {
		return
	}
	e := &cacheEntry{user: p.user, fold: sfold, subject: out.Subject, proof: p.proof, state: st,
		policyChecked: ctl.PasswordPolicy, expires: now.Add(c.ttl)}
	if e.subject == "" {
		e.subject = subject.String()
	}
	if el, ok := c.entries[p.user]; ok {
		c.unindex(el.Value.(*cacheEntry))
		el.Value = e
		c.lru.MoveToFront(el)
	} else {
		c.entries[p.user] = c.lru.PushFront(e)
		for c.lru.Len() > c.size {
			c.remove(c.lru.Back())
		}
	}
	if c.byFold[sfold] == nil {
		c.byFold[sfold] = map[userID]struct{}{}
	}
	c.byFold[sfold][p.user] = struct{}{}
	c.stores.Add(1)
}

// changedSince reports whether a change of the password of the folded
// identity f began after the seq-th one; when too many changes happened
// to tell, it says yes.
func (c *BindCache) changedSince(f userID, seq uint64) bool {
	if c.seq == seq {
		return false
	}
	if c.seq-seq >= invalidationRing {
		return true
	}
	for s := seq + 1; s <= c.seq; s++ {
		if c.recent[s%invalidationRing] == f {
			return true
		}
	}
	return false
}

// forget drops every entry of the identity dn names (under folding: every
// spelling a directory could take for it) and records a change of its
// password, so that a verification in flight is not stored either. The
// core calls it before and after asking a backend to change a password.
// Safe on nil.
func (c *BindCache) forget(dn *ldap.DN) {
	if c == nil {
		return
	}
	f := c.folded(dn)
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	c.recent[c.seq%invalidationRing] = f
	for u := range c.byFold[f] {
		if el, ok := c.entries[u]; ok {
			c.remove(el)
		}
	}
	c.invalidations.Add(1)
}

// unindex drops e from byFold.
func (c *BindCache) unindex(e *cacheEntry) {
	if m := c.byFold[e.fold]; m != nil {
		delete(m, e.user)
		if len(m) == 0 {
			delete(c.byFold, e.fold)
		}
	}
}

func (c *BindCache) remove(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.entries, e.user)
	c.unindex(e)
}
