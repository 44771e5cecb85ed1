package hist

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"
)

func TestQuantilesWithinThreePercent(t *testing.T) {
	for _, tc := range []struct {
		name string
		gen  func(r *rand.Rand) time.Duration
	}{
		{"uniform 0-50ms", func(r *rand.Rand) time.Duration { return time.Duration(r.Int64N(int64(50 * time.Millisecond))) }},
		{"exponential", func(r *rand.Rand) time.Duration { return time.Duration(r.ExpFloat64() * float64(time.Millisecond)) }},
		{"small ns", func(r *rand.Rand) time.Duration { return time.Duration(r.IntN(40)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var h H
			var all []time.Duration
			for range 20000 {
				d := tc.gen(r)
				h.Record(d)
				all = append(all, d)
			}
			slices.Sort(all)
			for _, q := range []float64{0.5, 0.9, 0.99, 1} {
				want := all[max(int(q*float64(len(all)))-1, 0)]
				got := h.Quantile(q)
				diff := float64(got - want)
				if diff < 0 {
					diff = -diff
				}
				if diff > 0.035*float64(want)+2 {
					t.Errorf("q%.2f: got %v, want %v", q, got, want)
				}
			}
			if h.Max() != all[len(all)-1] || h.Min() != all[0] || h.Count() != uint64(len(all)) {
				t.Errorf("max/min/count: %v %v %d", h.Max(), h.Min(), h.Count())
			}
		})
	}
}

func TestMergeAndReset(t *testing.T) {
	var a, b H
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	b.Record(-time.Second) // counts as zero
	a.Merge(&b)
	if a.Count() != 3 || a.Max() != 3*time.Millisecond || a.Min() != 0 {
		t.Fatalf("merged: n=%d max=%v min=%v", a.Count(), a.Max(), a.Min())
	}
	if m := a.Mean(); m != (4*time.Millisecond)/3 {
		t.Errorf("mean %v", m)
	}
	a.Reset()
	if a.Count() != 0 || a.Quantile(0.5) != 0 || a.Mean() != 0 {
		t.Errorf("reset left samples")
	}
}

func TestBucketBoundaries(t *testing.T) {
	// Every bucket's lower bound maps back to that bucket, and buckets
	// are contiguous.
	for i := 0; i < nBuckets-1; i++ {
		if got := index(lower(i)); got != i {
			t.Fatalf("index(lower(%d)) = %d", i, got)
		}
		if got := index(lower(i+1) - 1); got != i {
			t.Fatalf("index(lower(%d)-1) = %d", i+1, got)
		}
	}
	if index(^uint64(0)) != nBuckets-1 {
		t.Fatalf("largest value lands in bucket %d of %d", index(^uint64(0)), nBuckets)
	}
}

func BenchmarkRecord(b *testing.B) {
	var h H
	d := 1234567 * time.Nanosecond
	b.ReportAllocs()
	for b.Loop() {
		h.Record(d)
		d += 7
	}
}
