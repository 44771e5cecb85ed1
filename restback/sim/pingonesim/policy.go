package pingonesim

import (
	"math"
	"strings"
	"time"
	"unicode/utf8"
)

// The character sets of PingOne's minCharacters map, keyed as the API
// keys them.
const (
	setUpper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	setLower   = "abcdefghijklmnopqrstuvwxyz"
	setDigits  = "0123456789"
	setSpecial = "~!@#$%^&*()-_=+[]{}|;:,.<>/?"
)

// policy is a PingOne password policy as the API returns it. Pointers are
// "not enforced when absent".
type policy struct {
	ID                    string         `json:"id"`
	Environment           ref            `json:"environment"`
	Name                  string         `json:"name"`
	Description           string         `json:"description"`
	ExcludesProfileData   bool           `json:"excludesProfileData"`
	NotSimilarToCurrent   bool           `json:"notSimilarToCurrent"`
	ExcludesCommonlyUsed  bool           `json:"excludesCommonlyUsed"`
	MaxAgeDays            *int           `json:"maxAgeDays,omitempty"`
	MinAgeDays            *int           `json:"minAgeDays,omitempty"`
	MaxRepeatedCharacters *int           `json:"maxRepeatedCharacters,omitempty"`
	MinUniqueCharacters   *int           `json:"minUniqueCharacters,omitempty"`
	History               *history       `json:"history,omitempty"`
	Lockout               *lockout       `json:"lockout,omitempty"`
	Length                *length        `json:"length,omitempty"`
	MinCharacters         map[string]int `json:"minCharacters,omitempty"`
	PopulationCount       int            `json:"populationCount"`
	CreatedAt             string         `json:"createdAt"`
	UpdatedAt             string         `json:"updatedAt"`
	Default               bool           `json:"default"`

	// minAge is the exact minimum age the simulator enforces; MinAgeDays
	// is its rounded-up wire form.
	minAge time.Duration
}

type ref struct {
	ID string `json:"id"`
}

type history struct {
	Count         int `json:"count"`
	RetentionDays int `json:"retentionDays"`
}

type lockout struct {
	FailureCount    int `json:"failureCount"`
	DurationSeconds int `json:"durationSeconds"`
}

type length struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

func intp(n int) *int { return &n }

// standardPolicy is PingOne's pre-defined "Standard" policy, with the
// values a new environment has (length 8-255, one each of upper, lower,
// digit and special, history 6 / 365 days, lockout after 5 failures for
// 900 s, max age 182 days, at most 2 repeated characters, at least 5
// unique characters). The minimum age is the simulator's configuration
// (PingOne's default is 1 day; tests need to turn it off or shorten it).
func standardPolicy(envID string, minAge time.Duration, created time.Time) policy {
	p := policy{
		ID:                    newID(),
		Environment:           ref{envID},
		Name:                  "Standard",
		Description:           "A standard policy that incorporates industry best practices",
		ExcludesProfileData:   true,
		NotSimilarToCurrent:   true,
		ExcludesCommonlyUsed:  true,
		MaxAgeDays:            intp(182),
		MaxRepeatedCharacters: intp(2),
		MinUniqueCharacters:   intp(5),
		History:               &history{Count: 6, RetentionDays: 365},
		Lockout:               &lockout{FailureCount: 5, DurationSeconds: 900},
		Length:                &length{Min: 8, Max: 255},
		MinCharacters:         map[string]int{setSpecial: 1, setDigits: 1, setUpper: 1, setLower: 1},
		PopulationCount:       1,
		CreatedAt:             created.UTC().Format(timeFormat),
		UpdatedAt:             created.UTC().Format(timeFormat),
		Default:               true,
		minAge:                minAge,
	}
	if minAge > 0 {
		p.MinAgeDays = intp(int(math.Ceil(minAge.Hours() / 24)))
	}
	return p
}

// otherPolicies are the two other pre-defined policies, listed but never
// the default.
func otherPolicies(envID string, created time.Time) []policy {
	c := created.UTC().Format(timeFormat)
	return []policy{
		{
			ID: newID(), Environment: ref{envID}, Name: "Basic",
			Description:          "A relaxed standard policy to allow for maximum customer flexibility",
			ExcludesCommonlyUsed: true,
			Length:               &length{Min: 8, Max: 255},
			CreatedAt:            c, UpdatedAt: c,
		},
		{
			ID: newID(), Environment: ref{envID}, Name: "Passphrase",
			Description:          "A policy that encourages the use of passphrases",
			ExcludesCommonlyUsed: true, ExcludesProfileData: true, NotSimilarToCurrent: true,
			MinUniqueCharacters: intp(5),
			History:             &history{Count: 6, RetentionDays: 365},
			Lockout:             &lockout{FailureCount: 5, DurationSeconds: 900},
			Length:              &length{Min: 30, Max: 255},
			CreatedAt:           c, UpdatedAt: c,
		},
	}
}

const timeFormat = "2006-01-02T15:04:05.000Z"

// commonPasswords is the simulator's short stand-in for PingOne's list of
// commonly used passwords (compared case-insensitively).
var commonPasswords = map[string]bool{
	"password": true, "password1": true, "password123": true, "123456": true,
	"12345678": true, "123456789": true, "qwerty": true, "qwerty123": true,
	"letmein": true, "welcome": true, "welcome1": true, "iloveyou": true,
	"admin": true, "abc123": true, "p@ssw0rd": true, "passw0rd": true,
	"passw0rd!": true, "password1!": true, "password123!": true,
	"welcome1!": true, "qwerty123!": true, "changeme": true, "changeme1!": true,
}

// evalContext is what a policy check needs to know besides the candidate.
type evalContext struct {
	// profile holds the user's attribute values (username, email).
	profile []string
	// current is the current password as the user supplied it on a self
	// change; "" otherwise (PingOne only checks notSimilarToCurrent then).
	current string
	// inHistory reports whether the candidate is the current password or
	// one of the retained previous ones.
	inHistory func(string) bool
}

// unsatisfied returns the names of the requirements candidate fails, in
// the order the policy lists them.
func (p *policy) unsatisfied(candidate string, ec evalContext) []string {
	var out []string
	n := utf8.RuneCountInString(candidate)
	if p.Length != nil && (n < p.Length.Min || n > p.Length.Max) {
		out = append(out, "length")
	}
	for _, set := range []string{setUpper, setLower, setDigits, setSpecial} {
		if min, ok := p.MinCharacters[set]; ok && countIn(candidate, set) < min {
			out = append(out, "minCharacters")
			break
		}
	}
	if p.MaxRepeatedCharacters != nil && longestRun(candidate) > *p.MaxRepeatedCharacters {
		out = append(out, "maxRepeatedCharacters")
	}
	if p.MinUniqueCharacters != nil && uniqueRunes(candidate) < *p.MinUniqueCharacters {
		out = append(out, "minUniqueCharacters")
	}
	if p.ExcludesCommonlyUsed && commonPasswords[strings.ToLower(candidate)] {
		out = append(out, "excludesCommonlyUsed")
	}
	if p.ExcludesProfileData && matchesProfile(candidate, ec.profile) {
		out = append(out, "excludesProfileData")
	}
	if p.NotSimilarToCurrent && ec.current != "" && similar(candidate, ec.current) {
		out = append(out, "notSimilarToCurrent")
	}
	if p.History != nil && ec.inHistory != nil && ec.inHistory(candidate) {
		out = append(out, "history")
	}
	return out
}

func countIn(s, set string) int {
	n := 0
	for _, r := range s {
		if strings.ContainsRune(set, r) {
			n++
		}
	}
	return n
}

func longestRun(s string) int {
	best, run := 0, 0
	var prev rune = -1
	for _, r := range s {
		if r == prev {
			run++
		} else {
			run = 1
			prev = r
		}
		best = max(best, run)
	}
	return best
}

func uniqueRunes(s string) int {
	seen := map[rune]bool{}
	for _, r := range s {
		seen[r] = true
	}
	return len(seen)
}

// matchesProfile: the password equals, or is contained in, a profile
// value (case-insensitively). PingOne's wording ("does not match (exact
// and substring) the value of any attribute") leaves the direction open;
// this reading lets "Alice-Passw0rd!" through for user alice, as the
// demo needs, and still refuses "alice" or "example.com".
func matchesProfile(candidate string, profile []string) bool {
	c := strings.ToLower(candidate)
	if c == "" {
		return false
	}
	for _, v := range profile {
		if v != "" && strings.Contains(strings.ToLower(v), c) {
			return true
		}
	}
	return false
}

// similar: a Levenshtein distance of at most 2, case-insensitively (the
// simulator's threshold; PingOne does not publish its own).
func similar(a, b string) bool {
	ra, rb := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	if d := len(ra) - len(rb); d > 2 || d < -2 {
		return false
	}
	if len(ra) > 1024 {
		// Quadratic work is not worth it for values no policy accepts.
		return string(ra) == string(rb)
	}
	return levenshtein(ra, rb) <= 2
}

func levenshtein(a, b []rune) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
