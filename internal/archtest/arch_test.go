// Package archtest holds the architecture test: the layering of
// docs/architecture.md, checked on the real import graph.
package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/ldapbridge/ldapbridge"

// pkg is the part of `go list -json` the test reads.
type pkg struct {
	ImportPath string
	Imports    []string // direct imports, non-test files
	Deps       []string // transitive imports, non-test files
}

// listPackages runs `go list -deps=false -json ./...` from the module root.
func listPackages(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", module+"/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	var pkgs []pkg
	dec := json.NewDecoder(out)
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if len(pkgs) < 10 {
		t.Fatalf("go list found %d packages; the module has more", len(pkgs))
	}
	return pkgs
}

// under reports whether path is dir or a package below it.
func under(path, dir string) bool {
	dir = module + "/" + dir
	return path == dir || strings.HasPrefix(path, dir+"/")
}

// rule forbids packages under from to depend on a package that matches
// forbidden: directly, or through a package of this module. (A third-party
// library may use what a layer must not: go-ldap's NTLM support imports
// net/http. What counts is our code.)
type rule struct {
	from      string
	forbidden func(dep string) bool
	why       string
}

func inModule(dir string) func(string) bool {
	return func(dep string) bool { return under(dep, dir) }
}

func is(path string) func(string) bool {
	return func(dep string) bool { return dep == path }
}

var rules = []rule{
	{"bridge", inModule("ldapfront"), "the core must not know the LDAP wire"},
	{"bridge", inModule("restback"), "the core must not know the backends"},
	{"bridge", is("net/http"), "the core must not know HTTP"},
	{"bridge", inModule("config"), "the core must not know the configuration file"},
	{"restback", inModule("ldapfront"), "a backend must not know the LDAP wire"},
	{"ldapfront", inModule("restback"), "the LDAP front end must not know the backends"},
	{"ldapfront", is("net/http"), "the LDAP front end must not know HTTP"},
	{"pwcontrol", inModule("ldapfront"), "the control codec is neutral"},
	{"pwcontrol", inModule("restback"), "the control codec is neutral"},
	{"search", inModule("ldapfront"), "the filter model is protocol-neutral"},
	{"search", inModule("restback"), "the filter model is protocol-neutral"},
	{"search", inModule("config"), "the filter model is protocol-neutral"},
	{"search", is("net/http"), "the filter model is protocol-neutral"},
	{"restback/sim", anyOf(inModule("restback/pingone"), inModule("restback/pingdirectory"), inModule("restback/transport")),
		"a simulator that shared the client's code would share its mistakes"},
	{"internal/ber", notStandard, "the BER primitives serve every layer: standard library only"},
}

func anyOf(fs ...func(string) bool) func(string) bool {
	return func(dep string) bool {
		for _, f := range fs {
			if f(dep) {
				return true
			}
		}
		return false
	}
}

// notStandard matches an import outside the standard library (its first
// element has a dot: a module path).
func notStandard(dep string) bool {
	first, _, _ := strings.Cut(dep, "/")
	return strings.Contains(first, ".")
}

// TestLayering fails when a package depends on what its layer must not
// know (docs/architecture.md).
func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	byPath := make(map[string]pkg, len(pkgs))
	for _, p := range pkgs {
		byPath[p.ImportPath] = p
	}
	seen := map[string]bool{}
	for _, p := range pkgs {
		// p and every package of this module it depends on.
		ours := []pkg{p}
		for _, d := range p.Deps {
			if dp, ok := byPath[d]; ok {
				ours = append(ours, dp)
			}
		}
		for _, r := range rules {
			if !under(p.ImportPath, r.from) {
				continue
			}
			seen[r.from] = true
			for _, o := range ours {
				for _, imp := range o.Imports {
					if r.forbidden(imp) {
						t.Errorf("%s depends on %s (imported by %s): %s", p.ImportPath, imp, o.ImportPath, r.why)
					}
				}
			}
		}
	}
	for _, r := range rules {
		if !seen[r.from] {
			t.Errorf("no package under %s: the rule about it checks nothing", r.from)
		}
	}
}

// TestRulesCatch makes sure the check above can fail: a package graph that
// breaks each rule is caught.
func TestRulesCatch(t *testing.T) {
	for _, r := range rules {
		bad := []string{module + "/ldapfront", module + "/restback/pingone", "net/http", module + "/config"}
		caught := false
		for _, d := range bad {
			if r.forbidden(d) {
				caught = true
			}
		}
		if !caught {
			t.Errorf("rule for %s (%s) catches none of %v", r.from, r.why, bad)
		}
	}
}
