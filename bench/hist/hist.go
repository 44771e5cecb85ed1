// Package hist is a fixed-size latency histogram for the load tool and the
// simulators: log-linear buckets (32 per power of two, so a percentile is
// within about 3% of the true value), constant memory, no allocation per
// sample, mergeable. It is not safe for concurrent use; give each
// goroutine its own and Merge them.
package hist

import (
	"math/bits"
	"time"
)

const (
	subBits = 5 // 32 sub-buckets per power of two
	subN    = 1 << subBits
	// Values below subN nanoseconds each have their own bucket; above,
	// exponents up to 2^63.
	nBuckets = (64-subBits)*subN + subN
)

// H counts durations.
type H struct {
	counts [nBuckets]uint32
	n      uint64
	sum    time.Duration
	max    time.Duration
	min    time.Duration
}

func index(v uint64) int {
	if v < subN {
		return int(v)
	}
	e := bits.Len64(v) - 1 // position of the top bit, >= subBits
	shift := e - subBits
	sub := int(v>>shift) & (subN - 1)
	return (shift+1)*subN + sub
}

// lower is the smallest value that falls in bucket i.
func lower(i int) uint64 {
	if i < subN {
		return uint64(i)
	}
	shift := i/subN - 1
	sub := uint64(i % subN)
	return (subN | sub) << shift
}

// Record adds one duration; negative durations count as zero.
func (h *H) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[index(uint64(d))]++
	if h.n == 0 || d < h.min {
		h.min = d
	}
	h.n++
	h.sum += d
	if d > h.max {
		h.max = d
	}
}

// Merge adds o's samples to h.
func (h *H) Merge(o *H) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	if h.n == 0 || o.min < h.min {
		h.min = o.min
	}
	h.n += o.n
	h.sum += o.sum
	h.max = max(h.max, o.max)
}

// Reset forgets every sample.
func (h *H) Reset() { *h = H{} }

// Count is the number of samples.
func (h *H) Count() uint64 { return h.n }

// Max is the largest sample (exact).
func (h *H) Max() time.Duration { return h.max }

// Min is the smallest sample (exact).
func (h *H) Min() time.Duration { return h.min }

// Mean is the average sample.
func (h *H) Mean() time.Duration {
	if h.n == 0 {
		return 0
	}
	return h.sum / time.Duration(h.n)
}

// Quantile returns the value below which a fraction q (0..1) of the
// samples fall: the midpoint of the bucket holding the ceil(q*n)th sample,
// clamped to the exact minimum and maximum.
func (h *H) Quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	q = min(max(q, 0), 1)
	rank := uint64(q*float64(h.n) + 0.999999)
	rank = min(max(rank, 1), h.n)
	var seen uint64
	for i, c := range h.counts {
		seen += uint64(c)
		if seen >= rank {
			lo := lower(i)
			hi := lower(i+1) - 1
			if i+1 >= nBuckets {
				hi = lo
			}
			v := time.Duration(lo + (hi-lo)/2)
			return min(max(v, h.min), h.max)
		}
	}
	return h.max
}
