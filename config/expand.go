package config

import (
	"errors"
	"fmt"
	"strings"
)

// expand replaces each ${NAME} in s with the environment variable NAME and
// each $$ with a single $; any other $ is kept as it is (bcrypt and argon2id
// hashes are full of them). used reports whether a variable was
// substituted. An unset variable is an error naming it; a variable set to ""
// expands to "".
func expand(s string, lookup func(string) (string, bool)) (out string, used bool, err error) {
	if !strings.Contains(s, "$") {
		return s, false, nil
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		c := s[i]
		if c != '$' || i+1 == len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		switch s[i+1] {
		case '$':
			b.WriteByte('$')
			i += 2
		case '{':
			end := strings.IndexByte(s[i+2:], '}')
			if end < 0 {
				return "", false, errors.New("contains an unterminated ${ (write $$ for a literal dollar)")
			}
			name := s[i+2 : i+2+end]
			if !validEnvName(name) {
				// The text is not quoted back: it may be part of a secret.
				return "", false, errors.New("contains a ${...} that is not a variable reference (names are letters, digits and _; write $$ for a literal dollar)")
			}
			v, ok := lookup(name)
			if !ok {
				return "", false, fmt.Errorf("environment variable %s is not set", name)
			}
			b.WriteString(v)
			used = true
			i += 2 + end + 1
		default:
			b.WriteByte('$')
			i++
		}
	}
	return b.String(), used, nil
}

func validEnvName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '_', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		case c >= '0' && c <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}
