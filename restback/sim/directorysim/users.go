package directorysim

import (
	"bytes"
	"crypto/rand"
	"crypto/sha512"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"
)

// user is one entry with a password. Passwords are kept only as salted
// SSHA-512 hashes, as PingDirectory's default storage scheme does.
type user struct {
	dn  string // as added
	ndn *ldap.DN
	// attrs are the entry's other attributes (search.go SetAttributes).
	attrs map[string][]string

	hash      []byte   // current password
	history   [][]byte // previous passwords, newest first (at most Policy.History-1)
	changedAt time.Time

	mustChange bool        // set by an administrative reset
	failures   []time.Time // outstanding authentication failures
	lockedAt   time.Time   // zero: not failure-locked
}

const (
	ssha512Prefix = "{SSHA512}"
	saltLen       = 16
)

// hashPassword returns "{SSHA512}" + base64(SHA-512(password+salt) + salt).
func hashPassword(password []byte) ([]byte, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("hash password: read salt: %w", err)
	}
	return encodeSSHA512(password, salt), nil
}

func encodeSSHA512(password, salt []byte) []byte {
	h := sha512.New()
	h.Write(password)
	h.Write(salt)
	raw := append(h.Sum(nil), salt...)
	out := make([]byte, len(ssha512Prefix)+base64.StdEncoding.EncodedLen(len(raw)))
	copy(out, ssha512Prefix)
	base64.StdEncoding.Encode(out[len(ssha512Prefix):], raw)
	return out
}

// checkPassword compares password with a stored hash in constant time.
func checkPassword(stored, password []byte) bool {
	if !bytes.HasPrefix(stored, []byte(ssha512Prefix)) {
		return false
	}
	raw, err := base64.StdEncoding.DecodeString(string(stored[len(ssha512Prefix):]))
	if err != nil || len(raw) <= sha512.Size {
		return false
	}
	salt := raw[sha512.Size:]
	return subtle.ConstantTimeCompare(encodeSSHA512(password, salt), stored) == 1
}

// dnKey is a canonical form of a DN such that dnKey(a) == dnKey(b) exactly
// when a.EqualFold(b): attribute types and values case-folded, the values
// of a multi-valued RDN sorted, every value quoted so that escapes cannot
// make two different DNs collide.
func dnKey(dn *ldap.DN) string {
	var b strings.Builder
	for i, rdn := range dn.RDNs {
		if i > 0 {
			b.WriteByte(',')
		}
		parts := make([]string, len(rdn.Attributes))
		for j, a := range rdn.Attributes {
			parts[j] = strconv.Quote(fold(a.Type)) + "=" + strconv.Quote(fold(a.Value))
		}
		sort.Strings(parts)
		b.WriteString(strings.Join(parts, "+"))
	}
	return b.String()
}

// fold maps every rune to the smallest rune of its case-folding orbit, the
// relation strings.EqualFold (and so ldap.DN.EqualFold) uses.
func fold(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r == utf8.RuneError {
			b.WriteRune(r)
			continue
		}
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

// parseDN parses a non-empty DN.
func parseDN(s string) (*ldap.DN, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("empty DN")
	}
	dn, err := ldap.ParseDN(s)
	if err != nil {
		return nil, err
	}
	if len(dn.RDNs) == 0 {
		return nil, errors.New("empty DN")
	}
	return dn, nil
}

// locked reports whether the account is failure-locked at now, and forgets
// a lock whose duration has passed.
func (u *user) locked(p Policy, now time.Time) bool {
	if u.lockedAt.IsZero() {
		return false
	}
	if p.LockoutDuration > 0 && !now.Before(u.lockedAt.Add(p.LockoutDuration)) {
		u.lockedAt = time.Time{}
		u.failures = nil
		return false
	}
	return true
}

// recordFailure counts a failed authentication and locks the account when
// the policy's limit is reached.
func (u *user) recordFailure(p Policy, now time.Time) {
	if p.LockoutFailures <= 0 || !u.lockedAt.IsZero() {
		return
	}
	u.failures = append(u.failures, now)
	if len(u.failures) >= p.LockoutFailures {
		u.lockedAt = now
	}
}

// expired reports whether the password has passed its maximum age.
func (u *user) expired(p Policy, now time.Time) bool {
	return p.MaxAge > 0 && !now.Before(u.changedAt.Add(p.MaxAge))
}

// inHistory reports whether password is the current one or one of the
// History-1 before it.
func (u *user) inHistory(p Policy, password []byte) bool {
	if p.History <= 0 {
		return false
	}
	if checkPassword(u.hash, password) {
		return true
	}
	for _, h := range u.history {
		if checkPassword(h, password) {
			return true
		}
	}
	return false
}

// setPassword installs a new hash and keeps the old one in the history.
func (u *user) setPassword(p Policy, hash []byte, now time.Time, mustChange bool) {
	if keep := p.History - 1; keep > 0 {
		u.history = append([][]byte{u.hash}, u.history...)
		if len(u.history) > keep {
			u.history = u.history[:keep]
		}
	} else {
		u.history = nil
	}
	u.hash = hash
	u.changedAt = now
	u.mustChange = mustChange
	u.failures = nil
	u.lockedAt = time.Time{}
}
