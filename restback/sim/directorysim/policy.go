package directorysim

import (
	"crypto/rand"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// The character sets of the character-class requirements, listed in the
// requirement's client-side validation properties as PingDirectory's
// character set validator lists them.
const (
	digitChars   = "0123456789"
	upperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	lowerChars   = "abcdefghijklmnopqrstuvwxyz"
	specialChars = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
)

// Client-side validation types. "length" and "character-set" are
// PingDirectory's (see the validation details vectors); "not-current-password"
// appears in the Directory REST API's changePassword example. The history
// and minimum-age types are this simulator's own choice: no evidence was
// found for the names PingDirectory uses there.
const (
	typeLength        = "length"
	typeCharacterSet  = "character-set"
	typeNotCurrent    = "not-current-password"
	typeHistory       = "password-history"
	typeMinimumAge    = "minimum-password-age"
	defaultGenLength  = 16
	expiryWarnDefault = 5 * 24 * time.Hour // PingDirectory's default warning interval
)

type charClass struct {
	min       int
	set       string
	one, many string // "one digit", "%d digits"
	belongs   func(r rune) bool
}

func (p Policy) classes() []charClass {
	in := func(set string) func(rune) bool {
		return func(r rune) bool { return r < utf8.RuneSelf && strings.ContainsRune(set, r) }
	}
	return []charClass{
		{p.MinDigits, digitChars, "one digit", "%d digits", in(digitChars)},
		{p.MinUpper, upperChars, "one uppercase letter", "%d uppercase letters", in(upperChars)},
		{p.MinLower, lowerChars, "one lowercase letter", "%d lowercase letters", in(lowerChars)},
		{p.MinSpecial, specialChars, "one special character", "%d special characters", in(specialChars)},
	}
}

// validate checks a proposed password against the policy and returns one
// result per requirement, in PingDirectory's style. u is the target (its
// history is checked); self is true for a self change (minimum age applies).
func (p Policy) validate(password []byte, u *user, self bool, now time.Time) []bridge.ValidationResult {
	var out []bridge.ValidationResult
	n := utf8.RuneCount(password)
	if p.MinLength > 0 {
		r := bridge.ValidationResult{
			Requirement: bridge.Requirement{
				Description:    fmt.Sprintf("The password must contain at least %d characters.", p.MinLength),
				ValidationType: typeLength,
				Properties:     []bridge.Property{{Name: "minimum-length", Value: strconv.Itoa(p.MinLength)}},
			},
			Satisfied: n >= p.MinLength,
		}
		if !r.Satisfied {
			info := fmt.Sprintf("The provided password had only %d characters.", n)
			r.AdditionalInfo = &info
		}
		out = append(out, r)
	}
	for _, c := range p.classes() {
		if c.min <= 0 {
			continue
		}
		what := c.one
		if c.min > 1 {
			what = fmt.Sprintf(c.many, c.min)
		}
		count := 0
		for _, r := range string(password) {
			if c.belongs(r) {
				count++
			}
		}
		out = append(out, bridge.ValidationResult{
			Requirement: bridge.Requirement{
				Description:    "The password must contain at least " + what + ".",
				ValidationType: typeCharacterSet,
				Properties: []bridge.Property{
					{Name: "set-characters", Value: c.set},
					{Name: "minimum-count", Value: strconv.Itoa(c.min)},
				},
			},
			Satisfied: count >= c.min,
		})
	}
	if p.History > 0 {
		req := bridge.Requirement{
			Description:    "The new password must not be the same as the current password.",
			ValidationType: typeNotCurrent,
		}
		if p.History > 1 {
			req = bridge.Requirement{
				Description:    fmt.Sprintf("The new password must not be the same as any of the last %d passwords.", p.History),
				ValidationType: typeHistory,
				Properties:     []bridge.Property{{Name: "history-count", Value: strconv.Itoa(p.History)}},
			}
		}
		out = append(out, bridge.ValidationResult{Requirement: req, Satisfied: u == nil || !u.inHistory(p, password)})
	}
	if self && p.MinAge > 0 {
		secs := int64(p.MinAge / time.Second)
		r := bridge.ValidationResult{
			Requirement: bridge.Requirement{
				Description:    fmt.Sprintf("The password must not be changed within %d seconds of the previous change.", secs),
				ValidationType: typeMinimumAge,
				Properties:     []bridge.Property{{Name: "minimum-age-seconds", Value: strconv.FormatInt(secs, 10)}},
			},
			Satisfied: u == nil || u.mustChange || !now.Before(u.changedAt.Add(p.MinAge)),
		}
		out = append(out, r)
	}
	return out
}

// unsatisfied lists the descriptions of the failed requirements.
func unsatisfied(results []bridge.ValidationResult) []string {
	var out []string
	for _, r := range results {
		if !r.Satisfied {
			out = append(out, r.Requirement.Description)
		}
	}
	return out
}

// tooYoung reports whether the only reason to refuse is the minimum age.
func tooYoung(results []bridge.ValidationResult) bool {
	for _, r := range results {
		if !r.Satisfied && r.Requirement.ValidationType == typeMinimumAge {
			return true
		}
	}
	return false
}

// generate makes a random password that satisfies the policy's length and
// character-class requirements (history is the caller's to check).
func (p Policy) generate() ([]byte, error) {
	var out []byte
	need := 0
	for _, c := range p.classes() {
		for i := 0; i < c.min; i++ {
			ch, err := pick(c.set)
			if err != nil {
				return nil, err
			}
			out = append(out, ch)
		}
		need += c.min
	}
	length := max(p.MinLength, need, defaultGenLength)
	fill := lowerChars + upperChars + digitChars
	for len(out) < length {
		ch, err := pick(fill)
		if err != nil {
			return nil, err
		}
		out = append(out, ch)
	}
	// Fisher-Yates, so the required characters are not all at the front.
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return nil, fmt.Errorf("generate password: %w", err)
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return out, nil
}

func pick(set string) (byte, error) {
	i, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
	if err != nil {
		return 0, fmt.Errorf("generate password: %w", err)
	}
	return set[i.Int64()], nil
}

func (p Policy) expiryWarning() time.Duration {
	if p.ExpiryWarning > 0 {
		return p.ExpiryWarning
	}
	return expiryWarnDefault
}
