// Command ldapbench puts load on an LDAP server: simple binds on open
// connections (bind), connect-bind-close (connbind), RFC 3062 self
// password changes (passwd), a mix of the two (mixed), or many idle
// connections (idle). It prints ops/s, errors by result code and latency
// percentiles, as text or JSON; given the server's pid it adds the
// server's CPU time per 1,000 operations and its peak RSS, and given
// ldapsim's URL the backend requests per operation and the latency the
// server added.
//
// It refuses non-loopback targets unless -allow-remote, and every loop is
// bounded in time: by -d, and each operation by -timeout.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"crypto/tls"
	"crypto/x509"

	"github.com/ldapbridge/ldapbridge/bench/simenv"
	"github.com/ldapbridge/ldapbridge/bench/users"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	os.Exit(cli(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: ldapbench [flags]

Modes (-mode):
  bind      rebind on -c open connections, cycling through -users users
  connbind  connect, bind, unbind and close, on -c parallel loops
  passwd    RFC 3062 self change on -c connections, each bound as its own
            user, cycling the user through -passwords passwords
  mixed     rebinds, with a share (-passwd-share) of self changes
  idle      open -c connections (bound with -idle-bind), hold them for -d
  searchbind  a login as search-then-bind applications do it: on a
            connection bound as -service-dn, a subtree search under
            -search-base for (uid=<user>) asking for -search-attrs, then a
            bind as the DN found on a second connection (-rebind: on the
            same one, which binds as the service account again next time)

With -rate N the load is open-loop: request i is due at start + i/N and
goes to connection i mod -c (a busy connection sends it late); latency
counts from the due time. The report adds p99.9, the achieved rate and
the requests sent late (-late) or not at all.

  ldapbench summarize FILE.json...   print the reports as Markdown tables

Users are -dn with %d replaced by 0..users-1 (bench/users: ldapsim's
directory); their passwords are ldapsim's unless -password is given.

`

func cli(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "summarize" {
		return summarizeCmd(args[1:], stdout, stderr)
	}
	fs := flag.NewFlagSet("ldapbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { io.WriteString(stderr, usage); fs.PrintDefaults() }
	var s settings
	rawURL := fs.String("url", "ldap://127.0.0.1:3390", "target: ldap://host:port or ldaps://host:port")
	fs.StringVar(&s.mode, "mode", modeBind, "bind, connbind, passwd, mixed, idle or searchbind")
	fs.IntVar(&s.conns, "c", 16, "connections (parallel loops)")
	fs.DurationVar(&s.duration, "d", 5*time.Second, "measured duration (idle: how long to hold)")
	fs.DurationVar(&s.warmup, "warmup", time.Second, "load before measuring (caches fill, connections settle)")
	fs.DurationVar(&s.warmupMax, "warmup-max", 30*time.Second, "the warm-up goes on until every user has been used once, this long at most")
	fs.DurationVar(&s.t.timeout, "timeout", 10*time.Second, "deadline of each dial and operation")
	fs.DurationVar(&s.openTimeout, "open-timeout", time.Minute, "idle: time allowed to open every connection")
	fs.IntVar(&s.users, "users", 1000, "users, dealt out to the connections")
	fs.StringVar(&s.dn, "dn", users.PingDirectoryDN, "bind DN template (%d: user index) or one DN")
	fs.StringVar(&s.password, "password", "", "one password for every user (default: ldapsim's generated passwords)")
	fs.IntVar(&s.passwords, "passwords", 2, fmt.Sprintf("passwd, mixed: passwords each user cycles through (2..%d); more than the history length of the policy", users.MaxPasswords))
	fs.Float64Var(&s.passwdShare, "passwd-share", 0.1, "mixed: share of operations that are password changes")
	fs.BoolVar(&s.idleBind, "idle-bind", false, "idle: bind each connection before holding it")
	fs.BoolVar(&s.t.startTLS, "starttls", false, "upgrade every connection with StartTLS")
	insecure := fs.Bool("insecure", false, "do not verify the server's certificate")
	caFile := fs.String("cacert", "", "PEM file of CA certificates to trust")
	fs.BoolVar(&s.t.ppolicy, "ppolicy", false, "send the password policy request control")
	allowRemote := fs.Bool("allow-remote", false, "allow a target that is not a loopback address")
	fs.IntVar(&s.pid, "pid", 0, "pid of the server under test: report its CPU and RSS from /proc")
	fs.StringVar(&s.sim, "sim", "", "ldapsim base URL: report backend requests per operation and backend latency")
	fs.IntVar(&s.dialers, "dialers", 64, "connections opened in parallel")
	fs.IntVar(&s.rate, "rate", 0, "open loop: send this many requests per second, spread over the -c connections (0: closed loop, each connection as fast as it is answered)")
	fs.DurationVar(&s.late, "late", time.Millisecond, "-rate: a request sent more than this after its scheduled time counts as late")
	fs.DurationVar(&s.backendLatency, "backend-latency", 0, "the backend's configured latency (ldapsim -latency): the report adds p99 minus it")
	fs.StringVar(&s.serviceDN, "service-dn", simenv.SearcherDN, "searchbind: the service account that searches")
	fs.StringVar(&s.servicePW, "service-password", simenv.SearcherPassword, "searchbind: its password")
	fs.StringVar(&s.searchBase, "search-base", "", "searchbind: where to search (default: -dn without its first RDN)")
	fs.StringVar(&s.searchAttr, "search-attr", "", "searchbind: the attribute matched with the user's name (default: -dn's first RDN's attribute)")
	searchAttrs := fs.String("search-attrs", "1.1", "searchbind: comma-separated attributes to ask for (1.1: none)")
	fs.BoolVar(&s.rebind, "rebind", false, "searchbind: bind the user on the searching connection (then rebind it as the service account), not on a second one")
	label := fs.String("label", "", "a label carried into the report (the summary groups by it)")
	jsonOut := fs.String("json", "", "write the report as JSON to this file (\"-\": standard output, instead of text)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "ldapbench: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	for _, a := range strings.Split(*searchAttrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			s.searchAttrs = append(s.searchAttrs, a)
		}
	}
	t, err := parseTarget(*rawURL, *allowRemote)
	if err == nil {
		t.startTLS, t.timeout, t.ppolicy = s.t.startTLS, s.t.timeout, s.t.ppolicy
		s.t = t
		err = s.check()
	}
	if err == nil && (s.t.startTLS || s.t.ldaps || *caFile != "") {
		// The same trust serves the LDAP target and an ldapsim -tls.
		s.t.tls, err = tlsConfig(*insecure, *caFile)
		s.simTLS = s.t.tls
	}
	if err != nil {
		fmt.Fprintf(stderr, "ldapbench: %v\n", err)
		return 2
	}
	s.t.abortive = s.mode == modeConnBind
	raiseFileLimit()

	// A hard stop beyond which nothing may run, whatever a server does.
	limit := max(s.warmup, s.warmupMax) + s.duration + 2*s.t.timeout + 10*time.Second
	if s.mode == modeIdle {
		limit = s.openTimeout + s.duration + 2*s.t.timeout + 10*time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	r, err := run(ctx, &s)
	if r == nil {
		fmt.Fprintf(stderr, "ldapbench: %v\n", err)
		return 1
	}
	rep := buildReport(&s, *rawURL, r)
	rep.Label = *label
	if err != nil {
		rep.Notes = append(rep.Notes, err.Error())
	}
	switch *jsonOut {
	case "":
		writeText(stdout, rep)
	case "-":
		if werr := writeJSON(stdout, rep); werr != nil {
			fmt.Fprintf(stderr, "ldapbench: %v\n", werr)
			return 1
		}
	default:
		f, ferr := os.Create(*jsonOut)
		if ferr == nil {
			ferr = writeJSON(f, rep)
			if cerr := f.Close(); ferr == nil {
				ferr = cerr
			}
		}
		if ferr != nil {
			fmt.Fprintf(stderr, "ldapbench: write %s: %v\n", *jsonOut, ferr)
			return 1
		}
		writeText(stdout, rep)
	}
	if err != nil {
		return 1
	}
	return 0
}

// check validates the settings that parseTarget does not.
func (s *settings) check() error {
	var problems []string
	switch s.mode {
	case modeBind, modeConnBind, modePasswd, modeMixed, modeIdle, modeSearchBind:
	default:
		problems = append(problems, fmt.Sprintf("mode %q: want bind, connbind, passwd, mixed, idle or searchbind", s.mode))
	}
	problems = append(problems, checkSearchBind(s)...)
	if s.conns < 1 || s.conns > 100000 {
		problems = append(problems, "-c must be 1 to 100000")
	}
	if s.duration <= 0 || s.duration > time.Hour {
		problems = append(problems, "-d must be more than 0 and at most 1h")
	}
	if s.warmup < 0 || s.warmup > 10*time.Minute {
		problems = append(problems, "-warmup must be 0 to 10m")
	}
	if s.warmupMax < 0 || s.warmupMax > 10*time.Minute {
		problems = append(problems, "-warmup-max must be 0 to 10m")
	}
	if s.t.timeout <= 0 || s.t.timeout > 5*time.Minute {
		problems = append(problems, "-timeout must be more than 0 and at most 5m")
	}
	if s.openTimeout <= 0 || s.openTimeout > 30*time.Minute {
		problems = append(problems, "-open-timeout must be more than 0 and at most 30m")
	}
	if s.users < 1 {
		problems = append(problems, "-users must be at least 1")
	}
	if strings.Count(s.dn, "%") > 1 || (strings.Contains(s.dn, "%") && !strings.Contains(s.dn, "%d")) {
		problems = append(problems, "-dn may hold one %d and no other %")
	}
	if s.dialers < 1 || s.dialers > 1024 {
		problems = append(problems, "-dialers must be 1 to 1024")
	}
	if s.passwdShare < 0 || s.passwdShare > 1 {
		problems = append(problems, "-passwd-share must be 0 to 1")
	}
	if s.mode == modePasswd || s.mode == modeMixed {
		if s.password != "" {
			problems = append(problems, s.mode+" changes passwords: it needs ldapsim's generated passwords, not -password")
		}
		if s.passwords < 2 || s.passwords > users.MaxPasswords {
			problems = append(problems, fmt.Sprintf("-passwords must be 2 to %d", users.MaxPasswords))
		}
		if s.users < s.conns || !strings.Contains(s.dn, "%d") {
			problems = append(problems, s.mode+" needs a -dn template with %d and at least as many users as connections (no two connections change one user's password)")
		}
	}
	if s.backendLatency < 0 || s.backendLatency > time.Minute {
		problems = append(problems, "-backend-latency must be 0 to 1m")
	}
	problems = append(problems, checkRate(s)...)
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

func tlsConfig(insecure bool, caFile string) (*tls.Config, error) {
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: insecure} //nolint:gosec // a benchmark flag, off by default
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("read CA file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
		}
		tc.RootCAs = pool
	}
	// Session resumption keeps connbind's handshakes cheap for the client
	// side; the server still does its full share.
	tc.ClientSessionCache = tls.NewLRUClientSessionCache(1024)
	return tc, nil
}

// raiseFileLimit lifts the soft limit on open files to the hard one (the
// idle mode opens thousands of connections). Go does this itself since
// 1.19; doing it here keeps the tool right when built otherwise.
func raiseFileLimit() {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}
