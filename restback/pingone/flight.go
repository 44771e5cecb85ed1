package pingone

import (
	"context"
	"sync"
	"time"
)

// flightGroup collapses concurrent calls with the same key into one
// (golang.org/x/sync/singleflight is not a dependency of this module).
// The shared call runs on a context detached from any one caller's
// cancellation, bounded by timeout, so that the first caller giving up
// does not fail the others; each caller still stops waiting when its own
// context ends.
type flightGroup[K comparable, V any] struct {
	mu sync.Mutex
	m  map[K]*flightCall[V]
	// life, when set, ends every shared call when it is done: the
	// client's Close stops a token refresh or lookup in progress.
	life context.Context
}

type flightCall[V any] struct {
	done chan struct{}
	val  V
	err  error
}

func (g *flightGroup[K, V]) do(ctx context.Context, key K, timeout time.Duration, fn func(context.Context) (V, error)) (V, error) {
	g.mu.Lock()
	if g.m == nil {
		g.m = map[K]*flightCall[V]{}
	}
	c, ok := g.m[key]
	if !ok {
		c = &flightCall[V]{done: make(chan struct{})}
		g.m[key] = c
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), timeout)
		stop := func() bool { return false }
		if g.life != nil {
			stop = context.AfterFunc(g.life, cancel)
		}
		go func() {
			defer cancel()
			defer stop()
			c.val, c.err = fn(fctx)
			g.mu.Lock()
			delete(g.m, key)
			g.mu.Unlock()
			close(c.done)
		}()
	}
	g.mu.Unlock()
	select {
	case <-c.done:
		return c.val, c.err
	case <-ctx.Done():
		var zero V
		return zero, ctx.Err()
	}
}
