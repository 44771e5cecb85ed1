package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge/bench/simenv"
)

// clockTicks is USER_HZ, the unit of /proc/<pid>/stat times: 100 on every
// Linux architecture Go supports (the kernel fixes it for user space
// whatever CONFIG_HZ is).
const clockTicks = 100

// procSample is what /proc says about the process under test.
type procSample struct {
	cpu    time.Duration // user + system
	hwmKiB int64         // VmHWM: peak resident set
	rssKiB int64         // VmRSS
}

func readProc(pid int) (procSample, error) {
	var s procSample
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read process %d: %w", pid, err)
	}
	if s.cpu, err = parseStat(stat); err != nil {
		return s, fmt.Errorf("process %d: %w", pid, err)
	}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read process %d: %w", pid, err)
	}
	s.hwmKiB, s.rssKiB = parseStatus(status)
	return s, nil
}

// parseStat returns utime+stime from /proc/<pid>/stat. The command name
// is in parentheses and may itself hold spaces and parentheses, so the
// fields are counted from the last ')'.
func parseStat(b []byte) (time.Duration, error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("stat: no command name")
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("stat: %d fields", len(f)+2)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	// A Duration holds 292 years; a count whose sum does not fit in one
	// is not a real one.
	const tick = time.Second / clockTicks
	const maxTicks = int64(math.MaxInt64 / tick)
	if err1 != nil || err2 != nil || u < 0 || s < 0 || u > maxTicks-s {
		return 0, fmt.Errorf("stat: utime %q stime %q", f[11], f[12])
	}
	return time.Duration(u+s) * tick, nil
}

// parseStatus returns VmHWM and VmRSS in KiB (0 when absent).
func parseStatus(b []byte) (hwm, rss int64) {
	for _, line := range strings.Split(string(b), "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(v)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			continue
		}
		switch k {
		case "VmHWM":
			hwm = n
		case "VmRSS":
			rss = n
		}
	}
	return hwm, rss
}

// machineBusy is the CPU time all CPUs spent not idle (idle and iowait
// excluded) since boot, from /proc/stat; -1 when unreadable.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return -1
	}
	d, err := parseProcStat(b)
	if err != nil {
		return -1
	}
	return d
}

// parseProcStat sums the first ("cpu") line's fields other than idle (4)
// and iowait (5); guest time is already in user and nice.
func parseProcStat(b []byte) (time.Duration, error) {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	f := strings.Fields(string(line))
	if len(f) < 8 || f[0] != "cpu" {
		return 0, fmt.Errorf("/proc/stat: no cpu line")
	}
	var busy int64
	for i, v := range f[1:min(len(f), 9)] { // user nice system idle iowait irq softirq steal
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 || n > math.MaxInt64/int64(time.Second) {
			return 0, fmt.Errorf("/proc/stat: field %q", v)
		}
		if i == 3 || i == 4 {
			continue
		}
		busy += n
	}
	return time.Duration(busy) * (time.Second / clockTicks), nil
}

// simClient reads ldapsim's counters.
type simClient struct {
	base string
	hc   *http.Client
}

// newSimClient reads ldapsim at base; tc (may be nil) verifies its
// certificate when it serves HTTPS (ldapsim -tls: give -cacert).
func newSimClient(base string, tc *tls.Config) *simClient {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tc
	return &simClient{base: strings.TrimRight(base, "/"), hc: &http.Client{Timeout: 5 * time.Second, Transport: t}}
}

func (s *simClient) stats(ctx context.Context) (simenv.Stats, error) {
	var st simenv.Stats
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/_sim/requests", nil)
	if err != nil {
		return st, fmt.Errorf("simulator stats: %w", err)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return st, fmt.Errorf("simulator stats: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return st, fmt.Errorf("simulator stats: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("simulator stats: HTTP %d", resp.StatusCode)
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return st, fmt.Errorf("simulator stats: %w", err)
	}
	return st, nil
}

func (s *simClient) reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.base+"/_sim/reset", nil)
	if err != nil {
		return fmt.Errorf("simulator reset: %w", err)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return fmt.Errorf("simulator reset: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("simulator reset: HTTP %d", resp.StatusCode)
	}
	return nil
}
