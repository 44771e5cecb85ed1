package pingone

import (
	"crypto/rand"
	"errors"
	"fmt"
	"math/big"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// generatedLength is the length of generated passwords when the policy
// allows it: about 128 bits from a pool of ~90 characters.
const generatedLength = 20

// generatePassword makes a random password (crypto/rand) that meets the
// policy's local rules: length, character sets, repeated and unique
// characters. PingOne generates none itself.
func generatePassword(p *passwordPolicy) (bridge.Secret, error) {
	sets := p.characterSets()
	counts := make([]int, len(sets))
	need := 0
	for i, s := range sets {
		counts[i] = p.MinCharacters[s]
		need += counts[i]
	}
	poolSets := sets
	if len(poolSets) == 0 {
		poolSets = []string{setUpper, setLower, setDigits, setSpecial}
	}
	var pool []rune
	seen := map[rune]bool{}
	for _, s := range poolSets {
		for _, r := range s {
			if !seen[r] {
				seen[r] = true
				pool = append(pool, r)
			}
		}
	}
	n := max(generatedLength, need)
	if p.Length != nil {
		n = max(n, p.Length.Min)
		if p.Length.Max > 0 {
			n = min(n, p.Length.Max)
		}
	}
	if p.MinUniqueCharacters != nil {
		n = max(n, min(*p.MinUniqueCharacters, maxPolicyLength))
	}
	if need > n || (p.MinUniqueCharacters != nil && *p.MinUniqueCharacters > len(pool)) || n > maxPolicyLength {
		return bridge.Secret{}, errors.New("generate password: the password policy cannot be satisfied")
	}
	buf := make([]rune, 0, n)
	for attempt := 0; attempt < 100; attempt++ {
		buf = buf[:0]
		for i, s := range sets {
			rs := []rune(s)
			for j := 0; j < counts[i]; j++ {
				r, err := pick(rs)
				if err != nil {
					return bridge.Secret{}, err
				}
				buf = append(buf, r)
			}
		}
		for len(buf) < n {
			r, err := pick(pool)
			if err != nil {
				return bridge.Secret{}, err
			}
			buf = append(buf, r)
		}
		if err := shuffle(buf); err != nil {
			return bridge.Secret{}, err
		}
		ok := (p.MaxRepeatedCharacters == nil || *p.MaxRepeatedCharacters == 0 || runsAtMost(buf, *p.MaxRepeatedCharacters)) &&
			(p.MinUniqueCharacters == nil || distinct(buf) >= *p.MinUniqueCharacters)
		if ok {
			// Encode without an intermediate string, which could not be wiped.
			b := make([]byte, 0, 4*len(buf))
			for _, r := range buf {
				b = utf8.AppendRune(b, r)
			}
			s := bridge.NewSecret(b)
			clear(b)
			clear(buf)
			return s, nil
		}
	}
	clear(buf)
	return bridge.Secret{}, errors.New("generate password: no candidate met the policy")
}

func runsAtMost(rs []rune, limit int) bool {
	run := 0
	for i, r := range rs {
		if i > 0 && r == rs[i-1] {
			run++
		} else {
			run = 1
		}
		if run > limit {
			return false
		}
	}
	return true
}

func distinct(rs []rune) int {
	seen := map[rune]struct{}{}
	for _, r := range rs {
		seen[r] = struct{}{}
	}
	return len(seen)
}

func randIntn(n int) (int, error) {
	v, err := rand.Int(rand.Reader, big.NewInt(int64(n)))
	if err != nil {
		return 0, fmt.Errorf("generate password: %w", err)
	}
	return int(v.Int64()), nil
}

func pick(rs []rune) (rune, error) {
	i, err := randIntn(len(rs))
	if err != nil {
		return 0, err
	}
	return rs[i], nil
}

// shuffle is Fisher-Yates with crypto/rand.
func shuffle(rs []rune) error {
	for i := len(rs) - 1; i > 0; i-- {
		j, err := randIntn(i + 1)
		if err != nil {
			return err
		}
		rs[i], rs[j] = rs[j], rs[i]
	}
	return nil
}
