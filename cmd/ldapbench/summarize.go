package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// summarizeCmd prints reports (ldapbench -json files) as Markdown: one
// table of the load runs, one of the idle runs, and the ratios that the
// performance targets are stated in.
func summarizeCmd(files []string, stdout, stderr io.Writer) int {
	if len(files) == 0 {
		fmt.Fprintln(stderr, "usage: ldapbench summarize FILE.json...")
		return 2
	}
	var reps []*Report
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			fmt.Fprintf(stderr, "ldapbench summarize: %v\n", err)
			return 1
		}
		var r Report
		if err := json.Unmarshal(b, &r); err != nil || r.Tool != "ldapbench" {
			fmt.Fprintf(stderr, "ldapbench summarize: %s is not an ldapbench report\n", f)
			return 1
		}
		reps = append(reps, &r)
	}
	summarize(stdout, reps)
	return 0
}

var modeOrder = map[string]int{modeBind: 0, modeConnBind: 1, modePasswd: 2, modeMixed: 3, modeIdle: 4, modeSearchBind: 5}

func summarize(w io.Writer, reps []*Report) {
	sort.SliceStable(reps, func(i, j int) bool {
		a, b := reps[i], reps[j]
		if a.Label != b.Label {
			return a.Label < b.Label
		}
		if a.Mode != b.Mode {
			return modeOrder[a.Mode] < modeOrder[b.Mode]
		}
		return a.Connections < b.Connections
	})
	fmt.Fprintln(w, "| run | mode | conns | ops/s | p50 ms | p90 ms | p99 ms | max ms | errors | server CPU s / 1,000 ops | peak RSS MiB | backend req/op | new backend conns | backend p99 ms | added p99 ms | ops/s ÷ (conns ÷ backend p50) |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range reps {
		if r.Mode == modeIdle || r.OpenLoop != nil {
			continue
		}
		cpu, rss := "", ""
		if r.Server != nil {
			cpu = fmt.Sprintf("%.3f", r.Server.CPUPer1000)
			rss = fmt.Sprintf("%.1f", float64(r.Server.PeakRSSKiB)/1024)
		}
		rpo, nc, bp99, added, ideal := "", "", "", "", ""
		if b := r.Backend; b != nil && b.Requests > 0 {
			rpo = fmt.Sprintf("%.2f", b.RequestsPerOp)
			nc = fmt.Sprintf("%d", b.NewConnections)
			bp99 = fmt.Sprintf("%.2f", b.Latency.P99)
			added = fmt.Sprintf("%.2f", b.AddedP99)
			// Only meaningful when the backend's latency, not CPU,
			// bounds throughput.
			if b.Latency.P50 >= 5 && r.Mode != modeConnBind && r.Mode != modeSearchBind {
				ideal = fmt.Sprintf("%.0f%%", 100*r.OpsPerSec/(float64(r.Connections)/(b.Latency.P50/1000)))
			}
		}
		fmt.Fprintf(w, "| %s | %s | %d | %.0f | %.2f | %.2f | %.2f | %.1f | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Label, r.Mode, r.Connections, r.OpsPerSec, r.Latency.P50, r.Latency.P90, r.Latency.P99, r.Latency.Max,
			errCell(r), cpu, rss, rpo, nc, bp99, added, ideal)
	}
	var idle []*Report
	for _, r := range reps {
		if r.Mode == modeIdle && r.Idle != nil {
			idle = append(idle, r)
		}
	}
	if len(idle) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "| run | connections held | bound | RSS before MiB | RSS holding MiB | KiB per connection | peak RSS MiB | errors |")
		fmt.Fprintln(w, "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |")
		for _, r := range idle {
			i := r.Idle
			fmt.Fprintf(w, "| %s | %d | %v | %.1f | %.1f | %.1f | %.1f | %s |\n", r.Label, i.Held, i.Bound,
				float64(i.RSSBeforeKiB)/1024, float64(i.RSSHeldKiB)/1024, i.PerConnKiB, float64(i.PeakRSSKiB)/1024, errCell(r))
		}
	}
	openLoop(w, reps)
	searchBind(w, reps)
	ratios(w, reps)
}

// searchBind prints the searchbind runs per login: issue 11's cost
// target is at most two backend requests per login in steady state.
func searchBind(w io.Writer, reps []*Report) {
	var sb []*Report
	for _, r := range reps {
		if r.Mode == modeSearchBind && r.SearchBind != nil && r.OpenLoop == nil {
			sb = append(sb, r)
		}
	}
	if len(sb) == 0 {
		return
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Search-then-bind (a login: a subtree search as the service account, then a bind as the DN found):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | conns | logins/s | p50 ms | p99 ms | search p50 ms | bind p50 ms | errors | bridge CPU ms / login | backend req / login | target ≤ 2 |")
	fmt.Fprintln(w, "| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |")
	for _, r := range sb {
		cpu, rpl, met := "", "", ""
		if r.Server != nil {
			// CPU seconds per 1,000 logins is milliseconds per login.
			cpu = fmt.Sprintf("%.3f", r.Server.CPUPer1000)
		}
		if b := r.Backend; b != nil && r.Ops > 0 {
			rpl = fmt.Sprintf("%.2f", b.RequestsPerOp)
			met = "met"
			if b.RequestsPerOp > 2.0 {
				met = "**missed**"
			}
		}
		fmt.Fprintf(w, "| %s | %d | %.0f | %.2f | %.2f | %.2f | %.2f | %s | %s | %s | %s |\n",
			r.Label, r.Connections, r.OpsPerSec, r.Latency.P50, r.Latency.P99, r.SearchBind.Search.P50, r.SearchBind.Bind.P50,
			errCell(r), cpu, rpl, met)
	}
}

// openLoop prints the -rate runs: latency from the scheduled send time,
// and how much the p99 adds to the backend's configured latency.
func openLoop(w io.Writer, reps []*Report) {
	var ol []*Report
	for _, r := range reps {
		if r.OpenLoop != nil {
			ol = append(ol, r)
		}
	}
	if len(ol) == 0 {
		return
	}
	sort.SliceStable(ol, func(i, j int) bool {
		if ol[i].Label != ol[j].Label {
			return ol[i].Label < ol[j].Label
		}
		return ol[i].OpenLoop.Rate < ol[j].OpenLoop.Rate
	})
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Open loop (latency from each request's scheduled send time):")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| run | mode | conns | target /s | achieved /s | p50 ms | p99 ms | p99.9 ms | max ms | late | unsent | errors | backend latency ms | added p99 ms | backend p99 ms | server CPU cores | ldapbench CPU cores | machine busy cores |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range ol {
		o := r.OpenLoop
		bl, added, bp99, cores := "", "", "", ""
		if o.BackendLatencyMS > 0 {
			bl = fmt.Sprintf("%.0f", o.BackendLatencyMS)
			added = fmt.Sprintf("%.2f", o.AddedP99)
		}
		if b := r.Backend; b != nil && b.Latency.Count > 0 {
			bp99 = fmt.Sprintf("%.2f", b.Latency.P99)
		}
		if r.Server != nil {
			cores = fmt.Sprintf("%.2f", r.Server.CPUShare)
		}
		client, busy := "", ""
		if r.ClientCPU > 0 {
			client = fmt.Sprintf("%.2f", r.ClientCPU)
		}
		if r.MachineBusy > 0 {
			busy = fmt.Sprintf("%.2f of %d", r.MachineBusy, r.MachineCPUs)
		}
		fmt.Fprintf(w, "| %s | %s | %d | %d | %.0f | %.2f | %.2f | %.2f | %.1f | %d | %d | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Label, r.Mode, r.Connections, o.Rate, o.AchievedRate, r.Latency.P50, r.Latency.P99, r.Latency.P999, r.Latency.Max,
			o.Late, o.Unsent, errCell(r), bl, added, bp99, cores, client, busy)
	}
}

func errCell(r *Report) string {
	all := map[string]uint64{}
	for k, v := range r.Errors {
		all[k] += v
	}
	for k, v := range r.SetupErrors {
		all["setup:"+k] += v
	}
	if len(all) == 0 {
		return "0"
	}
	return fmtCounts(all)
}

// ratios compares the bridge's CPU per operation with slapd's for the
// runs that exist under both labels "pd/0ms" and "slapd".
func ratios(w io.Writer, reps []*Report) {
	type key struct {
		mode  string
		conns int
	}
	find := func(label string) map[key]*Report {
		m := map[key]*Report{}
		for _, r := range reps {
			if r.Label == label && r.Server != nil && r.Ops > 0 {
				m[key{r.Mode, r.Connections}] = r
			}
		}
		return m
	}
	slapd := find("slapd")
	if len(slapd) == 0 {
		return
	}
	labels := map[string]bool{}
	for _, r := range reps {
		if strings.HasPrefix(r.Label, "pd/0ms") || strings.HasPrefix(r.Label, "p1/0ms") {
			labels[r.Label] = true
		}
	}
	var lines []string
	for label := range labels {
		for k, b := range find(label) {
			s, ok := slapd[k]
			if !ok || s.Server.CPUPer1000 == 0 {
				continue
			}
			lines = append(lines, fmt.Sprintf("| %s | %s | %d | %.3f | %.3f | %.2f |", label, k.mode, k.conns,
				b.Server.CPUPer1000, s.Server.CPUPer1000, b.Server.CPUPer1000/s.Server.CPUPer1000))
		}
	}
	if len(lines) == 0 {
		return
	}
	sort.Strings(lines)
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| bridge run | mode | conns | bridge CPU s / 1,000 ops | slapd CPU s / 1,000 ops | bridge ÷ slapd |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: |")
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
