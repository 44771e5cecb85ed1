package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/hist"
	"github.com/ldapbridge/ldapbridge/bench/simenv"
)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Report is the JSON output (and the source of the text output).
type Report struct {
	Tool        string  `json:"tool"`
	Label       string  `json:"label,omitempty"`
	Mode        string  `json:"mode"`
	URL         string  `json:"url"`
	StartTLS    bool    `json:"starttls"`
	Connections int     `json:"connections"`
	Users       int     `json:"users"`
	DurationS   float64 `json:"duration_s"`
	WarmupS     float64 `json:"warmup_s"`
	// Ops counts the successful operations that completed in the window.
	Ops       uint64  `json:"ops"`
	OpsPerSec float64 `json:"ops_per_s"`
	// Errors counts failed operations in the window by LDAP result name
	// or transport failure; SetupErrors those of opening connections.
	Errors       map[string]uint64   `json:"errors"`
	SetupErrors  map[string]uint64   `json:"setup_errors,omitempty"`
	ErrorSamples map[string]string   `json:"error_samples,omitempty"`
	Latency      simenv.Percentiles  `json:"latency"`
	PerOp        map[string]OpReport `json:"per_op,omitempty"`
	Server       *ServerReport       `json:"server,omitempty"`
	Backend      *BackendReport      `json:"backend,omitempty"`
	Idle         *IdleReport         `json:"idle,omitempty"`
	OpenLoop     *OpenLoopReport     `json:"open_loop,omitempty"`
	SearchBind   *SearchBindReport   `json:"searchbind,omitempty"`
	// ClientCPU is the load tool's own CPU time over the window, in
	// cores: on a shared machine, what the measurement itself took.
	ClientCPU float64 `json:"client_cpu_cores,omitempty"`
	// MachineBusy is the CPU time every process on the machine spent
	// over the window, in cores (of MachineCPUs): near MachineCPUs, the
	// machine was saturated, by this run or by other work.
	MachineBusy float64  `json:"machine_busy_cores,omitempty"`
	MachineCPUs int      `json:"machine_cpus,omitempty"`
	Notes       []string `json:"notes,omitempty"`
}

// OpReport is one kind of operation in mixed mode.
type OpReport struct {
	Ops       uint64             `json:"ops"`
	OpsPerSec float64            `json:"ops_per_s"`
	Latency   simenv.Percentiles `json:"latency"`
}

// ServerReport is the process under test, from /proc.
type ServerReport struct {
	PID int `json:"pid"`
	// CPUSeconds is user+system time spent in the window.
	CPUSeconds float64 `json:"cpu_s"`
	// CPUPer1000 is CPU seconds per 1,000 successful operations.
	CPUPer1000 float64 `json:"cpu_s_per_1000_ops"`
	// CPUShare is CPU time over wall time (1.0 = one core busy).
	CPUShare   float64 `json:"cpu_cores"`
	PeakRSSKiB int64   `json:"peak_rss_kib"`
	RSSKiB     int64   `json:"rss_kib"`
}

// BackendReport is what the simulators saw in the window.
type BackendReport struct {
	Requests      int64   `json:"requests"`
	RequestsPerOp float64 `json:"requests_per_op"`
	// NewConnections is the TCP connections the backend accepted in the
	// window: with a working keep-alive pool, close to none.
	NewConnections int64              `json:"new_connections"`
	Latency        simenv.Percentiles `json:"latency"`
	// AddedP99 is the client's p99 minus the backend's p99, in ms.
	AddedP99 float64 `json:"added_p99_ms"`
}

// OpenLoopReport is a -rate run's schedule and how well it was kept.
// Latency (the report's) counts from each request's scheduled time.
type OpenLoopReport struct {
	// Rate is the target, requests per second; Scheduled the requests
	// due in the window.
	Rate      int    `json:"rate_per_s"`
	Scheduled uint64 `json:"scheduled"`
	// Completed were answered (successfully or not); Unsent were never
	// sent (no connection, or the run's hard end); Late were sent more
	// than LateAfterMS after their scheduled time, or not at all.
	Completed   uint64  `json:"completed"`
	Unsent      uint64  `json:"unsent"`
	Late        uint64  `json:"late"`
	LateAfterMS float64 `json:"late_after_ms"`
	MaxLagMS    float64 `json:"max_send_lag_ms"`
	// AchievedRate is Completed over the time from the window's start
	// to the last completion (at least the window).
	AchievedRate float64 `json:"achieved_per_s"`
	WindowS      float64 `json:"window_s"`
	// BackendLatencyMS is the backend's configured latency (given with
	// -backend-latency) and AddedP99 the report's p99 minus it.
	BackendLatencyMS float64 `json:"backend_latency_ms,omitempty"`
	AddedP99         float64 `json:"added_p99_ms,omitempty"`
}

// SearchBindReport is a searchbind run's logins taken apart: each
// login's search and its bind (successful logins only); the report's
// ops are logins, its backend requests per op backend requests per login.
type SearchBindReport struct {
	SearchBase string             `json:"search_base"`
	Filter     string             `json:"filter"`
	Attributes []string           `json:"attributes"`
	Rebind     bool               `json:"rebind"`
	Search     simenv.Percentiles `json:"search_latency"`
	Bind       simenv.Percentiles `json:"bind_latency"`
}

// IdleReport is the idle mode's result.
type IdleReport struct {
	Held         int     `json:"held"`
	Bound        bool    `json:"bound"`
	OpenSeconds  float64 `json:"open_s"`
	RSSBeforeKiB int64   `json:"rss_before_kib"`
	RSSHeldKiB   int64   `json:"rss_held_kib"`
	PeakRSSKiB   int64   `json:"peak_rss_kib"`
	PerConnKiB   float64 `json:"per_connection_kib"`
	HoldSeconds  float64 `json:"hold_s"`
}

func buildReport(s *settings, url string, r *result) *Report {
	rep := &Report{
		Tool: "ldapbench", Mode: s.mode, URL: url, StartTLS: s.t.startTLS, Connections: s.conns,
		Users: s.users, DurationS: s.duration.Seconds(), WarmupS: r.warmup.Seconds(),
		Errors: r.errs, SetupErrors: r.setupErrs, ErrorSamples: r.samples, Notes: r.notes,
	}
	if len(rep.SetupErrors) == 0 {
		rep.SetupErrors = nil
	}
	if s.mode == modeIdle {
		rep.WarmupS = 0
		ir := &IdleReport{Held: r.held, Bound: s.idleBind, OpenSeconds: r.openTime.Seconds(), HoldSeconds: s.duration.Seconds()}
		if r.idleBefore != nil && r.after != nil {
			ir.RSSBeforeKiB, ir.RSSHeldKiB, ir.PeakRSSKiB = r.idleBefore.rssKiB, r.after.rssKiB, r.after.hwmKiB
			if r.held > 0 {
				ir.PerConnKiB = float64(r.after.rssKiB-r.idleBefore.rssKiB) / float64(r.held)
			}
		}
		rep.Idle = ir
		return rep
	}
	var all hist.H
	secs := r.end.Sub(r.start).Seconds()
	per := map[string]OpReport{}
	for k := range r.lat {
		h := &r.lat[k]
		if h.Count() == 0 {
			continue
		}
		all.Merge(h)
		per[kindNames[k]] = OpReport{Ops: h.Count(), OpsPerSec: float64(h.Count()) / secs, Latency: simenv.FromHist(h)}
	}
	if len(per) > 1 {
		rep.PerOp = per
	}
	rep.Ops = all.Count()
	rep.OpsPerSec = float64(rep.Ops) / secs
	rep.Latency = simenv.FromHist(&all)
	if r.selfBefore >= 0 && r.selfAfter > 0 {
		// Sampled at the window's edges; for an open-loop run the end
		// is its last completion (r.end).
		if w := r.end.Sub(r.start); w > 0 {
			rep.ClientCPU = (r.selfAfter - r.selfBefore).Seconds() / w.Seconds()
			if r.busyBefore >= 0 && r.busyAfter > 0 {
				rep.MachineBusy = (r.busyAfter - r.busyBefore).Seconds() / w.Seconds()
				rep.MachineCPUs = runtime.NumCPU()
			}
		}
	}
	if s.mode == modeSearchBind {
		rep.SearchBind = &SearchBindReport{SearchBase: s.searchBase, Filter: "(" + s.searchAttr + "=<user>)",
			Attributes: s.searchAttrs, Rebind: s.rebind,
			Search: simenv.FromHist(&r.phase[phaseSearch]), Bind: simenv.FromHist(&r.phase[phaseBind])}
	}
	if ol := r.openLoop; ol != nil {
		o := &OpenLoopReport{Rate: s.rate, Scheduled: r.scheduled, Completed: ol.completed, Unsent: ol.unsent, Late: ol.late,
			LateAfterMS: ms(s.late), MaxLagMS: ms(ol.maxLag), WindowS: r.window.Seconds(),
			AchievedRate: achievedRate(ol.completed, r.window, r.end.Sub(r.start))}
		if s.backendLatency > 0 {
			o.BackendLatencyMS = ms(s.backendLatency)
			o.AddedP99 = rep.Latency.P99 - o.BackendLatencyMS
		}
		rep.OpenLoop = o
	}
	if r.before != nil && r.after != nil {
		cpu := (r.after.cpu - r.before.cpu).Seconds()
		sr := &ServerReport{PID: s.pid, CPUSeconds: cpu, CPUShare: cpu / secs, PeakRSSKiB: r.after.hwmKiB, RSSKiB: r.after.rssKiB}
		if rep.Ops > 0 {
			sr.CPUPer1000 = cpu * 1000 / float64(rep.Ops)
		}
		rep.Server = sr
	}
	if r.simBefore != nil && r.simAfter != nil {
		b, a := r.simBefore, r.simAfter
		br := &BackendReport{Requests: a.PingDirectory.Requests - b.PingDirectory.Requests + a.PingOne.Requests - b.PingOne.Requests,
			NewConnections: a.PingDirectory.Connections - b.PingDirectory.Connections + a.PingOne.Connections - b.PingOne.Connections}
		// The backend's latency is that of the simulator that served
		// the run (the one with more requests).
		br.Latency = a.PingDirectory.Latency
		if a.PingOne.Latency.Count > a.PingDirectory.Latency.Count {
			br.Latency = a.PingOne.Latency
		}
		if rep.Ops > 0 {
			br.RequestsPerOp = float64(br.Requests) / float64(rep.Ops)
		}
		if br.Latency.Count > 0 {
			br.AddedP99 = rep.Latency.P99 - br.Latency.P99
		}
		rep.Backend = br
	}
	return rep
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func writeJSON(w io.Writer, rep *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(rep)
}

func fmtMS(ms float64) string {
	d := time.Duration(ms * 1e6)
	switch {
	case d >= time.Second:
		return fmt.Sprintf("%.2fs", d.Seconds())
	case d >= 10*time.Millisecond:
		return fmt.Sprintf("%.1fms", ms)
	}
	return fmt.Sprintf("%.3fms", ms)
}

func fmtLatency(p simenv.Percentiles) string {
	return fmt.Sprintf("p50 %s  p90 %s  p99 %s  max %s", fmtMS(p.P50), fmtMS(p.P90), fmtMS(p.P99), fmtMS(p.Max))
}

func fmtCounts(m map[string]uint64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	return strings.Join(parts, ", ")
}

func writeText(w io.Writer, rep *Report) {
	tls := ""
	if rep.StartTLS {
		tls = " (StartTLS)"
	}
	fmt.Fprintf(w, "ldapbench %s %s%s: %d connections, %d users, %gs", rep.Mode, rep.URL, tls, rep.Connections, rep.Users, rep.DurationS)
	if rep.WarmupS > 0 {
		fmt.Fprintf(w, " after %.1fs warm-up", rep.WarmupS)
	}
	fmt.Fprintln(w)
	if ir := rep.Idle; ir != nil {
		fmt.Fprintf(w, "  held        %d connections (opened in %.1fs), for %gs\n", ir.Held, ir.OpenSeconds, ir.HoldSeconds)
		if ir.RSSHeldKiB > 0 {
			fmt.Fprintf(w, "  server RSS  %.1f MiB idle, %.1f MiB holding them (%.1f KiB per connection), peak %.1f MiB\n",
				float64(ir.RSSBeforeKiB)/1024, float64(ir.RSSHeldKiB)/1024, ir.PerConnKiB, float64(ir.PeakRSSKiB)/1024)
		}
	} else {
		fmt.Fprintf(w, "  ops         %d  (%.1f/s)\n", rep.Ops, rep.OpsPerSec)
		fmt.Fprintf(w, "  latency     %s\n", fmtLatency(rep.Latency))
		if o := rep.OpenLoop; o != nil {
			fmt.Fprintf(w, "  open loop   target %d/s, achieved %.1f/s; from the scheduled time: p50 %s  p99 %s  p99.9 %s\n",
				o.Rate, o.AchievedRate, fmtMS(rep.Latency.P50), fmtMS(rep.Latency.P99), fmtMS(rep.Latency.P999))
			fmt.Fprintf(w, "              %d scheduled, %d completed, %d late (sent > %s after schedule, largest delay %s), %d unsent\n",
				o.Scheduled, o.Completed, o.Late, fmtMS(o.LateAfterMS), fmtMS(o.MaxLagMS), o.Unsent)
			if o.BackendLatencyMS > 0 {
				fmt.Fprintf(w, "              p99 - backend latency %s = %s\n", fmtMS(o.BackendLatencyMS), fmtMS(o.AddedP99))
			}
		}
		if sb := rep.SearchBind; sb != nil {
			how := "user binds on a second connection"
			if sb.Rebind {
				how = "user binds on the searching connection, which rebinds as the service account"
			}
			fmt.Fprintf(w, "  logins      search %s under %s for %v; %s\n", sb.Filter, sb.SearchBase, sb.Attributes, how)
			fmt.Fprintf(w, "    search    %s\n", fmtLatency(sb.Search))
			fmt.Fprintf(w, "    bind      %s\n", fmtLatency(sb.Bind))
		}
		names := make([]string, 0, len(rep.PerOp))
		for k := range rep.PerOp {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			o := rep.PerOp[k]
			fmt.Fprintf(w, "    %-9s %d (%.1f/s)  %s\n", k, o.Ops, o.OpsPerSec, fmtLatency(o.Latency))
		}
	}
	fmt.Fprintf(w, "  errors      %s\n", fmtCounts(rep.Errors))
	if len(rep.SetupErrors) > 0 {
		fmt.Fprintf(w, "  setup       %s\n", fmtCounts(rep.SetupErrors))
	}
	for k, v := range rep.ErrorSamples {
		fmt.Fprintf(w, "    first %s: %s\n", k, v)
	}
	if rep.ClientCPU > 0 {
		fmt.Fprintf(w, "  client      ldapbench's own CPU %.2f cores; the machine's %d CPUs busy %.2f cores\n", rep.ClientCPU, rep.MachineCPUs, rep.MachineBusy)
	}
	if s := rep.Server; s != nil {
		fmt.Fprintf(w, "  server      pid %d: CPU %.2fs (%.2f cores) = %.3fs per 1,000 ops; RSS %.1f MiB, peak %.1f MiB\n",
			s.PID, s.CPUSeconds, s.CPUShare, s.CPUPer1000, float64(s.RSSKiB)/1024, float64(s.PeakRSSKiB)/1024)
	}
	if b := rep.Backend; b != nil {
		fmt.Fprintf(w, "  backend     %d requests = %.2f per op, %d new connections; service time %s; client p99 - backend p99 = %s\n",
			b.Requests, b.RequestsPerOp, b.NewConnections, fmtLatency(b.Latency), fmtMS(b.AddedP99))
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "  note        %s\n", n)
	}
}
