package testkit

import (
	"strings"
	"testing"
	"time"
)

// WaitFor polls cond until it holds; the test fails after timeout. It
// waits for events, it does not measure time.
func WaitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// NoSecrets fails the test (without stopping it) for each secret that
// appears in text; where names the text in the message. The message gives
// the secret's length, never the secret.
func NoSecrets(t testing.TB, where, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("a password (%d bytes) appears in %s", len(s), where)
		}
	}
}
