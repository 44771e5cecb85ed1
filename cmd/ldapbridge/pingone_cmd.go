package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/generation"
	"github.com/ldapbridge/ldapbridge/restback/pingone"
)

const pingoneUsage = `usage: ldapbridge pingone set-gateway --config FILE (--dn DN ... | --file FILE) [flags]

Points PingOne users at an LDAP gateway (password.setGateway+json): their
password authority becomes the gateway. Each DN is resolved through the
configured route and its PingOne backend; the gateway comes from the route's
"gateway" section unless --gateway-id and --user-type-id are given.

With --unset-password it sends the empty body {} instead, which the Update
Password (LDAP Gateway) page documents as the way to unset the password
PingOne holds (status NO_PASSWORD): with PING_ONE as the gateway's password
authority, the password then migrates from the LDAP directory at the user's
next sign-on. No gateway is needed for it.

flags:
`

// stringList is a repeatable flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func cmdPingOne(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "set-gateway" {
		fmt.Fprint(stderr, pingoneUsage)
		return 2
	}
	fs := flag.NewFlagSet("pingone set-gateway", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, pingoneUsage); fs.PrintDefaults() }
	path := fs.String("config", "", "configuration file (YAML)")
	file := fs.String("file", "", "file of DNs, one per line (# starts a comment; - is standard input)")
	dryRun := fs.Bool("dry-run", false, "resolve every user and show what would change, change nothing")
	gwID := fs.String("gateway-id", "", "gateway id (default: the route's gateway.id)")
	userType := fs.String("user-type-id", "", "gateway user type id (default: the route's gateway.user_type_id)")
	unset := fs.Bool("unset-password", false, "send {} to unset the password PingOne holds (Update Password (LDAP Gateway)), instead of setting a gateway")
	var dnFlags, corr stringList
	fs.Var(&dnFlags, "dn", "a DN (repeatable)")
	fs.Var(&corr, "correlation", "correlation attribute NAME=TEMPLATE, e.g. uid={uid} (repeatable; default: the route's)")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if *path == "" || (len(dnFlags) == 0 && *file == "") {
		fs.Usage()
		return 2
	}
	dns := append([]string(nil), dnFlags...)
	if *file != "" {
		more, err := readDNFile(*file)
		if err != nil {
			fmt.Fprintf(stderr, "ldapbridge pingone set-gateway: %v\n", err)
			return 1
		}
		dns = append(dns, more...)
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintf(stderr, "ldapbridge pingone set-gateway: %v\n", err)
		return 1
	}
	override := (*bridge.Gateway)(nil)
	if *unset && (*gwID != "" || *userType != "" || len(corr) > 0) {
		fmt.Fprintln(stderr, "ldapbridge pingone set-gateway: --unset-password takes no gateway (--gateway-id, --user-type-id, --correlation)")
		return 2
	}
	if *gwID != "" || *userType != "" || len(corr) > 0 {
		if *gwID == "" || *userType == "" {
			fmt.Fprintln(stderr, "ldapbridge pingone set-gateway: --gateway-id and --user-type-id go together")
			return 2
		}
		override = &bridge.Gateway{ID: *gwID, UserTypeID: *userType, Correlation: map[string]string{}}
		for _, c := range corr {
			k, v, ok := strings.Cut(c, "=")
			if !ok || k == "" {
				fmt.Fprintf(stderr, "ldapbridge pingone set-gateway: --correlation %q is not NAME=TEMPLATE\n", c)
				return 2
			}
			override.Correlation[k] = v
		}
	}

	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	backends, err := buildBackends(cfg, log)
	if err != nil {
		fmt.Fprintf(stderr, "ldapbridge pingone set-gateway: %v\n", err)
		return 1
	}
	router, err := bridge.NewRouter(generation.Routes(cfg))
	if err != nil {
		fmt.Fprintf(stderr, "ldapbridge pingone set-gateway: %v\n", err)
		return 1
	}

	// Group the DNs by route, keeping their order, so each group goes to
	// its backend with its route's gateway.
	type group struct {
		client *pingone.Client
		gw     bridge.Gateway
		dns    []string
	}
	var order []string
	groups := map[string]*group{}
	total := pingone.BatchSummary{DryRun: *dryRun}
	reject := func(dn, why string) {
		total.Total++
		total.Failed++
		total.Failures = append(total.Failures, pingone.BatchFailure{DN: dn, Reason: why})
		fmt.Fprintf(stdout, "failed\t%s\t%s\n", dn, why)
	}
	for _, dn := range dns {
		pdn, err := bridge.ParseDN(dn)
		if err != nil || len(pdn.RDNs) == 0 {
			reject(dn, "not a DN")
			continue
		}
		rt, ok := router.Match(pdn)
		if !ok {
			reject(dn, "no route serves this DN")
			continue
		}
		client, ok := backends[rt.Backend].(*pingone.Client)
		if !ok {
			reject(dn, fmt.Sprintf("route %q goes to backend %q, which is not PingOne", rt.Base, rt.Backend))
			continue
		}
		gw := override
		if gw == nil {
			gw = rt.Options.Gateway
		}
		if *unset {
			gw = &bridge.Gateway{} // not sent: {} unsets the password
		}
		if gw == nil {
			reject(dn, fmt.Sprintf("route %q has no gateway; give --gateway-id and --user-type-id", rt.Base))
			continue
		}
		g, ok := groups[rt.Base]
		if !ok {
			g = &group{client: client, gw: *gw}
			groups[rt.Base] = g
			order = append(order, rt.Base)
		}
		g.dns = append(g.dns, dn)
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	for _, base := range order {
		g := groups[base]
		var sum pingone.BatchSummary
		if *unset {
			sum = pingone.UnsetPasswordBatch(ctx, g.client, g.dns, *dryRun, stdout)
		} else {
			sum = pingone.SetGatewayBatch(ctx, g.client, g.dns, g.gw, *dryRun, stdout)
		}
		total.Total += sum.Total
		total.Changed += sum.Changed
		total.Failed += sum.Failed
		total.Failures = append(total.Failures, sum.Failures...)
	}
	verb := "changed"
	if *dryRun {
		verb = "would change (dry run)"
	}
	fmt.Fprintf(stdout, "summary: %d DNs, %d %s, %d failed\n", total.Total, total.Changed, verb, total.Failed)
	for _, f := range total.Failures {
		fmt.Fprintf(stdout, "  failed %s: %s\n", f.DN, f.Reason)
	}
	if total.Failed > 0 {
		return 1
	}
	return 0
}

func readDNFile(path string) ([]string, error) {
	var r io.Reader = os.Stdin
	if path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, fmt.Errorf("read DNs: %w", err)
		}
		defer f.Close()
		r = f
	}
	var out []string
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		out = append(out, line)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read DNs from %s: %w", path, err)
	}
	return out, nil
}
