package main

import (
	"bytes"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/simenv"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func TestScheduleDue(t *testing.T) {
	for _, tc := range []struct {
		rate, i int
		want    time.Duration
	}{
		{1000, 0, 0},
		{1000, 1, time.Millisecond},
		{1000, 2500, 2500 * time.Millisecond},
		{3, 1, 333333333},
		{3, 3, time.Second},
		// No drift: request 9,999,999 at 7/s is exactly i/7 s after the start.
		{7, 9_999_999, time.Duration(int64(9_999_999) * int64(time.Second) / 7)},
		{1_000_000, 10_000_000, 10 * time.Second},
	} {
		sc := schedule{start: t0, rate: tc.rate, conns: 4}
		if got := sc.due(tc.i).Sub(t0); got != tc.want {
			t.Errorf("rate %d: due(%d) = %v, want %v", tc.rate, tc.i, got, tc.want)
		}
	}
}

// Every request belongs to exactly one connection, in order, and the
// window holds rate × d of them after the warm-up.
func TestScheduleShares(t *testing.T) {
	for _, tc := range []struct {
		rate, conns, warm int
		d                 time.Duration
		wantTotal         int
		wantWindow        time.Duration
	}{
		{100, 4, 10, time.Second, 110, time.Second},
		{100, 3, 0, 500 * time.Millisecond, 50, 500 * time.Millisecond},
		{7, 256, 5, time.Second, 12, time.Second},
		{1000, 1, 1000, 250 * time.Millisecond, 1250, 250 * time.Millisecond},
	} {
		sc := newSchedule(t0, tc.rate, tc.conns, tc.warm, tc.d)
		if sc.total != tc.wantTotal || sc.windowEnd().Sub(sc.windowStart()) != tc.wantWindow {
			t.Errorf("%+v: total %d window %v", tc, sc.total, sc.windowEnd().Sub(sc.windowStart()))
		}
		seen := make([]int, sc.total)
		measured := 0
		for c := 0; c < sc.conns; c++ {
			prev := -1
			if got, want := sc.measuredFrom(sc.first(c)), countMeasured(sc, c); got != want {
				t.Errorf("%+v: measuredFrom(first(%d)) = %d, want %d", tc, c, got, want)
			}
			for i := sc.first(c); i < sc.total; i = sc.next(i) {
				seen[i]++
				if i <= prev || i%sc.conns != c {
					t.Errorf("%+v: connection %d gets request %d after %d", tc, c, i, prev)
				}
				if !sc.due(i).After(sc.due(max(prev, 0))) && prev >= 0 {
					t.Errorf("%+v: request %d not due after %d", tc, i, prev)
				}
				prev = i
				if sc.measured(i) {
					measured++
				}
			}
		}
		for i, n := range seen {
			if n != 1 {
				t.Errorf("%+v: request %d sent %d times", tc, i, n)
			}
		}
		if measured != sc.total-sc.warm {
			t.Errorf("%+v: %d measured, want %d", tc, measured, sc.total-sc.warm)
		}
	}
}

func countMeasured(sc schedule, c int) int {
	n := 0
	for i := sc.first(c); i < sc.total; i = sc.next(i) {
		if sc.measured(i) {
			n++
		}
	}
	return n
}

// measuredFrom counts what a connection leaves unsent when it stops at i.
func TestMeasuredFrom(t *testing.T) {
	sc := schedule{start: t0, rate: 10, conns: 4, warm: 6, total: 20}
	for _, tc := range []struct{ i, want int }{
		{0, 3},  // 0, 4 warm-up; 8, 12, 16
		{1, 3},  // 1, 5 warm-up; 9, 13, 17
		{2, 4},  // 2 warm-up; 6, 10, 14, 18
		{3, 4},  // 3 warm-up; 7, 11, 15, 19
		{8, 3},  // 8, 12, 16
		{16, 1}, // 16
		{19, 1},
		{20, 0},
		{23, 0},
	} {
		enum := 0
		for j := tc.i; j < sc.total; j += sc.conns {
			if sc.measured(j) {
				enum++
			}
		}
		if got := sc.measuredFrom(tc.i); got != tc.want || got != enum {
			t.Errorf("measuredFrom(%d) = %d, want %d (enumerated: %d)", tc.i, got, tc.want, enum)
		}
	}
}

func TestWarmCount(t *testing.T) {
	for _, tc := range []struct {
		rate              int
		warmup, warmupMax time.Duration
		users, want       int
	}{
		{1000, time.Second, 30 * time.Second, 100, 1000},    // the warm-up's worth
		{100, time.Second, 30 * time.Second, 1000, 1000},    // every user once
		{100, time.Second, 5 * time.Second, 1000, 500},      // but no more than warmupMax's worth
		{100, 0, 0, 1000, 0},                                // no warm-up at all
		{3, 500 * time.Millisecond, 0, 1, 2},                // rounded up
		{100, 2 * time.Second, time.Second, 1000, 200},      // warmupMax below warmup: warmup
		{1_000_000, time.Second, time.Minute, 1, 1_000_000}, // no overflow
	} {
		if got := warmCount(tc.rate, tc.warmup, tc.warmupMax, tc.users); got != tc.want {
			t.Errorf("warmCount(%d, %v, %v, %d) = %d, want %d", tc.rate, tc.warmup, tc.warmupMax, tc.users, got, tc.want)
		}
	}
}

// Latency counts from the due time: a request that waited for its
// connection carries the wait.
func TestOpenLatency(t *testing.T) {
	ms := time.Millisecond
	for _, tc := range []struct {
		name       string
		sent, done time.Duration // after the due time
		tolerance  time.Duration
		wantLat    time.Duration
		wantLate   bool
	}{
		{"on time", 0, 20 * ms, ms, 20 * ms, false},
		{"timer slack within tolerance", 300 * time.Microsecond, 21 * ms, ms, 21 * ms, false},
		{"waited for a busy connection", 35 * ms, 55 * ms, ms, 55 * ms, true},
		{"exactly the tolerance", ms, 21 * ms, ms, 21 * ms, false},
		{"just over", ms + 1, 21 * ms, ms, 21 * ms, true},
	} {
		lat, late := openLatency(t0, t0.Add(tc.sent), t0.Add(tc.done), tc.tolerance)
		if lat != tc.wantLat || late != tc.wantLate {
			t.Errorf("%s: latency %v late %v, want %v %v", tc.name, lat, late, tc.wantLat, tc.wantLate)
		}
	}
}

func TestAchievedRate(t *testing.T) {
	for _, tc := range []struct {
		completed          uint64
		window, toLastDone time.Duration
		want               float64
	}{
		{1000, time.Second, 500 * time.Millisecond, 1000}, // kept up: the window counts
		{1000, time.Second, 1020 * time.Millisecond, 1000 / 1.02},
		{1000, time.Second, 4 * time.Second, 250}, // fell behind
		{0, time.Second, 0, 0},
		{5, 0, 0, 0},
	} {
		if got := achievedRate(tc.completed, tc.window, tc.toLastDone); got != tc.want {
			t.Errorf("achievedRate(%d, %v, %v) = %v, want %v", tc.completed, tc.window, tc.toLastDone, got, tc.want)
		}
	}
}

func TestRefusesBadRate(t *testing.T) {
	for _, args := range [][]string{
		{"-rate", "-5"},
		{"-rate", "2000000"},
		{"-rate", "100", "-mode", "idle"},
		{"-rate", "100", "-late", "0s"},
		{"-rate", "1000000", "-d", "1h"},
		{"-backend-latency", "-1ms"},
	} {
		var stdout, stderr bytes.Buffer
		if code := cli(context.Background(), args, &stdout, &stderr); code != 2 || stderr.Len() == 0 {
			t.Errorf("%v: exit %d, stderr %q", args, code, stderr.String())
		}
	}
}

// A short open-loop run against the real bridge: the schedule is kept at
// a rate far below capacity, every request is accounted for, and the
// latency (from the scheduled time) is at least the backend's.
func TestOpenLoopAgainstBridge(t *testing.T) {
	s := startStackWith(t, simenv.Options{Users: 32, Latency: 5 * time.Millisecond})
	pid := strconv.Itoa(os.Getpid())
	rep := runTool(t, "-url", s.url, "-users", "32", "-mode", "bind", "-c", "8", "-rate", "200", "-d", "500ms",
		"-warmup", "100ms", "-backend-latency", "5ms", "-pid", pid, "-sim", s.env.PDURL, "-label", "open")
	o := rep.OpenLoop
	if o == nil {
		t.Fatalf("no open_loop section: %+v", rep)
	}
	if o.Rate != 200 || o.Scheduled != 100 || o.Completed+o.Unsent != o.Scheduled || o.Unsent != 0 {
		t.Errorf("schedule: %+v", o)
	}
	if rep.Ops != o.Completed || len(rep.Errors) != 0 {
		t.Errorf("ops %d of %d completed, errors %v %v", rep.Ops, o.Completed, rep.Errors, rep.ErrorSamples)
	}
	// No more than the target (a loaded machine may give less).
	if o.AchievedRate <= 0 || o.AchievedRate > 200.001 {
		t.Errorf("achieved %.1f/s of 200", o.AchievedRate)
	}
	l := rep.Latency
	if l.P50 < 5 || l.P99 < l.P50 || l.P999 < l.P99 || l.Max < l.P999 {
		t.Errorf("latency %+v: want 5 ms ≤ p50 ≤ p99 ≤ p99.9 ≤ max", l)
	}
	if o.BackendLatencyMS != 5 || o.AddedP99 != l.P99-5 {
		t.Errorf("added p99 %+v", o)
	}
	// The simulator is read when the window opens and after the last
	// measured bind: every measured bind's request is in, and at most the
	// warm-up's (32 requests, one per user) that were still in flight.
	if b := rep.Backend; b == nil || b.Requests < int64(rep.Ops) || b.Requests > int64(rep.Ops)+32 || rep.Server == nil {
		t.Errorf("backend %+v server %+v, %d binds", rep.Backend, rep.Server, rep.Ops)
	}
	var stdout, stderr bytes.Buffer
	_ = cli(context.Background(), []string{"-url", s.url, "-users", "32", "-c", "2", "-rate", "50", "-d", "100ms", "-warmup", "0", "-warmup-max", "0"}, &stdout, &stderr)
	if !strings.Contains(stdout.String(), "open loop   target 50/s") || !strings.Contains(stdout.String(), "p99.9") {
		t.Errorf("text report:\n%s%s", stdout.String(), stderr.String())
	}
}

// The tool does not coordinate with a slow server: one connection, a
// request due every 10 ms, a backend taking 30 ms. A closed loop would
// report 30 ms; here the queue behind the busy connection counts, and
// the requests it held back are reported late.
func TestOpenLoopCountsQueueing(t *testing.T) {
	s := startStackWith(t, simenv.Options{Users: 4, Latency: 30 * time.Millisecond})
	rep := runTool(t, "-url", s.url, "-users", "4", "-mode", "bind", "-c", "1", "-rate", "100", "-d", "300ms",
		"-warmup", "0", "-warmup-max", "0", "-backend-latency", "30ms")
	o := rep.OpenLoop
	if o == nil || o.Scheduled != 30 || o.Completed != 30 {
		t.Fatalf("open loop %+v", o)
	}
	// The 30th request is due at 290 ms and sent after 29 binds of at
	// least 30 ms: about 580 ms late.
	if rep.Latency.Max < 500 || rep.Latency.P50 < 100 {
		t.Errorf("latency %+v: the queue behind the busy connection is missing", rep.Latency)
	}
	if o.Late < 25 || o.AchievedRate > 40 {
		t.Errorf("late %d achieved %.1f/s: want most late, about 33/s", o.Late, o.AchievedRate)
	}
}
