package main

import "context"

// sampleBefore reads, at the start of the measured window, the counters a
// result is the difference of: this process's and the machine's CPU, the
// bridge's /proc figures (s.pid) and the simulator's request counts (which
// it resets first). What cannot be read becomes a note.
func (r *result) sampleBefore(ctx context.Context, s *settings, sim *simClient) {
	r.selfBefore, r.busyBefore = selfCPU(), machineBusy()
	if s.pid > 0 {
		if p, err := readProc(s.pid); err == nil {
			r.before = &p
		} else {
			r.notes = append(r.notes, err.Error())
		}
	}
	if sim != nil {
		if err := sim.reset(ctx); err != nil {
			r.notes = append(r.notes, err.Error())
		}
		if st, err := sim.stats(ctx); err == nil {
			r.simBefore = &st
		} else {
			r.notes = append(r.notes, err.Error())
		}
	}
}

// sampleAfter reads the same counters at the end of the window, where the
// start was read.
func (r *result) sampleAfter(ctx context.Context, s *settings, sim *simClient) {
	r.selfAfter, r.busyAfter = selfCPU(), machineBusy()
	if s.pid > 0 && r.before != nil {
		if p, err := readProc(s.pid); err == nil {
			r.after = &p
		} else {
			r.notes = append(r.notes, err.Error())
		}
	}
	if sim != nil && r.simBefore != nil {
		if st, err := sim.stats(ctx); err == nil {
			r.simAfter = &st
		} else {
			r.notes = append(r.notes, err.Error())
		}
	}
}
