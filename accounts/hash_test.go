package accounts

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

func argonHash(password, salt []byte, m, t uint32, p uint8, keyLen uint32) string {
	key := argon2.IDKey(password, salt, t, m, p, keyLen)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func TestVerifyHash(t *testing.T) {
	pw := []byte("correct horse battery staple")
	bc, err := bcrypt.GenerateFromPassword(pw, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	bcrypt2b := "$2b$" + string(bc[4:])
	bcrypt2y := "$2y$" + string(bc[4:])
	// Parameters chosen so a parser that swapped m, t or p would derive a
	// different key.
	argon := argonHash(pw, []byte("sixteen byte salt"), 64, 2, 3, 32)
	argonPadded := strings.Replace(argon, "$"+base64.RawStdEncoding.EncodeToString([]byte("sixteen byte salt")),
		"$"+base64.StdEncoding.EncodeToString([]byte("sixteen byte salt")), 1)

	cases := []struct {
		name     string
		hash     string
		password string
		ok       bool
	}{
		{"bcrypt right", string(bc), string(pw), true},
		{"bcrypt wrong", string(bc), "correct horse battery stapler", false},
		{"bcrypt empty password", string(bc), "", false},
		{"bcrypt $2b$", bcrypt2b, string(pw), true},
		{"bcrypt $2y$", bcrypt2y, string(pw), true},
		// Openwall crypt_blowfish test vectors.
		{"bcrypt vector 1", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U", true},
		{"bcrypt vector 2", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.VGOzA784oUp/Z0DY336zx7pLYAy0lwK", "U*U*", true},
		{"bcrypt vector 3", "$2a$05$XXXXXXXXXXXXXXXXXXXXXOAcXxm9kjPGEMsLznoKqmqw7tc8WCx4a", "U*U*U", true},
		{"bcrypt vector wrong", "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW", "U*U*", false},
		{"argon2id right", argon, string(pw), true},
		{"argon2id padded base64", argonPadded, string(pw), true},
		{"argon2id wrong", argon, "correct horse battery stapl", false},
		{"argon2id empty password", argon, "", false},
		// The reference implementation's test vector (argon2 test.c).
		{"argon2id vector", "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc", "password", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := CheckHash(tc.hash); err != nil {
				t.Fatalf("CheckHash: %v", err)
			}
			ok, err := VerifyHash(tc.hash, []byte(tc.password))
			if err != nil || ok != tc.ok {
				t.Errorf("VerifyHash = %v, %v; want %v", ok, err, tc.ok)
			}
		})
	}
}

// bcrypt ignores bytes after the 72nd; a longer password must not verify
// against the hash of its prefix.
func TestVerifyBcryptLongPassword(t *testing.T) {
	prefix := []byte(strings.Repeat("a", 72))
	h, err := bcrypt.GenerateFromPassword(prefix, bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	ok, err := VerifyHash(string(h), append(prefix, "anything"...))
	if ok || !errors.Is(err, bcrypt.ErrPasswordTooLong) {
		t.Errorf("VerifyHash = %v, %v", ok, err)
	}
	if ok, err := VerifyHash(string(h), prefix); !ok || err != nil {
		t.Errorf("72-byte password: %v, %v", ok, err)
	}
}

func TestCheckHashRejects(t *testing.T) {
	good := argonHash([]byte("pw"), []byte("saltsalt"), 64, 1, 1, 16)
	parts := strings.Split(good, "$") // "", argon2id, v=19, params, salt, key
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	bc := "$2a$05$CCCCCCCCCCCCCCCCCCCCC.E5YPO9kmyuRGyh0XouQYb4YMJKvyOeW"
	cases := []struct{ name, hash, msg string }{
		{"empty", "", "not a supported password hash"},
		{"plain text", "secret", "not a supported password hash"},
		{"ldap scheme", "{SSHA}abcdef", "not a supported password hash"},
		{"argon2i", strings.Replace(good, "argon2id", "argon2i", 1), "use argon2id"},
		{"bcrypt $2x$", "$2x$" + bc[4:], "not a supported password hash"},
		{"bcrypt short", bc[:59], "malformed bcrypt hash"},
		{"bcrypt long", bc + "A", "malformed bcrypt hash"},
		{"bcrypt cost 3", "$2a$03" + bc[6:], "cost must be"},
		{"bcrypt cost 32", "$2a$32" + bc[6:], "cost must be"},
		{"bcrypt cost letters", "$2a$xx" + bc[6:], "cost must be"},
		{"bcrypt bad alphabet", bc[:20] + "!" + bc[21:], "bcrypt base64"},
		{"argon2 version 16", with(2, "v=16"), "version"},
		{"argon2 no version", "$argon2id$m=64,t=1,p=1$" + parts[4] + "$" + parts[5], "malformed argon2id hash"},
		{"argon2 params order", with(3, "t=1,m=64,p=1"), "in that order"},
		{"argon2 params missing", with(3, "m=64,t=1"), "want m="},
		{"argon2 params signed", with(3, "m=+64,t=1,p=1"), "want m="},
		{"argon2 p zero", with(3, "m=64,t=1,p=0"), "parallelism"},
		{"argon2 p 256", with(3, "m=4096,t=1,p=256"), "parallelism"},
		{"argon2 t zero", with(3, "m=64,t=0,p=1"), "time"},
		{"argon2 t huge", with(3, "m=64,t=1000,p=1"), "time"},
		{"argon2 m below 8p", with(3, "m=15,t=1,p=2"), "memory"},
		{"argon2 m huge", with(3, "m=4194304,t=1,p=1"), "memory"},
		{"argon2 m overflow", with(3, "m=99999999999,t=1,p=1"), "want m="},
		{"argon2 short salt", with(4, base64.RawStdEncoding.EncodeToString([]byte("salt"))), "salt"},
		{"argon2 salt not base64", with(4, "!!!!!!!!!!!!"), "salt"},
		{"argon2 short key", with(5, base64.RawStdEncoding.EncodeToString([]byte("short"))), "malformed argon2id hash"},
		{"argon2 extra field", good + "$x", "malformed argon2id hash"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckHash(tc.hash)
			if err == nil || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("CheckHash = %v, want ...%s...", err, tc.msg)
			}
			if tc.hash != "" && strings.Contains(err.Error(), tc.hash) {
				t.Errorf("error quotes the hash: %v", err)
			}
			if ok, verr := VerifyHash(tc.hash, []byte("pw")); ok || verr == nil {
				t.Errorf("VerifyHash = %v, %v; want an error", ok, verr)
			}
		})
	}
}
