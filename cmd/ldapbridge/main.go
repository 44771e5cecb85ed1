// Command ldapbridge serves LDAP in front of the PingDirectory Directory
// REST API and the PingOne Platform API.
package main

import (
	"fmt"
	"io"
	"os"
	"runtime/debug"
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

const usage = `usage: ldapbridge <command> [flags]

commands:
  serve --config FILE          run the bridge
  check-config --config FILE   validate a configuration: "ok", or every problem and exit 1
  demo [flags]                 run the bridge in front of the built-in simulators, with sample users
  pingone set-gateway ...      point PingOne users at an LDAP gateway (see "ldapbridge pingone -h")
  version                      print the version
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the exit, so tests can drive it.
func run(args []string, stdout, stderr io.Writer) int {
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
	case "pingone":
		return cmdPingOne(args[1:], stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, versionLine())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "ldapbridge: unknown command %q\n%s", args[0], usage)
	return 2
}
