package testkit

import (
	"fmt"
	"sync"
	"testing"
)

// Recorder is a testing.TB that records failures instead of failing: the
// tests of a check use it to show that the check can fail.
type Recorder struct {
	testing.TB
	mu      sync.Mutex
	Errors  []string // every failure reported, in order
	Stopped bool     // the check stopped the test (Fatal, Fatalf)
}

// Helper does nothing: the recorder reports no lines.
func (r *Recorder) Helper() {}

// Errorf records a failure.
func (r *Recorder) Errorf(f string, a ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.Errors = append(r.Errors, fmt.Sprintf(f, a...))
}

// Fatalf records a failure and stops the check (Record unwinds it).
func (r *Recorder) Fatalf(f string, a ...any) {
	r.Errorf(f, a...)
	r.mu.Lock()
	r.Stopped = true
	r.mu.Unlock()
	panic(r)
}

// Fatal records a failure and stops the check.
func (r *Recorder) Fatal(a ...any) { r.Fatalf("%s", fmt.Sprint(a...)) }

// Record calls check with a Recorder and returns it once check returns or
// stops; t serves whatever else check asks of a testing.TB.
func Record(t testing.TB, check func(tb testing.TB)) *Recorder {
	r := &Recorder{TB: t}
	func() {
		defer func() {
			if v := recover(); v != nil && v != any(r) {
				panic(v)
			}
		}()
		check(r)
	}()
	return r
}
