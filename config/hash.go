package config

import "github.com/ldapbridge/ldapbridge/accounts"

// CheckHash reports whether hash is a well-formed bcrypt or argon2id
// hash with sane parameters, for validation. Verification lives with the
// accounts, in package accounts.
func CheckHash(hash string) error { return accounts.CheckHash(hash) }
