package testkit

import (
	"sync"
	"time"
)

// Clock is a time source the test moves by hand, so that durations
// (lockouts, token lifetimes, rate limits) are tested by the order of
// events, not by how fast the machine is. Give its Now method to the code
// under test.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock is a clock that stands at start.
func NewClock(start time.Time) *Clock { return &Clock{t: start} }

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock d forward (or back, when d is negative).
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
