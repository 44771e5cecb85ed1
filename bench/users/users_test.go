package users

import (
	"strings"
	"testing"
	"unicode"
)

func TestPasswordsMeetPingOneStandardPolicy(t *testing.T) {
	for _, i := range []int{0, 7, 1000, 11111, 99999} {
		seen := map[string]bool{}
		for k := 0; k < MaxPasswords; k++ {
			p := Password(i, k)
			if seen[p] {
				t.Fatalf("user %d: password %d repeats", i, k)
			}
			seen[p] = true
			var up, lo, dig, sp bool
			run, best, uniq := 0, 0, map[rune]bool{}
			var prev rune
			for _, r := range p {
				up = up || unicode.IsUpper(r)
				lo = lo || unicode.IsLower(r)
				dig = dig || unicode.IsDigit(r)
				sp = sp || strings.ContainsRune("-!.", r)
				if r == prev {
					run++
				} else {
					run = 1
				}
				best = max(best, run)
				prev = r
				uniq[r] = true
			}
			if !up || !lo || !dig || !sp || best > 2 || len(uniq) < 5 || len(p) < 8 {
				t.Errorf("user %d password %d %q breaks the Standard policy", i, k, p)
			}
			if strings.Contains(strings.ToLower(PingOneUsername(i)+"@example.com"), strings.ToLower(p)) {
				t.Errorf("%q is profile data", p)
			}
		}
		for a := 0; a < MaxPasswords; a++ {
			for b := 0; b < MaxPasswords; b++ {
				if a != b && distance(Password(i, a), Password(i, b)) <= 2 {
					t.Errorf("user %d: passwords %d and %d are similar", i, a, b)
				}
			}
		}
	}
	if Password(3, -1) != Password(3, MaxPasswords-1) || Password(3, MaxPasswords) != Password(3, 0) {
		t.Error("k is not taken modulo MaxPasswords")
	}
}

func TestDN(t *testing.T) {
	if got := DN(PingDirectoryDN, 42); got != "uid=pd42,ou=staff,dc=example,dc=com" {
		t.Errorf("DN = %q", got)
	}
	if got := DN("uid=bob,ou=staff,dc=example,dc=com", 42); got != "uid=bob,ou=staff,dc=example,dc=com" {
		t.Errorf("fixed DN = %q", got)
	}
	if DN(PingOneDN, 5) != "uid="+PingOneUsername(5)+","+PingOneBase {
		t.Error("PingOne DN and username disagree")
	}
}

func distance(a, b string) int {
	ra, rb := []rune(strings.ToLower(a)), []rune(strings.ToLower(b))
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			c := 1
			if ra[i-1] == rb[j-1] {
				c = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+c)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}
