// Command ldapbridge serves LDAP in front of the PingDirectory Directory
// REST API and the PingOne Platform API.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = ""

func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}

// envConfig names the environment variable that gives the configuration
// file when --config is not given, so that a container or a unit file sets
// it once for every command.
const envConfig = "LDAPBRIDGE_CONFIG"

const usage = `usage: ldapbridge <command> [flags]

ldapbridge serves LDAP (simple Bind, Password Modify, WhoAmI, StartTLS,
userPassword modifies) in front of the PingDirectory Directory REST API and
the PingOne Platform API.

commands:
  serve          run the bridge with a configuration file
  check-config   validate a configuration file: "ok", or every problem and exit 1
  demo           run the bridge in front of built-in simulators, with sample users
  hash-password  print a password hash for the configuration's accounts section
  pingone        pingone set-gateway: point PingOne users at an LDAP gateway
  version        print the version
  help           print this help (also -h, --help); "help COMMAND" = "COMMAND -h"

environment:
  ` + envConfig + `  the configuration file when --config (or check-config's FILE)
                     is not given: serve, check-config, pingone set-gateway

exit status: 0 success, 1 failure, 2 bad usage.
Run "ldapbridge COMMAND -h" for one command. Each command in full:
`

// commands lists the subcommands whose help "ldapbridge -h" includes.
var commands = [][]string{
	{"serve"}, {"check-config"}, {"demo"}, {"hash-password"}, {"pingone", "set-gateway"}, {"version"},
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run is main without the exit, so tests can drive it.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return cmdServe(args[1:], stdout, stderr)
	case "check-config":
		return cmdCheckConfig(args[1:], stdout, stderr)
	case "demo":
		return cmdDemo(args[1:], stdout, stderr)
	case "hash-password":
		return cmdHashPassword(args[1:], stdin, stdout, stderr)
	case "pingone":
		return cmdPingOne(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		return cmdVersion(args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		if args[0] == "help" && len(args) > 1 {
			// "ldapbridge help serve" is "ldapbridge serve -h".
			return run(append(args[1:len(args):len(args)], "-h"), stdin, stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		for _, c := range commands {
			// Each command's own help, so that the two never disagree.
			var b bytes.Buffer
			run(append(c, "-h"), nil, &b, io.Discard)
			fmt.Fprintf(stdout, "\n%s", indent(b.String()))
		}
		return 0
	}
	fmt.Fprintf(stderr, "ldapbridge: unknown command %q\n%s", args[0], usage)
	return 2
}

var versionHelp = cmdHelp{
	usage: "ldapbridge version",
	text:  "Prints the version, the Go version and the platform.\n",
}

func cmdVersion(args []string, stdout, stderr io.Writer) int {
	fs := newFlags("version", stderr)
	pos, code, ok := parseFlags(fs, versionHelp, args, stdout)
	if !ok {
		return code
	}
	if len(pos) > 0 {
		return usageError(stderr, "version", "takes no arguments")
	}
	fmt.Fprintln(stdout, versionLine())
	return 0
}

// cmdHelp is what "ldapbridge COMMAND -h" prints before the flags.
type cmdHelp struct {
	usage string // the synopsis, without "usage: "
	text  string // what the command does; ends with a newline
}

// newFlags makes a subcommand's flag set: a bad flag is reported on
// stderr with a pointer to -h; -h itself is handled by parseFlags.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	// The flag package calls Usage on -h as well as on a bad flag:
	// parseFlags tells them apart and says what to do.
	fs.Usage = func() {}
	return fs
}

// parseFlags parses args, flags and positional arguments in any order.
// When ok is false the command returns code at once: 0 after printing the
// help on -h or --help, 2 after a usage error (already reported).
func parseFlags(fs *flag.FlagSet, h cmdHelp, args []string, stdout io.Writer) (pos []string, code int, ok bool) {
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				writeHelp(stdout, fs, h)
				return nil, 0, false
			}
			fmt.Fprintf(fs.Output(), "run \"ldapbridge %s -h\" for help\n", fs.Name())
			return nil, 2, false
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, 0, true
		}
		if len(args) > len(rest) && args[len(args)-len(rest)-1] == "--" {
			// Everything after "--" is positional.
			return append(pos, rest...), 0, true
		}
		pos, args = append(pos, rest[0]), rest[1:]
	}
}

// usageError reports bad usage of a command and returns exit status 2.
func usageError(stderr io.Writer, name, msg string) int {
	fmt.Fprintf(stderr, "ldapbridge %s: %s\nrun \"ldapbridge %s -h\" for help\n", name, msg, name)
	return 2
}

// writeHelp prints the synopsis, the description and every flag.
func writeHelp(w io.Writer, fs *flag.FlagSet, h cmdHelp) {
	fmt.Fprintf(w, "usage: %s\n\n%s", h.usage, h.text)
	first := true
	fs.VisitAll(func(f *flag.Flag) {
		if first {
			fmt.Fprint(w, "\nflags:\n")
			first = false
		}
		arg, use := flag.UnquoteUsage(f)
		if arg == "value" {
			arg = "VALUE"
		}
		name := "--" + f.Name
		if arg != "" {
			name += " " + arg
		}
		fmt.Fprintf(w, "  %s\n      %s", name, use)
		if f.DefValue != "" && f.DefValue != "false" && f.DefValue != "[]" {
			fmt.Fprintf(w, " (default %q)", f.DefValue)
		}
		fmt.Fprintln(w)
	})
}

func indent(s string) string {
	lines := strings.SplitAfter(s, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "" {
			lines[i] = "  " + l
		}
	}
	return strings.Join(lines, "")
}

// configFlag defines --config with $LDAPBRIDGE_CONFIG as its default.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", os.Getenv(envConfig), "configuration `FILE` (YAML); the default is $"+envConfig)
}
