package main

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		{"1234 (ldapbridge) S 1 1234 1234 0 -1 4194560 2 0 0 0 150 25 0 0 20 0 8 0 100 0 0", 1750 * time.Millisecond, false},
		{"7 (a b) c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0 0 20 0 1 0 5 0 0", 70 * time.Millisecond, false},
		{"7 (x) R 1 2", 0, true},
		{"no parenthesis", 0, true},
		{"7 (x) R 1 7 7 0 -1 0 0 0 0 0 -3 4 0", 0, true},
		{"7 (x) R 1 7 7 0 -1 0 0 0 0 0 9000000000000000000 9000000000000000000 0", 0, true},
	} {
		got, err := parseStat([]byte(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseStat(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func TestParseStatus(t *testing.T) {
	hwm, rss := parseStatus([]byte("Name:\tx\nVmPeak:\t  9999 kB\nVmHWM:\t    2048 kB\nVmRSS:\t    1024 kB\nThreads: 4\n"))
	if hwm != 2048 || rss != 1024 {
		t.Errorf("hwm %d rss %d", hwm, rss)
	}
}

// readProc of this very process gives a plausible sample.
func TestReadProcSelf(t *testing.T) {
	s, err := readProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if s.rssKiB <= 0 || s.hwmKiB < s.rssKiB || s.cpu < 0 {
		t.Errorf("sample %+v", s)
	}
	if _, err := readProc(-1); err == nil {
		t.Error("no error for pid -1")
	}
}

// FuzzParseProc: /proc text never makes the parsers panic, and a time
// they accept is not negative.
func FuzzParseProc(f *testing.F) {
	f.Add([]byte("1234 (ldapbridge) S 1 1234 1234 0 -1 4194560 2 0 0 0 150 25 0 0 20 0 8 0 100 0 0"))
	f.Add([]byte("7 (a b) c)) R 1 7 7 0 -1 0 0 0 0 0 3 4 0"))
	f.Add([]byte("7 (x) R 1 7 7 0 -1 0 0 0 0 0 9000000000000000000 9000000000000000000 0"))
	f.Add([]byte("VmHWM:\t    2048 kB\nVmRSS:\t1024 kB\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		if d, err := parseStat(b); err == nil && d < 0 {
			t.Fatalf("negative CPU time %v", d)
		}
		parseStatus(b)
	})
}

func TestParseProcStat(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration
		err  bool
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{"cpu  100 5 50 9000 40 3 2 10 7 0\ncpu0 1 2 3 4 5 6 7 8\n", 1700 * time.Millisecond, false},
		{"cpu  1 0 1 5 5 0 0 0\n", 20 * time.Millisecond, false},
		{"cpu0 1 2 3 4 5 6 7 8\n", 0, true},
		{"cpu  1 2 3\n", 0, true},
		{"cpu  1 x 3 4 5 6 7 8\n", 0, true},
		{"cpu  1 -2 3 4 5 6 7 8\n", 0, true},
	} {
		got, err := parseProcStat([]byte(tc.in))
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("parseProcStat(%q) = %v, %v; want %v, err %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}
