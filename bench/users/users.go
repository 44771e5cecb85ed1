// Package users is the benchmark's generated directory, shared by the
// simulators' process (cmd/ldapsim), which creates the users, and the load
// tool (cmd/ldapbench), which binds as them and changes their passwords:
// both sides compute the same names and passwords from an index.
//
// Every password satisfies PingOne's Standard policy (upper, lower, digit
// and special characters, at most 2 repeated characters, 5 unique ones,
// not a profile value) and differs from each other password of the same
// user by more than the simulator's "similar to current" distance, so that
// a self change from any one to any other is accepted.
package users

import (
	"fmt"
	"strconv"
	"strings"
)

// The directory layout: the demo's bases, so that the bench's bridge
// configuration has the demo's two routes.
const (
	PingDirectoryBase = "dc=example,dc=com"
	PingOneBase       = "ou=people,dc=example,dc=com"
	// PingDirectoryDN and PingOneDN are DN templates: %d is the index.
	PingDirectoryDN = "uid=pd%d,ou=staff,dc=example,dc=com"
	PingOneDN       = "uid=p1u%d," + PingOneBase
)

// MaxPasswords is how many distinct passwords each user has.
const MaxPasswords = len(words)

var words = [...]string{"Amber", "Birch", "Cedar", "Delta", "Quartz", "Fjord", "Grove", "Heron", "Iris", "Juniper"}

// PingOneUsername is the PingOne username of user i (the uid of its DN).
func PingOneUsername(i int) string { return "p1u" + strconv.Itoa(i) }

// DN fills a template holding one %d with i; a template without %d is
// returned as it is (a single user).
func DN(template string, i int) string {
	if !strings.Contains(template, "%d") {
		return template
	}
	return fmt.Sprintf(template, i)
}

// Password is user i's k-th password (k modulo MaxPasswords). The index
// is written with a separator between digits so that no character repeats
// three times in a row.
func Password(i, k int) string {
	k %= MaxPasswords
	if k < 0 {
		k += MaxPasswords
	}
	var b strings.Builder
	b.WriteString(words[k])
	b.WriteString("-")
	for j, d := range strconv.Itoa(i) {
		if j > 0 {
			b.WriteByte('.')
		}
		b.WriteRune(d)
	}
	b.WriteString("-x9!")
	return b.String()
}
