package deploy

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// The local trial (deploy/compose/docker-compose.yaml). No Docker engine
// runs here, so the file is decoded strictly (a key Compose would read
// differently, or a typo, fails) and checked against the repository: build
// paths, image pins, the binaries' flags, ports.
const composeFile = "compose/docker-compose.yaml"

type composeProject struct {
	Name     string                    `json:"name"`
	Services map[string]composeService `json:"services"`
	Volumes  map[string]struct{}       `json:"volumes"`
}

type composeService struct {
	Image      string   `json:"image,omitempty"`
	WorkingDir string   `json:"working_dir,omitempty"`
	Command    []string `json:"command,omitempty"`
	Build      *struct {
		Context    string            `json:"context"`
		Dockerfile string            `json:"dockerfile"`
		Args       map[string]string `json:"args,omitempty"`
	} `json:"build,omitempty"`
	Volumes     []string `json:"volumes,omitempty"`
	Ports       []string `json:"ports,omitempty"`
	NetworkMode string   `json:"network_mode,omitempty"`
	DependsOn   map[string]struct {
		Condition string `json:"condition"`
	} `json:"depends_on,omitempty"`
	Healthcheck *struct {
		Test     []string `json:"test"`
		Interval string   `json:"interval,omitempty"`
		Timeout  string   `json:"timeout,omitempty"`
		Retries  int      `json:"retries,omitempty"`
	} `json:"healthcheck,omitempty"`
	User        string            `json:"user,omitempty"`
	ReadOnly    bool              `json:"read_only,omitempty"`
	CapDrop     []string          `json:"cap_drop,omitempty"`
	SecurityOpt []string          `json:"security_opt,omitempty"`
	Environment map[string]string `json:"environment,omitempty"`
}

func loadCompose(t *testing.T) composeProject {
	t.Helper()
	data, err := os.ReadFile(composeFile)
	if err != nil {
		t.Fatal(err)
	}
	var p composeProject
	if err := yaml.UnmarshalStrict(data, &p); err != nil {
		t.Fatalf("%s: %v", composeFile, err)
	}
	return p
}

// flagsOf returns the flag names a command's -h output lists (Go's flag
// package prints "  -name ...").
func flagsOf(t *testing.T, bin string, args ...string) map[string]bool {
	t.Helper()
	out, _ := exec.Command(bin, append(args, "-h")...).CombinedOutput() // -h exits 0 or 2
	flags := map[string]bool{}
	for _, m := range regexp.MustCompile(`(?m)^\s+--?([a-z][a-z0-9-]*)`).FindAllStringSubmatch(string(out), -1) {
		flags[m[1]] = true
	}
	if len(flags) == 0 {
		t.Fatalf("%s %s -h lists no flags:\n%s", bin, strings.Join(args, " "), out)
	}
	return flags
}

func TestCompose(t *testing.T) {
	p := loadCompose(t)
	sim, bridge := p.Services["ldapsim"], p.Services["ldapbridge"]
	if len(p.Services) != 2 || sim.Image == "" || bridge.Build == nil {
		t.Fatalf("services %v; want ldapsim (an image) and ldapbridge (built)", p.Services)
	}
	dir := filepath.Dir(composeFile)

	// The bridge is the image deploy/Dockerfile builds, from the root.
	ctx := filepath.Join(dir, bridge.Build.Context)
	if abs, _ := filepath.Abs(ctx); abs != mustAbs(t, moduleRoot) {
		t.Errorf("ldapbridge build context %s is not the repository root", bridge.Build.Context)
	}
	if bridge.Build.Dockerfile != "deploy/Dockerfile" {
		t.Errorf("ldapbridge dockerfile %q; want deploy/Dockerfile", bridge.Build.Dockerfile)
	}
	if _, err := os.Stat(filepath.Join(ctx, bridge.Build.Dockerfile)); err != nil {
		t.Error(err)
	}

	// The simulators run from the source tree in the Dockerfile's Go
	// image, pinned the same way.
	df, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	ins, err := parseDockerfile(df)
	if err != nil {
		t.Fatal(err)
	}
	global, _, _ := stages(ins)
	v, _ := argDefault(global, "GO_VERSION")
	d, _ := argDefault(global, "GO_DIGEST")
	if want := "golang:" + v + "@" + d; sim.Image != want {
		t.Errorf("ldapsim image %s; want the Dockerfile's %s", sim.Image, want)
	}
	src := ""
	for _, vol := range sim.Volumes {
		if host, ctr, ok := strings.Cut(vol, ":"); ok && strings.HasPrefix(ctr, sim.WorkingDir+":") || ctr == sim.WorkingDir {
			src = host
		}
	}
	if abs, _ := filepath.Abs(filepath.Join(dir, src)); src == "" || abs != mustAbs(t, moduleRoot) {
		t.Errorf("ldapsim does not mount the repository at its working_dir %s (volumes %q)", sim.WorkingDir, sim.Volumes)
	}
	if len(sim.Command) < 3 || strings.Join(sim.Command[:3], " ") != "go run ./cmd/ldapsim" {
		t.Fatalf("ldapsim command %q; want go run ./cmd/ldapsim ...", sim.Command)
	}

	// Every flag exists in the binaries, and the addresses agree with
	// the published ports.
	simBin := filepath.Join(t.TempDir(), "ldapsim")
	build := exec.Command("go", "build", "-o", simBin, "./cmd/ldapsim")
	build.Dir = moduleRoot
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/ldapsim: %v\n%s", err, out)
	}
	simFlags := flagsOf(t, simBin)
	addr := map[string]string{}
	for _, a := range sim.Command[3:] {
		name, val, _ := strings.Cut(strings.TrimLeft(a, "-"), "=")
		if !strings.HasPrefix(a, "-") || !simFlags[name] {
			t.Errorf("ldapsim argument %q: ldapsim has no flag %q", a, name)
		}
		addr[name] = val
	}
	for _, f := range []string{"pd-addr", "p1-addr"} {
		if h, _, err := net.SplitHostPort(addr[f]); err != nil || !isLoopback(h) {
			t.Errorf("ldapsim -%s=%s: want a loopback address (the bridge talks plain HTTP only to loopback)", f, addr[f])
		}
	}
	if addr["out"] == "" {
		t.Error("ldapsim has no -out: the bridge's configuration is not written")
	}
	published := map[string]bool{}
	for _, p := range sim.Ports {
		parts := strings.Split(p, ":")
		published[parts[len(parts)-1]] = true
	}
	for _, f := range []string{"ldap-addr", "starttls-addr", "admin-addr"} {
		if _, port, err := net.SplitHostPort(addr[f]); err != nil || !published[port] {
			t.Errorf("ldapsim -%s=%s is not a published port (%q)", f, addr[f], sim.Ports)
		}
	}

	// The bridge reads the configuration ldapsim writes, in its network
	// namespace, once it is written.
	if bridge.NetworkMode != "service:ldapsim" {
		t.Errorf("ldapbridge network_mode %q; want service:ldapsim (the simulators are on its loopback)", bridge.NetworkMode)
	}
	if bridge.DependsOn["ldapsim"].Condition != "service_healthy" || sim.Healthcheck == nil {
		t.Error("ldapbridge does not wait for ldapsim to be healthy (its configuration written)")
	}
	if len(bridge.Command) != 3 || bridge.Command[0] != "serve" || bridge.Command[1] != "--config" ||
		bridge.Command[2] != filepath.Join(addr["out"], "bridge.yaml") {
		t.Errorf("ldapbridge command %q; want serve --config %s/bridge.yaml", bridge.Command, addr["out"])
	}
	if serveFlags := flagsOf(t, binary(t), "serve"); !serveFlags["config"] {
		t.Errorf("ldapbridge serve has no --config flag (%v)", serveFlags)
	}
	shared := false
	for _, sv := range sim.Volumes {
		for _, bv := range bridge.Volumes {
			sn, sc, _ := strings.Cut(sv, ":")
			bn, bc, _ := strings.Cut(bv, ":")
			shared = shared || (sn == bn && sc == addr["out"] && strings.HasPrefix(bc, addr["out"]))
		}
	}
	if !shared {
		t.Errorf("ldapbridge does not mount ldapsim's %s", addr["out"])
	}
	if !bridge.ReadOnly || !contains(bridge.CapDrop, "ALL") {
		t.Error("ldapbridge is not read_only with every capability dropped")
	}
	for _, vol := range append(append([]string{}, sim.Volumes...), bridge.Volumes...) {
		name, _, _ := strings.Cut(vol, ":")
		if !strings.HasPrefix(name, ".") && !strings.HasPrefix(name, "/") {
			if _, ok := p.Volumes[name]; !ok {
				t.Errorf("volume %s is not declared", name)
			}
		}
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestComposeStrict pins that a misspelt key fails the decoding.
func TestComposeStrict(t *testing.T) {
	for doc, ok := range map[string]bool{
		"services:\n  a:\n    image: x\n":      true,
		"services:\n  a:\n    imgae: x\n":      false,
		"services:\n  a:\n    command: x y\n":  false, // a string is run by a shell; the file uses lists
		"service:\n  a:\n    image: x\n":       false,
		"services:\n  a:\n    network: host\n": false,
	} {
		var p composeProject
		if err := yaml.UnmarshalStrict([]byte(doc), &p); (err == nil) != ok {
			t.Errorf("%q: error %v; want ok=%v", doc, err, ok)
		}
	}
}
