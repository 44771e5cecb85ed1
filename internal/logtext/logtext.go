// Package logtext bounds the client-supplied text that goes into log lines
// and audit records (DNs, targets, diagnostics, identities): a client that
// sends a 1 MB DN must not make the bridge write a 1 MB line. It is the one
// helper ldapfront, audit and cmd/ldapbridge use for that, and imports
// nothing of the bridge, so that any layer may use it.
package logtext

import (
	"strconv"
	"unicode/utf8"
)

// MaxField is the most bytes of one string field a log line or an audit
// record carries before the truncation marker. DNs, diagnostics and
// identities of real users are far shorter.
const MaxField = 512

// Bound returns s when it is at most MaxField bytes long, else its first
// MaxField bytes at most, cut on a UTF-8 boundary, and a marker that
// gives the original length: "…(truncated, 1048576 bytes)".
func Bound(s string) string { return BoundN(s, MaxField) }

// BoundN is Bound with a maximum of n bytes (before the marker).
func BoundN(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	// Step back to the start of a rune, so that a multi-byte character is
	// never split (at most utf8.UTFMax-1 steps). Where there is no rune
	// start that close, the bytes are not UTF-8 anyway: cut at n and let
	// the log handler escape them.
	cut := n
	for cut > 0 && n-cut < utf8.UTFMax-1 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	if !utf8.RuneStart(s[cut]) {
		cut = n
	}
	return s[:cut] + "…(truncated, " + strconv.Itoa(len(s)) + " bytes)"
}
