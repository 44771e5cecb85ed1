package deploy

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// addFiles seeds a fuzzer with the shipped files matching the patterns.
func addFiles(f *testing.F, patterns ...string) {
	f.Helper()
	n := 0
	for _, p := range patterns {
		names, err := filepath.Glob(p)
		if err != nil {
			f.Fatal(err)
		}
		for _, name := range names {
			data, err := os.ReadFile(name)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
			n++
		}
	}
	if n == 0 {
		f.Fatalf("no seed files match %q", patterns)
	}
}

// FuzzDecodeManifests: any input is decoded or refused, never a panic;
// what is accepted is at least one typed object.
func FuzzDecodeManifests(f *testing.F) {
	addFiles(f, "kubernetes/*/*.yaml")
	f.Add([]byte("---\n---\n"))
	f.Add([]byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: {a: b, a: c}\n"))
	dec := newManifestDecoder()
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := decodeManifests(dec, data)
		if err == nil && len(objs) == 0 {
			t.Fatal("accepted with no object")
		}
		for _, o := range objs {
			if o == nil || o.GetObjectKind().GroupVersionKind().Kind == "" {
				t.Fatalf("accepted an object without a kind: %#v", o)
			}
		}
	})
}

// FuzzParseUnit: the unit parser never panics, and what it accepts has
// well-formed keys and single-line values.
func FuzzParseUnit(f *testing.F) {
	addFiles(f, "systemd/*.service")
	f.Add([]byte("[A]\nB=\\\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		u, err := parseUnit(data)
		if err != nil {
			return
		}
		for sec, kv := range u {
			if sec == "" {
				t.Fatal("empty section name")
			}
			for k, vs := range kv {
				if k == "" || strings.ContainsAny(k, "= \t\n") {
					t.Fatalf("bad key %q", k)
				}
				for _, v := range vs {
					if strings.Contains(v, "\n") {
						t.Fatalf("value with a newline: %q", v)
					}
				}
			}
		}
		if d, err := systemdDuration(string(data)); err == nil && d < 0 {
			t.Fatalf("negative duration %v", d)
		}
	})
}

// FuzzDockerfile: the Dockerfile parser, stage splitter, shell splitter
// and build-command extraction never panic.
func FuzzDockerfile(f *testing.F) {
	addFiles(f, "Dockerfile")
	f.Add([]byte("FROM a AS b\nARG V\nRUN X=1 go build -ldflags \"-X main.version=${V}\" -o /o ./cmd\n"))
	f.Add([]byte("FROM a\nRUN go build 'unterminated\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, err := parseDockerfile(data)
		if err != nil {
			return
		}
		for _, in := range ins {
			if in.Cmd == "" || in.Cmd != strings.ToUpper(in.Cmd) {
				t.Fatalf("bad instruction %q", in.Cmd)
			}
			shellWords(in.Args, map[string]string{"V": "1"})
		}
		stages(ins)
		if cmd, err := dockerBuildCommand(data, nil); err == nil && (len(cmd.args) == 0 || cmd.args[0] != "build") {
			t.Fatalf("a build command that is not go build: %q", cmd.args)
		}
	})
}
