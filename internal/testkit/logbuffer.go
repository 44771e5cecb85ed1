package testkit

import (
	"bytes"
	"strings"
	"sync"
	"time"
)

// LogBuffer collects output (an slog handler's, a process's) written by
// other goroutines while the test reads it. The zero value is ready.
type LogBuffer struct {
	mu      sync.Mutex
	b       bytes.Buffer
	changed chan struct{} // closed and replaced on every Write
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed != nil {
		close(l.changed)
		l.changed = nil
	}
	return l.b.Write(p)
}

// String is everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// Contains reports whether s has been written.
func (l *LogBuffer) Contains(s string) bool { return strings.Contains(l.String(), s) }

// snapshot returns the text so far and a channel closed at the next Write.
func (l *LogBuffer) snapshot() (string, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.changed == nil {
		l.changed = make(chan struct{})
	}
	return l.b.String(), l.changed
}

// Await waits until cond holds for the text written so far, and reports
// whether it did: it gives up after timeout, or when stop (which may be
// nil) is closed and cond still does not hold. It wakes on each Write, so
// it does not poll.
func (l *LogBuffer) Await(timeout time.Duration, stop <-chan struct{}, cond func(text string) bool) bool {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		text, changed := l.snapshot()
		if cond(text) {
			return true
		}
		select {
		case <-changed:
		case <-stop:
			text, _ := l.snapshot()
			return cond(text)
		case <-deadline.C:
			return false
		}
	}
}
