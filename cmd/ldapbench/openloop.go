package main

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"
)

// Open-loop load (-rate N): requests arrive on a fixed schedule whatever
// the server does. Request i is due at start + i/N and belongs to
// connection i mod c; a connection sends its requests in order, so one
// that is still busy when the next is due sends it late. Latency counts
// from the due time, not from the send, so that a slow server is not
// excused by the tool having waited for it (no coordinated omission).

// maxScheduled bounds one run's requests (warm-up included).
const maxScheduled = 10_000_000

// openingLead is how long before the window its opening samples start.
const openingLead = 20 * time.Millisecond

// schedule is the arrival plan of one open-loop run.
type schedule struct {
	start time.Time
	rate  int // requests per second
	conns int
	warm  int // requests before the measured window (not recorded)
	total int // warm-up and measured requests
}

// newSchedule plans rate requests per second over conns connections: a
// warm-up of warm requests, then the measured window of d.
func newSchedule(start time.Time, rate, conns, warm int, d time.Duration) schedule {
	n := int(int64(rate) * int64(d) / int64(time.Second))
	return schedule{start: start, rate: rate, conns: conns, warm: warm, total: warm + n}
}

// due is the time request i is scheduled to be sent. Integer arithmetic:
// no drift over millions of requests.
func (s schedule) due(i int) time.Time {
	return s.start.Add(time.Duration(int64(i) * int64(time.Second) / int64(s.rate)))
}

// windowStart is the due time of the first measured request; windowEnd
// that of the first request after the run.
func (s schedule) windowStart() time.Time { return s.due(s.warm) }
func (s schedule) windowEnd() time.Time   { return s.due(s.total) }

// measured reports whether request i is in the window (recorded).
func (s schedule) measured(i int) bool { return i >= s.warm && i < s.total }

// first is connection c's first request.
func (s schedule) first(c int) int { return c }

// next is the request connection c sends after i (i's successor in its
// round-robin share).
func (s schedule) next(i int) int { return i + s.conns }

// measuredFrom counts connection c's measured requests from i (one of
// c's) onwards: those left unsent when a run stops early.
func (s schedule) measuredFrom(i int) int {
	if i < s.warm {
		// c's first measured request: the first j >= warm with j ≡ i.
		i += (s.warm - i + s.conns - 1) / s.conns * s.conns
	}
	if i >= s.total {
		return 0
	}
	return (s.total-1-i)/s.conns + 1
}

// warmCount is the number of warm-up requests: warmup's worth at the
// rate, and at least one per user so that every user has been through
// the backend's caches before the window, but no more than warmupMax's
// worth.
func warmCount(rate int, warmup, warmupMax time.Duration, users int) int {
	n := ceilRate(rate, warmup)
	if users > n {
		n = min(users, ceilRate(rate, max(warmupMax, warmup)))
	}
	return n
}

func ceilRate(rate int, d time.Duration) int {
	return int((int64(rate)*int64(d) + int64(time.Second) - 1) / int64(time.Second))
}

// openLatency is one request's figures: its latency counts from its due
// time; it was late when sent more than tolerance after that.
func openLatency(due, sent, done time.Time, tolerance time.Duration) (lat time.Duration, late bool) {
	return done.Sub(due), sent.Sub(due) > tolerance
}

// achievedRate is the measured requests that completed (successfully or
// not) over the time from the window's start to the last completion, or
// the window's length if that is longer: the target rate when the server
// keeps up, less when it falls behind.
func achievedRate(completed uint64, window, toLastDone time.Duration) float64 {
	span := max(window, toLastDone)
	if span <= 0 {
		return 0
	}
	return float64(completed) / span.Seconds()
}

// openTally is one connection's open-loop counts of measured requests.
type openTally struct {
	completed uint64 // answered, successfully or not
	late      uint64 // sent more than the tolerance after their due time (unsent ones included)
	unsent    uint64 // never sent: no connection, or the run's hard end
	lastDone  time.Time
	maxLag    time.Duration // the largest send delay
}

func (t *openTally) add(o *openTally) {
	t.completed += o.completed
	t.late += o.late
	t.unsent += o.unsent
	if o.lastDone.After(t.lastDone) {
		t.lastDone = o.lastDone
	}
	t.maxLag = max(t.maxLag, o.maxLag)
}

// rateLoop sends connection w.idx's share of the schedule. Its first
// measured request waits for opened (the window's opening samples, taken
// just before the window: normally long done).
func (w *worker) rateLoop(ctx context.Context, sc *schedule, hardEnd time.Time, opened <-chan struct{}) {
	for i := sc.first(w.idx); i < sc.total; i = sc.next(i) {
		due := sc.due(i)
		if !w.sleepUntil(ctx, due) || time.Now().After(hardEnd) {
			n := uint64(sc.measuredFrom(i))
			w.ol.unsent += n
			w.ol.late += n
			return
		}
		measured := sc.measured(i)
		if measured && opened != nil {
			select {
			case <-opened:
			case <-ctx.Done():
			}
			opened = nil
		}
		if w.c == nil && w.s.mode != modeConnBind && !w.open() {
			// Counted in the setup errors; the request could not be
			// sent. The next one waits for its own due time.
			if measured {
				w.ol.unsent++
				w.ol.late++
			}
			continue
		}
		sent := time.Now()
		kind, err := w.op()
		done := time.Now()
		if measured {
			lat, late := openLatency(due, sent, done, w.s.late)
			w.ol.completed++
			if late {
				w.ol.late++
			}
			w.ol.maxLag = max(w.ol.maxLag, sent.Sub(due))
			if done.After(w.ol.lastDone) {
				w.ol.lastDone = done
			}
			if err != nil {
				w.fail(w.errs, err)
			} else {
				w.record(kind, lat)
			}
		}
		if err != nil {
			if mustReconnect(err) {
				w.drop()
			}
		}
	}
}

// sleepUntil is the package's sleepUntil with one timer per worker: no
// allocation per request, so that the tool's own cost stays low at high
// rates.
func (w *worker) sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	if w.timer == nil {
		w.timer = time.NewTimer(d)
	} else {
		w.timer.Reset(d)
	}
	select {
	case <-w.timer.C:
		return true
	case <-ctx.Done():
		w.timer.Stop()
		return false
	}
}

// runRate executes an open-loop run: connections first, then the
// schedule; the server's and the simulator's figures are sampled at the
// window's edges, which the schedule fixes in advance.
func runRate(ctx context.Context, s *settings) (*result, error) {
	r := &result{errs: map[string]uint64{}, samples: map[string]string{}, setupErrs: map[string]uint64{}, openLoop: &openTally{}}
	sim := simFor(s)
	workers := make([]*worker, s.conns)
	for i := range workers {
		mine := usersFor(i, s.conns, s.users)
		workers[i] = &worker{s: s, idx: i, errs: map[string]uint64{}, samples: map[string]string{},
			setup: map[string]uint64{}, rng: rand.New(rand.NewPCG(uint64(i), 42)), mine: mine, k: make([]int, len(mine))}
	}
	if s.mode != modeConnBind {
		forEach(ctx, workers, s.dialers, func(w *worker) { w.open() })
	}
	if sim != nil {
		if _, err := sim.stats(ctx); err != nil {
			r.notes = append(r.notes, err.Error())
			sim = nil
		}
	}
	warm := warmCount(s.rate, s.warmup, s.warmupMax, s.users)
	// A short lead so that every sender is waiting before the first due
	// time.
	sc := newSchedule(time.Now().Add(20*time.Millisecond), s.rate, s.conns, warm, s.duration)
	hardEnd := sc.windowEnd().Add(s.t.timeout + 5*time.Second)
	// The opening samples are taken a little before the window (the
	// simulator's counters are read over HTTP, which takes time) so that
	// no measured request reaches the backend before them; a measured
	// request waits for them if they run late (and counts the wait).
	opened := make(chan struct{})
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.rateLoop(ctx, &sc, hardEnd, opened)
		}()
	}
	ok := sleepUntil(ctx, sc.windowStart().Add(-openingLead))
	r.warmup = sc.windowStart().Sub(sc.start)
	if ok {
		r.sampleBefore(ctx, s, sim)
	}
	close(opened)
	// The closing samples wait for the last measured request: a request
	// due in the window may complete (and reach the backend) after it, and
	// the CPU it costs belongs to the window's operations. The span is
	// then the window's start to the last completion, as for the
	// achieved rate; it also takes in the warm-up requests still in
	// flight at the start (about rate × latency of them).
	wg.Wait()
	if ok && ctx.Err() == nil {
		r.sampleAfter(ctx, s, sim)
	}
	for _, w := range workers {
		w.closeAll()
		r.merge(w)
		r.openLoop.add(&w.ol)
	}
	r.scheduled = uint64(sc.total - sc.warm)
	r.start = sc.windowStart()
	window := sc.windowEnd().Sub(r.start)
	span := window
	if !r.openLoop.lastDone.IsZero() {
		span = max(window, r.openLoop.lastDone.Sub(r.start))
	}
	// Ops per second in the report are over the same span as the
	// achieved rate.
	r.end = r.start.Add(span)
	r.window = window
	if r.openLoop.late > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%d of %d requests were sent more than %v after their scheduled time (largest delay %v)",
			r.openLoop.late, r.scheduled, s.late, r.openLoop.maxLag.Round(time.Microsecond)))
	}
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("interrupted: %w", err)
	}
	return r, nil
}

// checkRate validates -rate against the other settings.
func checkRate(s *settings) []string {
	if s.rate == 0 {
		return nil
	}
	var problems []string
	if s.rate < 0 || s.rate > 1_000_000 {
		problems = append(problems, "-rate must be 1 to 1000000 requests per second")
	}
	if s.mode == modeIdle {
		problems = append(problems, "-rate does not apply to idle")
	}
	if s.late <= 0 || s.late > time.Minute {
		problems = append(problems, "-late must be more than 0 and at most 1m")
	}
	if n := float64(s.rate) * (s.duration + max(s.warmup, s.warmupMax)).Seconds(); n > maxScheduled || math.IsNaN(n) {
		problems = append(problems, fmt.Sprintf("-rate × (-d + warm-up) is %.0f requests; at most %d", n, maxScheduled))
	}
	return problems
}
