package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/hist"
	"github.com/ldapbridge/ldapbridge/bench/simenv"
	"github.com/ldapbridge/ldapbridge/bench/users"
)

// The modes.
const (
	modeBind     = "bind"     // rebind on open connections
	modeConnBind = "connbind" // connect, bind, close
	modePasswd   = "passwd"   // Password Modify, self change, on open bound connections
	modeMixed    = "mixed"    // rebinds and self changes on open connections
	modeIdle     = "idle"     // open connections and hold them
	// modeSearchBind is a search-then-bind login: on a connection bound
	// as the service account, a subtree search for (uid=<user>), then a
	// bind as the DN found, on a second connection (or, with -rebind, on
	// the same one, which then binds as the service account again before
	// the next search).
	modeSearchBind = "searchbind"
)

// opKind is what one timed operation was.
type opKind int

const (
	kindBind opKind = iota
	kindPasswd
	kindConnBind
	kindLogin
	nKinds
)

var kindNames = [nKinds]string{"bind", "passwd", "connbind", "login"}

// The phases of a searchbind login, timed apart.
const (
	phaseSearch = iota
	phaseBind
	nPhases
)

// settings is a parsed command line.
type settings struct {
	mode        string
	t           target
	conns       int
	duration    time.Duration
	warmup      time.Duration
	warmupMax   time.Duration // the warm-up also waits for every user's first operation, this long at most
	openTimeout time.Duration // idle: time allowed to open the connections
	users       int
	dn          string // template with %d, or one DN
	password    string // "" = the bench/users scheme
	passwords   int    // passwords each user cycles through (passwd, mixed)
	passwdShare float64
	idleBind    bool
	pid         int
	sim         string
	simTLS      *tls.Config // for an ldapsim serving HTTPS
	dialers     int
	// rate > 0: open loop, this many requests per second (openloop.go);
	// late is how far behind its due time a request may be sent and
	// still count as on time.
	rate int
	late time.Duration
	// backendLatency is the backend's configured latency (ldapsim
	// -latency), for the report's added latency.
	backendLatency time.Duration
	// searchbind: the service account, where to search, the attribute
	// the user's name is matched on (the value of the first RDN of -dn),
	// the attributes asked for, and whether the user binds on the
	// searching connection (-rebind) or on a second one.
	serviceDN, servicePW string
	searchBase           string
	searchAttr           string
	searchAttrs          []string
	rebind               bool
}

// result is what the workers measured.
type result struct {
	start, end time.Time // the measured window
	lat        [nKinds]hist.H
	phase      [nPhases]hist.H // searchbind: the successful logins' search and bind
	errs       map[string]uint64
	samples    map[string]string
	setupErrs  map[string]uint64
	before     *procSample
	after      *procSample
	idleBefore *procSample
	simBefore  *simenv.Stats
	simAfter   *simenv.Stats
	warmup     time.Duration
	held       int // idle: connections held
	openTime   time.Duration
	notes      []string
	// Open loop: the measured requests' counts, how many were scheduled
	// in the window, and the window's length (start..end is the span to
	// the last completion).
	openLoop  *openTally
	scheduled uint64
	window    time.Duration
	// The load tool's own CPU time and the whole machine's busy CPU
	// time at the window's edges (-1: unknown).
	selfBefore, selfAfter time.Duration
	busyBefore, busyAfter time.Duration
}

// selfCPU is this process's CPU time so far, or -1.
func selfCPU() time.Duration {
	p, err := readProc(os.Getpid())
	if err != nil {
		return -1
	}
	return p.cpu
}

// worker is one connection's loop and its private tallies.
type worker struct {
	s     *settings
	idx   int
	c     *client
	u     *client // searchbind: the connection users bind on (nil with -rebind)
	lat   [nKinds]hist.H
	phase [nPhases]hist.H
	// lastSearch and lastBind are the phases of the last login.
	lastSearch, lastBind time.Duration
	// asUser: -rebind, the searching connection is bound as a user and
	// binds as the service account before the next search.
	asUser  bool
	errs    map[string]uint64
	samples map[string]string
	setup   map[string]uint64
	rng     *rand.Rand
	// mine are this worker's users; k[i] is the index of mine[i]'s
	// current password; cur is the position of the bound user.
	mine []int
	k    []int
	cur  int
	// attempts counts operations until the worker has been through each
	// of its users once (then warm: caches hold all of them).
	attempts int
	warm     atomic.Bool
	ol       openTally   // open loop
	timer    *time.Timer // open loop: the wait for the next due time
}

func (w *worker) password(i int) string {
	if w.s.password != "" {
		return w.s.password
	}
	return users.Password(w.mine[i], w.k[i])
}

func (w *worker) fail(m map[string]uint64, err error) {
	cl := errorClass(err)
	m[cl]++
	if _, ok := w.samples[cl]; !ok {
		w.samples[cl] = err.Error()
	}
}

// usersFor deals the users out: worker w gets w, w+n, w+2n, ... so that no
// two workers change the same user's password.
func usersFor(w, n, total int) []int {
	if total <= n {
		return []int{w % total}
	}
	var out []int
	for u := w; u < total; u += n {
		out = append(out, u)
	}
	return out
}

// run executes one benchmark.
func run(ctx context.Context, s *settings) (*result, error) {
	if s.mode == modeIdle {
		return runIdle(ctx, s)
	}
	if s.rate > 0 {
		return runRate(ctx, s)
	}
	r := &result{errs: map[string]uint64{}, samples: map[string]string{}, setupErrs: map[string]uint64{}}
	sim := simFor(s)
	workers := make([]*worker, s.conns)
	for i := range workers {
		mine := usersFor(i, s.conns, s.users)
		workers[i] = &worker{s: s, idx: i, errs: map[string]uint64{}, samples: map[string]string{},
			setup: map[string]uint64{}, rng: rand.New(rand.NewPCG(uint64(i), 42)), mine: mine, k: make([]int, len(mine))}
	}
	// Open (and for passwd and mixed, bind) every connection first, so
	// that the measured window sees only the operations under test.
	if s.mode != modeConnBind {
		forEach(ctx, workers, s.dialers, func(w *worker) { w.open() })
	}
	if sim != nil {
		// Open the HTTP connection now, not at the window's edge.
		if _, err := sim.stats(ctx); err != nil {
			r.notes = append(r.notes, err.Error())
			sim = nil
		}
	}
	// The window opens once the first samples are taken and closes
	// before the last ones, so that the samples bracket what is counted.
	win := window{exact: s.mode == modeSearchBind, resume: make(chan struct{})}
	hardEnd := time.Now().Add(max(s.warmup, s.warmupMax) + s.duration + s.t.timeout + 5*time.Second)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(ctx, &win, hardEnd)
		}()
	}
	warmStart := time.Now()
	ok := sleepUntil(ctx, warmStart.Add(s.warmup))
	for ok && !allWarm(workers) && time.Since(warmStart) < s.warmupMax {
		ok = sleepUntil(ctx, time.Now().Add(20*time.Millisecond))
	}
	r.warmup = time.Since(warmStart)
	if !allWarm(workers) {
		r.notes = append(r.notes, fmt.Sprintf("not every user was used during the %v warm-up: the window may include first-time lookups", r.warmup.Round(time.Millisecond)))
	}
	if ok && win.exact {
		win.pausing.Store(true)
		// Every worker parks within one operation (each is bounded by
		// the timeout); one that has stopped never will.
		deadline := time.Now().Add(2*s.t.timeout + time.Second)
		for int(win.parked.Load()) < len(workers) && time.Now().Before(deadline) && ctx.Err() == nil {
			time.Sleep(time.Millisecond)
		}
	}
	if ok {
		r.sampleBefore(ctx, s, sim)
	}
	r.start = time.Now()
	win.start.Store(r.start.UnixNano())
	if win.exact {
		win.pausing.Store(false)
		close(win.resume)
	}
	sleepUntil(ctx, r.start.Add(s.duration))
	r.end = time.Now()
	win.end.Store(r.end.UnixNano())
	if win.exact {
		wg.Wait()
	}
	if ctx.Err() == nil {
		r.sampleAfter(ctx, s, sim)
	}
	wg.Wait()
	for _, w := range workers {
		w.closeAll()
		r.merge(w)
	}
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("interrupted: %w", err)
	}
	return r, nil
}

// closeAll unbinds and closes the worker's connections.
func (w *worker) closeAll() {
	for _, c := range []*client{w.c, w.u} {
		if c != nil {
			c.close()
		}
	}
	w.c, w.u = nil, nil
}

// merge adds a worker's tallies to the result.
func (r *result) merge(w *worker) {
	for k := range r.lat {
		r.lat[k].Merge(&w.lat[k])
	}
	for k := range r.phase {
		r.phase[k].Merge(&w.phase[k])
	}
	for k, v := range w.errs {
		r.errs[k] += v
	}
	for k, v := range w.setup {
		r.setupErrs[k] += v
	}
	for k, v := range w.samples {
		if _, ok := r.samples[k]; !ok {
			r.samples[k] = v
		}
	}
}

func simFor(s *settings) *simClient {
	if s.sim == "" {
		return nil
	}
	return newSimClient(s.sim, s.simTLS)
}

// sleepUntil waits for t; false if ctx ended first.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// forEach runs f for every worker, at most par at a time.
func forEach(ctx context.Context, ws []*worker, par int, f func(*worker)) {
	sem := make(chan struct{}, max(par, 1))
	var wg sync.WaitGroup
	for _, w := range ws {
		if ctx.Err() != nil {
			break
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			f(w)
		}()
	}
	wg.Wait()
}

// open connects and, for the modes that change passwords, binds as the
// worker's first user. Failures count as setup errors; loop retries.
func (w *worker) open() bool {
	c, err := dial(context.Background(), &w.s.t)
	if err != nil {
		w.fail(w.setup, err)
		return false
	}
	w.c = c
	if w.s.mode == modeSearchBind {
		return w.openSearchBind()
	}
	if w.s.mode == modePasswd || w.s.mode == modeMixed {
		if err := c.bind(users.DN(w.s.dn, w.mine[w.cur]), w.password(w.cur)); err != nil {
			w.fail(w.setup, err)
			w.drop()
			return false
		}
	}
	return true
}

func (w *worker) drop() {
	for _, c := range []*client{w.c, w.u} {
		if c != nil {
			c.nc.Close()
		}
	}
	w.c, w.u = nil, nil
}

// window is the measured interval, in Unix nanoseconds; zero while not
// yet open (start) or not yet closed (end).
type window struct {
	start, end atomic.Int64
	// exact (searchbind): the workers park while the opening samples
	// are taken, operations count by when they began, and the closing
	// samples wait for the last of them, so that the backend requests
	// and server CPU counted are exactly those of the counted
	// operations (a count the e2e test asserts on).
	exact   bool
	pausing atomic.Bool
	parked  atomic.Int32
	resume  chan struct{}
}

// loop runs operations until the window closes (or hardEnd passes);
// those that finish inside the window are recorded.
func (w *worker) loop(ctx context.Context, win *window, hardEnd time.Time) {
	for ctx.Err() == nil {
		if win.exact && win.pausing.Load() {
			// Parked while the opening samples are taken: nothing of
			// ours is in flight then.
			win.parked.Add(1)
			select {
			case <-win.resume:
			case <-ctx.Done():
				return
			}
		}
		now := time.Now()
		if win.end.Load() != 0 || now.After(hardEnd) {
			return
		}
		if w.c == nil && w.s.mode != modeConnBind && !w.open() {
			// Do not spin on a server that refuses connections.
			time.Sleep(10 * time.Millisecond)
			continue
		}
		kind, err := w.op()
		done := time.Now()
		if !w.warm.Load() {
			w.attempts++
			if w.attempts >= w.cycle() {
				w.warm.Store(true)
			}
		}
		start, end := win.start.Load(), win.end.Load()
		if err != nil {
			// A failure counts when the attempt began in the window
			// (a timeout ends after it).
			if start != 0 && now.UnixNano() >= start && (end == 0 || now.UnixNano() < end) {
				w.fail(w.errs, err)
			}
			if mustReconnect(err) {
				w.drop()
			}
			continue
		}
		if win.exact {
			// Counted by when it began: the closing samples wait for it.
			if start == 0 || now.UnixNano() < start || (end != 0 && now.UnixNano() >= end) {
				continue
			}
		} else if start == 0 || done.UnixNano() < start || end != 0 {
			continue
		}
		w.record(kind, done.Sub(now))
	}
}

// record adds a successful operation's latency (and a login's phases).
func (w *worker) record(kind opKind, d time.Duration) {
	w.lat[kind].Record(d)
	if kind == kindLogin {
		w.phase[phaseSearch].Record(w.lastSearch)
		w.phase[phaseBind].Record(w.lastBind)
	}
}

// cycle is how many operations take the worker through all its users.
func (w *worker) cycle() int {
	switch w.s.mode {
	case modePasswd:
		return 1
	case modeMixed:
		// Rebinds are most of the operations; allow for the changes.
		return int(float64(len(w.mine))/max(1-w.s.passwdShare, 0.05)) + 1
	}
	return len(w.mine)
}

func allWarm(ws []*worker) bool {
	for _, w := range ws {
		if !w.warm.Load() {
			return false
		}
	}
	return true
}

// op performs one operation of the mode.
func (w *worker) op() (opKind, error) {
	s := w.s
	switch s.mode {
	case modeBind:
		w.cur = (w.cur + 1) % len(w.mine)
		return kindBind, w.c.bind(users.DN(s.dn, w.mine[w.cur]), w.password(w.cur))
	case modeConnBind:
		w.cur = (w.cur + 1) % len(w.mine)
		c, err := dial(context.Background(), &s.t)
		if err != nil {
			return kindConnBind, err
		}
		err = c.bind(users.DN(s.dn, w.mine[w.cur]), w.password(w.cur))
		c.close()
		return kindConnBind, err
	case modeSearchBind:
		w.cur = (w.cur + 1) % len(w.mine)
		return kindLogin, w.login()
	case modeMixed:
		if w.rng.Float64() >= s.passwdShare {
			w.cur = (w.cur + 1) % len(w.mine)
			err := w.c.bind(users.DN(s.dn, w.mine[w.cur]), w.password(w.cur))
			if err != nil {
				// The session is now anonymous: bind again before the
				// next change.
				w.drop()
			}
			return kindBind, err
		}
		return kindPasswd, w.changePassword()
	default:
		return kindPasswd, w.changePassword()
	}
}

// changePassword moves the bound user to its next password.
func (w *worker) changePassword() error {
	if w.s.password != "" {
		return errors.New("passwd needs the generated passwords (no -password)")
	}
	u, k := w.mine[w.cur], w.k[w.cur]
	next := (k + 1) % w.s.passwords
	err := w.c.passwordModify(users.Password(u, k), users.Password(u, next))
	if err == nil {
		w.k[w.cur] = next
	}
	return err
}

// runIdle opens the connections, holds them for the duration, and samples
// the server's memory before and while they are held.
func runIdle(ctx context.Context, s *settings) (*result, error) {
	r := &result{errs: map[string]uint64{}, samples: map[string]string{}, setupErrs: map[string]uint64{}}
	if s.pid > 0 {
		if p, err := readProc(s.pid); err == nil {
			r.idleBefore = &p
		} else {
			return nil, err
		}
	}
	ws := make([]*worker, s.conns)
	for i := range ws {
		ws[i] = &worker{s: s, idx: i, errs: map[string]uint64{}, samples: map[string]string{}, setup: map[string]uint64{},
			mine: usersFor(i, s.conns, s.users), k: []int{0}}
	}
	octx, cancel := context.WithTimeout(ctx, s.openTimeout)
	began := time.Now()
	var mu sync.Mutex
	forEach(octx, ws, s.dialers, func(w *worker) {
		c, err := dial(octx, &s.t)
		if err == nil && s.idleBind {
			if err = c.bind(users.DN(s.dn, w.mine[0]), w.password(0)); err != nil {
				c.nc.Close()
			}
		}
		if err != nil {
			mu.Lock()
			w.fail(w.setup, err)
			mu.Unlock()
			return
		}
		w.c = c
	})
	cancel()
	r.openTime = time.Since(began)
	for _, w := range ws {
		if w.c != nil {
			r.held++
		}
	}
	r.start = time.Now()
	r.end = r.start.Add(s.duration)
	sleepUntil(ctx, r.end)
	if s.pid > 0 {
		if p, err := readProc(s.pid); err == nil {
			r.after = &p
		} else {
			r.notes = append(r.notes, err.Error())
		}
	}
	// Check that the held connections are still alive: the server must
	// not have dropped them.
	alive := 0
	for _, w := range ws {
		if w.c == nil {
			continue
		}
		_ = w.c.nc.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := w.c.br.Peek(1); err != nil && isTimeout(err) {
			alive++
		} else if err == nil {
			r.errs["unexpected_data"]++
		} else {
			w.fail(r.errs, err)
		}
		w.c.close()
	}
	if alive < r.held {
		r.notes = append(r.notes, fmt.Sprintf("%d of %d held connections were closed by the server", r.held-alive, r.held))
	}
	for _, w := range ws {
		for k, v := range w.setup {
			r.setupErrs[k] += v
		}
		for k, v := range w.samples {
			if _, ok := r.samples[k]; !ok {
				r.samples[k] = v
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return r, fmt.Errorf("interrupted: %w", err)
	}
	return r, nil
}
