package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge/config"
	"github.com/ldapbridge/ldapbridge/internal/testkit"
)

// moduleRoot is the repository root, seen from this package's directory
// (where go test runs).
const moduleRoot = ".."

// placeholderRE finds the values an operator must fill in. Every shipped
// artefact marks them the same way, so the README, the comments and this
// test agree on what "fill in" means.
var placeholderRE = regexp.MustCompile(`REPLACE_WITH_[A-Z0-9_]+`)

// Placeholders and what the tests fill them with. The PEM ones are
// replaced by a generated certificate where a real file is needed.
const (
	phEnvironmentID = "REPLACE_WITH_PINGONE_ENVIRONMENT_ID"
	phClientID      = "REPLACE_WITH_PINGONE_CLIENT_ID"
	phClientSecret  = "REPLACE_WITH_PINGONE_CLIENT_SECRET"
	phTLSCert       = "REPLACE_WITH_PEM_CERTIFICATE_CHAIN"
	phTLSKey        = "REPLACE_WITH_PEM_PRIVATE_KEY"
)

var sampleValues = map[string]string{
	phEnvironmentID: "5caa81af-ec05-41ff-a709-c7378007a99c",
	phClientID:      "3ba0e0d8-0c8a-4f2e-9d4b-8a1f0a8c2d11",
	phClientSecret:  "sample-client-secret",
	phTLSCert:       "sample certificate",
	phTLSKey:        "sample key",
}

// fill replaces every placeholder in s with its sample value.
func fill(s string) string {
	return placeholderRE.ReplaceAllStringFunc(s, func(ph string) string {
		if v, ok := sampleValues[ph]; ok {
			return v
		}
		return ph // unknown: left in place, so a test notices
	})
}

// placeholdersIn returns the distinct placeholders in the files, sorted.
func placeholdersIn(t *testing.T, files ...string) []string {
	t.Helper()
	seen := map[string]bool{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range placeholderRE.FindAllString(string(data), -1) {
			seen[m] = true
		}
	}
	out := make([]string, 0, len(seen))
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// parseConfigErr parses a shipped configuration with its placeholders
// filled, as the bridge would on the machine it is written for (files
// are not read).
func parseConfigErr(text string, env map[string]string) (*config.Config, error) {
	return config.ParseWithOptions([]byte(fill(text)), "the configuration", config.ParseOptions{
		SkipFileChecks: true,
		LookupEnv: func(k string) (string, bool) {
			v, ok := env[k]
			return v, ok
		},
	})
}

// The ldapbridge binary, built once with the Dockerfile's own command.
var (
	buildOnce    sync.Once
	builtBinary  string
	builtVersion = "v9.8.7-deploytest"
	// What the REVISION build arg stamps (-X main.revision).
	builtRevision = "0123456789abcdef0123456789abcdef01234567"
	buildErr      error
	buildDir      string
)

// binary builds ldapbridge as deploy/Dockerfile does (same environment,
// flags and ldflags, version stamped) and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "ldapbridge-deploy-")
		if buildErr != nil {
			return
		}
		var df []byte
		df, buildErr = os.ReadFile("Dockerfile")
		if buildErr != nil {
			return
		}
		var cmd *buildCommand
		cmd, buildErr = dockerBuildCommand(df, map[string]string{"VERSION": builtVersion, "REVISION": builtRevision})
		if buildErr != nil {
			return
		}
		builtBinary = filepath.Join(buildDir, "ldapbridge")
		args := cmd.withOutput(builtBinary)
		c := exec.Command("go", args...)
		c.Dir = moduleRoot
		c.Env = append(os.Environ(), cmd.env...)
		var out bytes.Buffer
		c.Stdout, c.Stderr = &out, &out
		if err := c.Run(); err != nil {
			buildErr = &buildError{args: args, env: cmd.env, out: out.String(), err: err}
		}
	})
	if buildErr != nil {
		t.Fatalf("build ldapbridge with the Dockerfile's command: %v", buildErr)
	}
	return builtBinary
}

type buildError struct {
	args, env []string
	out       string
	err       error
}

func (e *buildError) Error() string {
	return strings.Join(e.env, " ") + " go " + strings.Join(e.args, " ") + ": " + e.err.Error() + "\n" + e.out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// runBinary runs the built binary and returns its combined output.
func runBinary(t *testing.T, env []string, args ...string) (string, error) {
	t.Helper()
	c := exec.Command(binary(t), args...)
	c.Env = append(os.Environ(), env...)
	out, err := c.CombinedOutput()
	return string(out), err
}

// selfSigned returns a PEM certificate and key for ldapbridge.example.
func selfSigned(t *testing.T) (certPEM, keyPEM []byte) {
	t.Helper()
	c := testkit.Cert(t, "ldapbridge.example")
	return c.CertPEM, c.KeyPEM
}

// fileContent is what the tests write for a mounted file: a generated
// certificate or key for TLS files, the sample value otherwise.
func fileContent(t *testing.T, name, value string) []byte {
	t.Helper()
	cert, key := tlsPair(t)
	switch {
	case strings.HasSuffix(name, ".crt") || value == phTLSCert:
		return cert
	case strings.HasSuffix(name, ".key") || value == phTLSKey:
		return key
	}
	return []byte(fill(value))
}

var (
	pairOnce         sync.Once
	pairCert, pairKy []byte
)

func tlsPair(t *testing.T) ([]byte, []byte) {
	pairOnce.Do(func() { pairCert, pairKy = selfSigned(t) })
	return pairCert, pairKy
}

// moduleDirsOf lists the top-level directories of this module that hold
// packages pkg depends on (pkg included).
func moduleDirsOf(t *testing.T, pkg string) []string {
	t.Helper()
	c := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.ImportPath}} {{.Module.Path}}{{end}}{{end}}", pkg)
	c.Dir = moduleRoot
	out, err := c.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	seen := map[string]bool{}
	var dirs []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		ip, mod, ok := strings.Cut(line, " ")
		if !ok || !strings.HasPrefix(ip, mod+"/") {
			continue
		}
		top, _, _ := strings.Cut(strings.TrimPrefix(ip, mod+"/"), "/")
		if !seen[top] {
			seen[top] = true
			dirs = append(dirs, top)
		}
	}
	if len(dirs) == 0 {
		t.Fatalf("go list found no package of this module under %s", pkg)
	}
	return dirs
}
