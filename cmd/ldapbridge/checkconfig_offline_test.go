package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// shippedConfig is the ldapbridge.yaml of a shipped ConfigMap, with its
// documented placeholders filled in as an operator would.
func shippedConfig(t *testing.T, manifest string) string {
	t.Helper()
	raw, err := os.ReadFile(manifest)
	if err != nil {
		t.Fatal(err)
	}
	var cm struct {
		Data map[string]string `yaml:"data"`
	}
	if err := yaml.Unmarshal(raw, &cm); err != nil {
		t.Fatalf("%s: %v", manifest, err)
	}
	text, ok := cm.Data["ldapbridge.yaml"]
	if !ok {
		t.Fatalf("%s has no ldapbridge.yaml", manifest)
	}
	text = strings.NewReplacer(
		"REPLACE_WITH_PINGONE_ENVIRONMENT_ID", "0b7f0a7e-4b8e-4d3a-9c59-5b1b0e2f9a11",
		"REPLACE_WITH_PINGONE_CLIENT_ID", "4c1d2e3f-0000-4000-8000-000000000001",
	).Replace(text)
	path := filepath.Join(t.TempDir(), "ldapbridge.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// check-config --offline validates a file whose secret files are not
// mounted (the shipped ConfigMaps, on a workstation) and lists what it
// skipped; without it the same file fails on the missing files; offline
// still reports every other problem.
func TestCheckConfigOffline(t *testing.T) {
	for _, manifest := range []string{
		"../../deploy/kubernetes/standalone/configmap.yaml",
		"../../deploy/kubernetes/sidecar/configmap.yaml",
	} {
		t.Run(filepath.Base(filepath.Dir(manifest)), func(t *testing.T) {
			path := shippedConfig(t, manifest)

			out, code := runBin(t, "check-config", path)
			if code != 1 || !strings.Contains(out, "no such file or directory") {
				t.Errorf("check-config without --offline: exit %d, want 1 naming the missing files\n%s", code, out)
			}

			out, code = runBin(t, "check-config", "--offline", path)
			if code != 0 || !strings.HasPrefix(out, "ok (offline: ") || !strings.Contains(out, "skipped backends: not built") {
				t.Fatalf("check-config --offline: exit %d\n%s", code, out)
			}
			for _, l := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
				if !strings.HasPrefix(l, "  skipped ") {
					t.Errorf("line %q is not a skipped check", l)
				}
			}
			if !strings.Contains(out, "secret file was not read") && !strings.Contains(out, "certificate and key files were not read") {
				t.Errorf("--offline names none of the files it did not read:\n%s", out)
			}

			// A real mistake is still a mistake offline.
			raw, _ := os.ReadFile(path)
			if err := os.WriteFile(path, append(raw, []byte("\nbogus_key: 1\n")...), 0o600); err != nil {
				t.Fatal(err)
			}
			out, code = runBin(t, "check-config", "--offline", path)
			if code != 1 || !strings.Contains(out, "bogus_key") {
				t.Errorf("check-config --offline with an unknown key: exit %d\n%s", code, out)
			}
		})
	}
}

// The README's check-config example works on a clean machine, as written.
func TestReadmeCheckConfigExample(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var line string
	for _, l := range strings.Split(string(raw), "\n") {
		if strings.Contains(l, "check-config --offline deploy/ldapbridge.example.yaml") {
			line = l
			break
		}
	}
	if line == "" {
		t.Fatal("README.md shows no check-config --offline example")
	}
	line, _, _ = strings.Cut(line, "#")
	words := strings.Fields(line)
	// ENV=value ./ldapbridge check-config ... : run the built binary from
	// the repository's root with that environment.
	var env []string
	for len(words) > 0 && strings.Contains(words[0], "=") {
		env, words = append(env, words[0]), words[1:]
	}
	if len(words) < 2 || words[0] != "./ldapbridge" {
		t.Fatalf("README example %q is not ./ldapbridge ...", line)
	}
	cmd := exec.Command(binPath, words[1:]...)
	cmd.Dir = "../.."
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "ok") {
		t.Fatalf("README example %q: %v\n%s", line, err, out)
	}
}
