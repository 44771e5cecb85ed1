package accounts

import (
	"errors"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// FuzzCheckHash: the hash parsers never panic, and whatever CheckHash
// accepts, VerifyHash can evaluate (run only for cheap parameters).
func FuzzCheckHash(f *testing.F) {
	for _, s := range []string{
		"", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdHNhbHQ$AAAAAAAAAAAAAAAAAAAAAA",
		"$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc",
		"$argon2id$v=19$m=64,t=1,p=1$$", "$2y$", "$argon2i$",
	} {
		f.Add(s, []byte("pw"))
	}
	f.Fuzz(func(t *testing.T, hash string, password []byte) {
		err := CheckHash(hash)
		if err != nil {
			if ok, _ := VerifyHash(hash, password); ok {
				t.Fatal("VerifyHash accepted a hash CheckHash rejects")
			}
			return
		}
		if strings.HasPrefix(hash, "$argon2id$") {
			a, _ := parseArgon2id(hash)
			if a.memory > 1024 || a.time > 2 {
				return // valid but too slow to run per fuzz input
			}
		} else if cost := hash[4:6]; cost > "06" {
			return
		}
		if _, err := VerifyHash(hash, password); err != nil && !errors.Is(err, bcrypt.ErrPasswordTooLong) {
			t.Fatalf("VerifyHash failed on a hash CheckHash accepts: %v", err)
		}
	})
}
