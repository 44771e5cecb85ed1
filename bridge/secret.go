package bridge

import (
	"crypto/subtle"
	"log/slog"
)

// Secret holds a password. It never prints: fmt verbs, slog and JSON all see
// "[REDACTED]", so a Secret that reaches a log line, an error or a panic
// message by mistake leaks nothing. The bytes are copied in and can be wiped.
type Secret struct {
	b []byte
}

// NewSecret copies p into a new Secret.
func NewSecret(p []byte) Secret {
	if len(p) == 0 {
		return Secret{}
	}
	return Secret{b: append([]byte(nil), p...)}
}

// SecretString makes a Secret from a string.
func SecretString(s string) Secret { return NewSecret([]byte(s)) }

// Reveal returns the password. Call it only where the value leaves the
// process towards the party entitled to it (the backend, the client).
func (s Secret) Reveal() string { return string(s.b) }

// Bytes returns the password's bytes without copying; do not retain them.
func (s Secret) Bytes() []byte { return s.b }

// Len is the length in bytes; zero means "absent".
func (s Secret) Len() int { return len(s.b) }

// IsZero reports whether the secret is absent.
func (s Secret) IsZero() bool { return len(s.b) == 0 }

// Equal compares in constant time.
func (s Secret) Equal(o Secret) bool {
	return len(s.b) == len(o.b) && subtle.ConstantTimeCompare(s.b, o.b) == 1
}

// Wipe zeroes the bytes in place and forgets them.
func (s *Secret) Wipe() {
	clear(s.b)
	s.b = nil
}

const redacted = "[REDACTED]"

func (s Secret) String() string   { return redacted }
func (s Secret) GoString() string { return redacted }

// LogValue keeps the password out of slog output.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON keeps the password out of any JSON the process writes about
// itself; backend clients put Reveal() into their request bodies explicitly.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText covers encoders that prefer TextMarshaler.
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
