package pingone

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// PingOne's names for password policy requirements, as they appear in
// unsatisfiedRequirements.
const (
	reqLength         = "length"
	reqMinCharacters  = "minCharacters"
	reqMaxRepeated    = "maxRepeatedCharacters"
	reqMinUnique      = "minUniqueCharacters"
	reqCommonlyUsed   = "excludesCommonlyUsed"
	reqProfileData    = "excludesProfileData"
	reqNotSimilar     = "notSimilarToCurrent"
	reqHistory        = "history"
	reqMinAge         = "minAgeDays"
	reqMinComplexity  = "minComplexity"
	setUpper          = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	setLower          = "abcdefghijklmnopqrstuvwxyz"
	setDigits         = "0123456789"
	setSpecial        = "~!@#$%^&*()-_=+[]{}|;:,.<>/?"
	maxPolicyLength   = 4096 // the longest password the client will generate or reason about
	maxCharacterSets  = 16
	maxCharacterCount = 256
)

// passwordPolicy is a PingOne password policy; nil pointers are rules the
// policy does not enforce.
type passwordPolicy struct {
	ID                    string         `json:"id"`
	Name                  string         `json:"name"`
	Default               bool           `json:"default"`
	ExcludesProfileData   bool           `json:"excludesProfileData"`
	NotSimilarToCurrent   bool           `json:"notSimilarToCurrent"`
	ExcludesCommonlyUsed  bool           `json:"excludesCommonlyUsed"`
	MaxAgeDays            *int           `json:"maxAgeDays"`
	MinAgeDays            *int           `json:"minAgeDays"`
	MaxRepeatedCharacters *int           `json:"maxRepeatedCharacters"`
	MinUniqueCharacters   *int           `json:"minUniqueCharacters"`
	MinComplexity         *int           `json:"minComplexity"`
	History               *policyHistory `json:"history"`
	Length                *policyLength  `json:"length"`
	MinCharacters         map[string]int `json:"minCharacters"`
}

type policyHistory struct {
	Count         int `json:"count"`
	RetentionDays int `json:"retentionDays"`
}

type policyLength struct {
	Min int `json:"min"`
	Max int `json:"max"`
}

// decodePolicies reads GET /passwordPolicies and returns the environment's
// default policy (the first one if none is marked default).
func decodePolicies(body []byte) (*passwordPolicy, error) {
	var v struct {
		Embedded *struct {
			Policies []passwordPolicy `json:"passwordPolicies"`
		} `json:"_embedded"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		return nil, fmt.Errorf("decode password policies: %w", err)
	}
	if v.Embedded == nil || len(v.Embedded.Policies) == 0 {
		return nil, errors.New("decode password policies: none listed")
	}
	p := &v.Embedded.Policies[0]
	for i := range v.Embedded.Policies {
		if v.Embedded.Policies[i].Default {
			p = &v.Embedded.Policies[i]
			break
		}
	}
	if err := p.validate(); err != nil {
		return nil, fmt.Errorf("decode password policies: %q: %w", sanitize(p.Name, 64), err)
	}
	return p, nil
}

// validate refuses values no sane policy has, so that the generator and
// the validation details never work from nonsense.
func (p *passwordPolicy) validate() error {
	nonNeg := func(name string, v *int, limit int) error {
		if v != nil && (*v < 0 || *v > limit) {
			return fmt.Errorf("%s %d out of range", name, *v)
		}
		return nil
	}
	if p.Length != nil {
		if p.Length.Min < 0 || p.Length.Max < 0 || p.Length.Max > maxPolicyLength || (p.Length.Max > 0 && p.Length.Min > p.Length.Max) {
			return fmt.Errorf("length %d-%d out of range", p.Length.Min, p.Length.Max)
		}
	}
	if len(p.MinCharacters) > maxCharacterSets {
		return errors.New("too many character sets")
	}
	for set, n := range p.MinCharacters {
		if set == "" || !utf8.ValidString(set) || len(set) > 256 || n < 0 || n > maxCharacterCount {
			return errors.New("invalid minCharacters entry")
		}
	}
	return errors.Join(
		nonNeg("maxRepeatedCharacters", p.MaxRepeatedCharacters, maxPolicyLength),
		nonNeg("minUniqueCharacters", p.MinUniqueCharacters, maxPolicyLength),
		nonNeg("minAgeDays", p.MinAgeDays, 100000),
		nonNeg("maxAgeDays", p.MaxAgeDays, 100000),
	)
}

// policyCache keeps the environment's policy for PolicyTTL.
type policyCache struct {
	ttl     time.Duration
	mu      sync.Mutex
	p       *passwordPolicy
	fetched time.Time
	flight  flightGroup[struct{}, *passwordPolicy]
}

// get returns the cached policy, fetching it when stale.
func (pc *policyCache) get(ctx context.Context, c *Client) (*passwordPolicy, *opError) {
	pc.mu.Lock()
	p, at := pc.p, pc.fetched
	pc.mu.Unlock()
	fresh := p != nil && c.now().Sub(at) < pc.ttl
	c.cacheLookup("policy", fresh)
	if fresh {
		return p, nil
	}
	return pc.fetch(ctx, c)
}

// fetch reads the policy from PingOne now.
func (pc *policyCache) fetch(ctx context.Context, c *Client) (*passwordPolicy, *opError) {
	p, err := pc.flight.do(ctx, struct{}{}, c.timeout, func(ctx context.Context) (*passwordPolicy, error) {
		resp, oe := c.call(ctx, readCall, callReadPolicy, http.MethodGet, "/passwordPolicies", nil, "", nil)
		if oe != nil {
			return nil, oe
		}
		if resp.status == http.StatusNotFound {
			// The environment's policies always exist: a 404 means the
			// API URL is wrong (readiness fails on it).
			return nil, &opError{f: fProtocol, detail: "the password policies answered HTTP 404; check the API URL", requestID: resp.requestID}
		}
		if resp.status != http.StatusOK {
			return nil, classify(resp.status, resp.body, resp.requestID)
		}
		p, err := decodePolicies(resp.body)
		if err != nil {
			return nil, &opError{f: fProtocol, detail: err.Error(), requestID: resp.requestID}
		}
		pc.mu.Lock()
		pc.p, pc.fetched = p, c.now()
		pc.mu.Unlock()
		return p, nil
	})
	if err != nil {
		var oe *opError
		if errors.As(err, &oe) {
			return nil, oe
		}
		return nil, c.lostAnswer(ctx, readCall, err, false)
	}
	return p, nil
}

// requirement is one rule of a policy as the client presents it.
type requirement struct {
	name string // PingOne's requirement name
	req  bridge.Requirement
	// check evaluates the rule locally; nil when only PingOne can (history,
	// profile data, common passwords, similarity, age).
	check func(pw []byte) bool
}

// setNames are the words for PingOne's standard character sets.
var setNames = map[string][2]string{
	setUpper:   {"uppercase letter", "uppercase letters"},
	setLower:   {"lowercase letter", "lowercase letters"},
	setDigits:  {"digit", "digits"},
	setSpecial: {"special character", "special characters"},
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// characterSets lists minCharacters in a stable order: the standard sets
// first, then the others sorted.
func (p *passwordPolicy) characterSets() []string {
	var sets []string
	for _, s := range []string{setUpper, setLower, setDigits, setSpecial} {
		if n, ok := p.MinCharacters[s]; ok && n > 0 {
			sets = append(sets, s)
		}
	}
	var others []string
	for s, n := range p.MinCharacters {
		if _, std := setNames[s]; !std && n > 0 {
			others = append(others, s)
		}
	}
	slices.Sort(others)
	return append(sets, others...)
}

// requirements lists the policy's rules that apply to a change of the
// given kind, in the policy's order.
func (p *passwordPolicy) requirements(self bool) []requirement {
	var out []requirement
	if l := p.Length; l != nil && (l.Min > 0 || l.Max > 0) {
		min, max := l.Min, l.Max
		desc := fmt.Sprintf("The password must contain at least %d characters.", min)
		props := []bridge.Property{{Name: "minimum-length", Value: strconv.Itoa(min)}}
		if max > 0 {
			desc = fmt.Sprintf("The password must contain between %d and %d characters.", min, max)
			props = append(props, bridge.Property{Name: "maximum-length", Value: strconv.Itoa(max)})
		}
		out = append(out, requirement{name: reqLength,
			req: bridge.Requirement{Description: desc, ValidationType: "length", Properties: props},
			check: func(pw []byte) bool {
				n := utf8.RuneCount(pw)
				return n >= min && (max == 0 || n <= max)
			}})
	}
	for _, set := range p.characterSets() {
		n := p.MinCharacters[set]
		what := plural(n, "character", "characters") + " from the set " + strconv.Quote(set)
		if words, ok := setNames[set]; ok {
			what = plural(n, words[0], words[1])
		}
		out = append(out, requirement{name: reqMinCharacters,
			req: bridge.Requirement{
				Description:    "The password must contain at least " + what + ".",
				ValidationType: "character-set",
				Properties: []bridge.Property{
					{Name: "set-characters", Value: set},
					{Name: "minimum-count", Value: strconv.Itoa(n)},
				},
			},
			check: func(pw []byte) bool { return countIn(pw, set) >= n }})
	}
	if m := p.MaxRepeatedCharacters; m != nil && *m > 0 {
		max := *m
		out = append(out, requirement{name: reqMaxRepeated,
			req: bridge.Requirement{
				Description:    fmt.Sprintf("The password must not contain the same character more than %d times in a row.", max),
				ValidationType: "repeated-characters",
				Properties:     []bridge.Property{{Name: "max-consecutive-length", Value: strconv.Itoa(max)}},
			},
			check: func(pw []byte) bool { return longestRun(pw) <= max }})
	}
	if m := p.MinUniqueCharacters; m != nil && *m > 0 {
		min := *m
		out = append(out, requirement{name: reqMinUnique,
			req: bridge.Requirement{
				Description:    fmt.Sprintf("The password must contain at least %d different characters.", min),
				ValidationType: "unique-characters",
				Properties:     []bridge.Property{{Name: "min-unique-characters", Value: strconv.Itoa(min)}},
			},
			check: func(pw []byte) bool { return uniqueRunes(pw) >= min }})
	}
	if p.MinComplexity != nil && *p.MinComplexity > 0 {
		out = append(out, requirement{name: reqMinComplexity, req: bridge.Requirement{Description: "The password must be complex enough to resist a brute-force attack."}})
	}
	if p.ExcludesCommonlyUsed {
		out = append(out, requirement{name: reqCommonlyUsed, req: bridge.Requirement{Description: "The password must not be a commonly used password."}})
	}
	if p.ExcludesProfileData {
		out = append(out, requirement{name: reqProfileData, req: bridge.Requirement{Description: "The password must not match a value of the user's profile."}})
	}
	if p.NotSimilarToCurrent && self {
		out = append(out, requirement{name: reqNotSimilar, req: bridge.Requirement{Description: "The password must not be too similar to the current password."}})
	}
	if h := p.History; h != nil && h.Count > 0 {
		out = append(out, requirement{name: reqHistory, req: bridge.Requirement{
			Description: fmt.Sprintf("The password must not be the current password or one of the last %s.", plural(h.Count, "password", "passwords")),
		}})
	}
	if m := p.MinAgeDays; m != nil && *m > 0 && self {
		out = append(out, requirement{name: reqMinAge, req: bridge.Requirement{
			Description: fmt.Sprintf("The password must not be changed within %s of the last change.", plural(*m, "day", "days")),
		}})
	}
	return out
}

// genericWords describe requirements when the policy is not known.
var genericWords = map[string]string{
	reqLength:        "the password is too short or too long",
	reqMinCharacters: "the password lacks required kinds of characters",
	reqMaxRepeated:   "the password repeats a character too many times in a row",
	reqMinUnique:     "the password has too few different characters",
	reqCommonlyUsed:  "the password is a commonly used password",
	reqProfileData:   "the password matches a value of the user's profile",
	reqNotSimilar:    "the password is too similar to the current password",
	reqHistory:       "the password was used recently",
	reqMinAge:        "the password was changed too recently",
	reqMinComplexity: "the password is not complex enough",
}

// judged is one requirement with whether the candidate meets it.
type judged struct {
	name string // PingOne's requirement name
	res  bridge.ValidationResult
}

// judgeByPingOne lists the requirements as PingOne judged them: those its
// unsatisfiedRequirements name are unmet, all others met. The bridge's own
// checks only refine what PingOne leaves open: which character set a
// failed minCharacters lacks (PingOne names the rule, not the set; all
// sets are unmet when no set fails locally). A requirement PingOne names
// that reqs lacks (the user's population may have another policy than the
// environment's default) is listed too, unmet, in generic words: nothing
// PingOne reports is dropped, and nothing it did not report is added.
func judgeByPingOne(reqs []requirement, unmet []string, candidate []byte) []judged {
	failed := map[string]bool{}
	for _, u := range unmet {
		failed[u] = true
	}
	setFailedLocally := false
	if failed[reqMinCharacters] {
		for _, r := range reqs {
			if r.name == reqMinCharacters && r.check != nil && !r.check(candidate) {
				setFailedLocally = true
			}
		}
	}
	out := make([]judged, 0, len(reqs)+len(unmet))
	listed := map[string]bool{}
	for _, r := range reqs {
		ok := !failed[r.name]
		if r.name == reqMinCharacters && !ok && setFailedLocally {
			ok = r.check(candidate)
		}
		listed[r.name] = true
		out = append(out, judged{r.name, bridge.ValidationResult{Requirement: r.req, Satisfied: ok}})
	}
	for _, u := range unmet {
		if listed[u] {
			continue
		}
		listed[u] = true
		desc, ok := genericWords[u]
		if !ok {
			desc = "unmet requirement " + strconv.Quote(u)
		}
		out = append(out, judged{u, bridge.ValidationResult{
			Requirement: bridge.Requirement{Description: strings.ToUpper(desc[:1]) + desc[1:] + "."},
		}})
	}
	return out
}

// judgeLocally is the bridge's own evaluation, for a refusal in which
// PingOne says the value fails the policy without naming requirements. A
// rule only PingOne can judge (history, profile data, common passwords,
// similarity, age) is listed as met: the bridge cannot say otherwise.
func judgeLocally(reqs []requirement, candidate []byte) []judged {
	out := make([]judged, 0, len(reqs))
	for _, r := range reqs {
		ok := r.check == nil || r.check(candidate)
		out = append(out, judged{r.name, bridge.ValidationResult{Requirement: r.req, Satisfied: ok}})
	}
	return out
}

// unmetNames lists the names of the unmet requirements, once each.
func unmetNames(js []judged) []string {
	var names []string
	seen := map[string]bool{}
	for _, j := range js {
		if !j.res.Satisfied && !seen[j.name] {
			seen[j.name] = true
			names = append(names, j.name)
		}
	}
	return names
}

// results are the validation details' results.
func results(js []judged) []bridge.ValidationResult {
	out := make([]bridge.ValidationResult, len(js))
	for i, j := range js {
		out[i] = j.res
	}
	return out
}

// evaluate is judgeByPingOne's results.
func evaluate(reqs []requirement, unmet []string, candidate []byte) []bridge.ValidationResult {
	return results(judgeByPingOne(reqs, unmet, candidate))
}

// unmetWords is the diagnostic naming each unmet requirement in words.
func unmetWords(js []judged) string {
	var words []string
	for _, j := range js {
		if !j.res.Satisfied {
			words = append(words, strings.TrimSuffix(j.res.Requirement.Description, "."))
		}
	}
	return strings.Join(words, "; ")
}

// The local checks work on the password's bytes: ranging over string(b)
// does not copy them.

func countIn(b []byte, set string) int {
	n := 0
	for _, r := range string(b) {
		if strings.ContainsRune(set, r) {
			n++
		}
	}
	return n
}

func longestRun(b []byte) int {
	best, run := 0, 0
	var prev rune = -1
	for _, r := range string(b) {
		if r == prev {
			run++
		} else {
			run, prev = 1, r
		}
		best = max(best, run)
	}
	return best
}

func uniqueRunes(b []byte) int {
	seen := map[rune]struct{}{}
	for _, r := range string(b) {
		seen[r] = struct{}{}
	}
	return len(seen)
}
