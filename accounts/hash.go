// Package accounts verifies the passwords of the bridge's own service
// accounts (configured as local accounts with a bcrypt or argon2id hash).
// config checks a hash's syntax through it; the generation builder gives
// the core a verifier per account.
package accounts

import (
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// Limits on argon2id parameters, so that a typo in a hash cannot make each
// bind allocate gigabytes or spin for minutes.
const (
	argonMaxMemoryKiB = 1 << 20 // 1 GiB
	argonMaxTime      = 100
	argonMinSalt      = 8
	argonMinKey       = 16
	argonMaxBytes     = 1024
)

// ErrUnknownHash is returned for a password hash in no supported format.
var ErrUnknownHash = errors.New("not a supported password hash: want bcrypt ($2a$, $2b$ or $2y$) or argon2id ($argon2id$v=19$m=...,t=...,p=...$salt$hash)")

// CheckHash reports whether hash is a well-formed bcrypt or argon2id hash
// with sane parameters. Errors never quote the hash.
func CheckHash(hash string) error {
	switch {
	case isBcrypt(hash):
		return checkBcrypt(hash)
	case strings.HasPrefix(hash, "$argon2id$"):
		_, err := parseArgon2id(hash)
		return err
	case strings.HasPrefix(hash, "$argon2i$"), strings.HasPrefix(hash, "$argon2d$"):
		return errors.New("argon2i and argon2d hashes are not supported; use argon2id")
	}
	return ErrUnknownHash
}

// VerifyHash reports whether password matches hash. A mismatch is (false,
// nil); an error means the hash (or, for bcrypt, a password over 72 bytes)
// cannot be checked. Comparisons are constant-time.
func VerifyHash(hash string, password []byte) (bool, error) {
	switch {
	case isBcrypt(hash):
		if err := checkBcrypt(hash); err != nil {
			return false, err
		}
		if len(password) > 72 {
			// bcrypt would ignore everything after byte 72 and accept
			// any password sharing that prefix.
			return false, fmt.Errorf("verify bcrypt hash: %w", bcrypt.ErrPasswordTooLong)
		}
		if len(password) == 0 {
			return false, nil
		}
		err := bcrypt.CompareHashAndPassword([]byte(hash), password)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, bcrypt.ErrMismatchedHashAndPassword):
			return false, nil
		}
		return false, fmt.Errorf("verify bcrypt hash: %w", err)
	case strings.HasPrefix(hash, "$argon2id$"):
		a, err := parseArgon2id(hash)
		if err != nil {
			return false, err
		}
		if len(password) == 0 {
			return false, nil
		}
		got := argon2.IDKey(password, a.salt, a.time, a.memory, a.threads, uint32(len(a.key)))
		return subtle.ConstantTimeCompare(got, a.key) == 1, nil
	}
	return false, CheckHash(hash)
}

func isBcrypt(h string) bool {
	return strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$2b$") || strings.HasPrefix(h, "$2y$")
}

const bcryptAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// checkBcrypt checks the shape "$2b$NN$" + 53 characters of bcrypt base64.
func checkBcrypt(h string) error {
	if len(h) != 60 || h[6] != '$' {
		return errors.New("malformed bcrypt hash: want $2b$<cost>$ followed by 53 characters")
	}
	cost, err := strconv.Atoi(h[4:6])
	if err != nil || cost < bcrypt.MinCost || cost > bcrypt.MaxCost {
		return fmt.Errorf("malformed bcrypt hash: cost must be two digits from %02d to %d", bcrypt.MinCost, bcrypt.MaxCost)
	}
	for i := 7; i < len(h); i++ {
		if !strings.Contains(bcryptAlphabet, h[i:i+1]) {
			return errors.New("malformed bcrypt hash: salt and hash must be bcrypt base64")
		}
	}
	return nil
}

type argon2Params struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// parseArgon2id reads the PHC string form written by the reference
// implementation: $argon2id$v=19$m=<KiB>,t=<passes>,p=<lanes>$<salt>$<hash>,
// salt and hash in unpadded standard base64 (padding is tolerated).
func parseArgon2id(h string) (argon2Params, error) {
	var a argon2Params
	parts := strings.Split(h, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return a, errors.New("malformed argon2id hash: want $argon2id$v=19$m=...,t=...,p=...$salt$hash")
	}
	if parts[2] != "v=19" {
		return a, errors.New("unsupported argon2id version: want v=19")
	}
	params := strings.Split(parts[3], ",")
	if len(params) != 3 {
		return a, errors.New("malformed argon2id parameters: want m=<KiB>,t=<passes>,p=<lanes>")
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(params[i], name)
		v, err := strconv.ParseUint(digits, 10, 32)
		if !ok || err != nil {
			return a, errors.New("malformed argon2id parameters: want m=<KiB>,t=<passes>,p=<lanes> in that order")
		}
		vals[i] = v
	}
	m, t, p := vals[0], vals[1], vals[2]
	switch {
	case p < 1 || p > 255:
		return a, errors.New("argon2id parallelism p must be from 1 to 255")
	case t < 1 || t > argonMaxTime:
		return a, fmt.Errorf("argon2id time t must be from 1 to %d", argonMaxTime)
	case m < 8*p || m > argonMaxMemoryKiB:
		return a, fmt.Errorf("argon2id memory m must be from 8*p to %d KiB", argonMaxMemoryKiB)
	}
	var err error
	if a.salt, err = b64(parts[4]); err != nil || len(a.salt) < argonMinSalt || len(a.salt) > argonMaxBytes {
		return a, fmt.Errorf("malformed argon2id salt: want %d to %d bytes in base64", argonMinSalt, argonMaxBytes)
	}
	if a.key, err = b64(parts[5]); err != nil || len(a.key) < argonMinKey || len(a.key) > argonMaxBytes {
		return a, fmt.Errorf("malformed argon2id hash: want %d to %d bytes in base64", argonMinKey, argonMaxBytes)
	}
	a.memory, a.time, a.threads = uint32(m), uint32(t), uint8(p)
	return a, nil
}

func b64(s string) ([]byte, error) {
	if strings.HasSuffix(s, "=") {
		return base64.StdEncoding.Strict().DecodeString(s)
	}
	return base64.RawStdEncoding.Strict().DecodeString(s)
}

// Verifier is the password check of an account whose hash is hash: true
// only when password matches; a hash that cannot be checked matches
// nothing.
func Verifier(hash string) func(password []byte) bool {
	return func(password []byte) bool {
		ok, err := VerifyHash(hash, password)
		return err == nil && ok
	}
}
