package main

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// bindCacheCollector exports the verified-bind cache's counters. A reload
// installs a new cache, so the counts of the caches it replaced are kept
// and added in: the counters never go backwards.
type bindCacheCollector struct {
	hits, misses, invalidations, entries *prometheus.Desc

	mu      sync.Mutex
	retired bridge.BindCacheStats
	cur     *bridge.BindCache
}

func newBindCacheCollector() *bindCacheCollector {
	d := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc(prometheus.BuildFQName("ldapbridge", "bind_cache", name), help, nil, nil)
	}
	return &bindCacheCollector{
		hits:          d("hits_total", "Binds answered by the verified-bind cache without a backend request."),
		misses:        d("misses_total", "Binds the verified-bind cache could not answer (sent to the backend)."),
		invalidations: d("invalidations_total", "Cached binds dropped because the user's password changed through the bridge or a bind failed."),
		entries:       d("entries", "Users currently in the verified-bind cache."),
	}
}

// install records that c (nil when the cache is off) replaces the cache
// in force.
func (b *bindCacheCollector) install(c *bridge.BindCache) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.cur == c {
		return
	}
	old := b.cur.Stats()
	b.retired.Hits += old.Hits
	b.retired.Misses += old.Misses
	b.retired.Invalidations += old.Invalidations
	b.cur = c
}

func (b *bindCacheCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- b.hits
	ch <- b.misses
	ch <- b.invalidations
	ch <- b.entries
}

func (b *bindCacheCollector) Collect(ch chan<- prometheus.Metric) {
	b.mu.Lock()
	cur, ret := b.cur.Stats(), b.retired
	b.mu.Unlock()
	ch <- prometheus.MustNewConstMetric(b.hits, prometheus.CounterValue, float64(ret.Hits+cur.Hits))
	ch <- prometheus.MustNewConstMetric(b.misses, prometheus.CounterValue, float64(ret.Misses+cur.Misses))
	ch <- prometheus.MustNewConstMetric(b.invalidations, prometheus.CounterValue, float64(ret.Invalidations+cur.Invalidations))
	ch <- prometheus.MustNewConstMetric(b.entries, prometheus.GaugeValue, float64(cur.Entries))
}
