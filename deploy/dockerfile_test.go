package deploy

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	Cmd  string // upper case: FROM, RUN, ...
	Args string
	Line int // of its first line
}

var instructionRE = regexp.MustCompile(`^[A-Za-z]+$`)

// parseDockerfile splits a Dockerfile into instructions: comments and
// blank lines dropped, lines ending in a backslash joined to the next
// (comment lines inside a continuation are dropped, as Docker does).
func parseDockerfile(data []byte) ([]instruction, error) {
	var out []instruction
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var cur *instruction
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur == nil) {
			continue
		}
		cont := strings.HasSuffix(line, `\`)
		line = strings.TrimSuffix(line, `\`)
		if cur == nil {
			word, rest, _ := strings.Cut(line, " ")
			if !instructionRE.MatchString(word) {
				return nil, fmt.Errorf("line %d: %q is not an instruction", n, word)
			}
			cur = &instruction{Cmd: strings.ToUpper(word), Args: strings.TrimSpace(rest), Line: n}
		} else if line != "" {
			cur.Args = strings.TrimSpace(cur.Args + " " + line)
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: the file ends inside a continued line", cur.Line)
	}
	return out, nil
}

// stage is one FROM ... section of a Dockerfile.
type stage struct {
	From, Name string
	Body       []instruction
}

func stages(ins []instruction) (global []instruction, out []stage, err error) {
	for _, in := range ins {
		if in.Cmd != "FROM" {
			if len(out) == 0 {
				if in.Cmd != "ARG" {
					return nil, nil, fmt.Errorf("line %d: %s before the first FROM", in.Line, in.Cmd)
				}
				global = append(global, in)
				continue
			}
			out[len(out)-1].Body = append(out[len(out)-1].Body, in)
			continue
		}
		f := strings.Fields(in.Args)
		var img, name string
		for i := 0; i < len(f); i++ {
			switch {
			case strings.HasPrefix(f[i], "--"):
			case img == "":
				img = f[i]
			case strings.EqualFold(f[i], "AS") && i+1 < len(f):
				name = f[i+1]
				i++
			default:
				return nil, nil, fmt.Errorf("line %d: cannot read FROM %s", in.Line, in.Args)
			}
		}
		if img == "" {
			return nil, nil, fmt.Errorf("line %d: FROM without an image", in.Line)
		}
		out = append(out, stage{From: img, Name: name})
	}
	return global, out, nil
}

// argDefault returns ARG name's default among ins.
func argDefault(ins []instruction, name string) (string, bool) {
	for _, in := range ins {
		if in.Cmd != "ARG" {
			continue
		}
		k, v, hasV := strings.Cut(in.Args, "=")
		if strings.TrimSpace(k) == name {
			return strings.Trim(strings.TrimSpace(v), `"`), hasV
		}
	}
	return "", false
}

// shellWords splits a shell command line into words: single and double
// quotes, backslash escapes, and $VAR / ${VAR} expanded from vars (an
// unknown variable is an error, so the test never builds with a value the
// Dockerfile does not define). Operators such as && are refused: the
// build command must be one simple command.
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var b strings.Builder
	in := false // inside a word
	quote := byte(0)
	expand := func(i int) (int, error) {
		j := i + 1
		var name string
		if j < len(s) && s[j] == '{' {
			end := strings.IndexByte(s[j:], '}')
			if end < 0 {
				return 0, errors.New("unterminated ${")
			}
			name = s[j+1 : j+end]
			j += end + 1
		} else {
			k := j
			for k < len(s) && (s[k] == '_' || s[k] >= 'A' && s[k] <= 'Z' || s[k] >= 'a' && s[k] <= 'z' || s[k] >= '0' && s[k] <= '9') {
				k++
			}
			name = s[j:k]
			j = k
		}
		v, ok := vars[name]
		if !ok || name == "" {
			return 0, fmt.Errorf("variable %q is not defined", name)
		}
		b.WriteString(v)
		return j, nil
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				b.WriteByte(c)
			}
			i++
		case quote == '"':
			switch c {
			case '"':
				quote = 0
				i++
			case '\\':
				if i+1 < len(s) && strings.IndexByte("\"\\$`", s[i+1]) >= 0 {
					b.WriteByte(s[i+1])
					i += 2
				} else {
					b.WriteByte(c)
					i++
				}
			case '$':
				j, err := expand(i)
				if err != nil {
					return nil, err
				}
				i = j
			case '`':
				return nil, errors.New("command substitution is not supported")
			default:
				b.WriteByte(c)
				i++
			}
		case c == ' ' || c == '\t' || c == '\n':
			if in {
				words = append(words, b.String())
				b.Reset()
				in = false
			}
			i++
		case strings.IndexByte("&|;<>()`", c) >= 0:
			return nil, fmt.Errorf("shell operator %q: the build must be one simple command", c)
		default:
			in = true
			switch c {
			case '\'', '"':
				quote = c
				i++
			case '\\':
				if i+1 < len(s) {
					b.WriteByte(s[i+1])
				}
				i += 2
			case '$':
				j, err := expand(i)
				if err != nil {
					return nil, err
				}
				i = j
			default:
				b.WriteByte(c)
				i++
			}
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if in {
		words = append(words, b.String())
	}
	return words, nil
}

// buildCommand is the Dockerfile's go build: environment and arguments.
type buildCommand struct {
	env  []string // NAME=value
	args []string // after "go"
}

// withOutput returns the arguments with the -o path replaced.
func (c *buildCommand) withOutput(path string) []string {
	out := append([]string(nil), c.args...)
	for i := range out {
		if out[i] == "-o" && i+1 < len(out) {
			out[i+1] = path
		}
	}
	return out
}

var envAssign = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// dockerBuildCommand finds the build stage's RUN ... go build and returns
// it with the build args expanded: vars, plus TARGETOS and TARGETARCH for
// this machine and the ARG defaults.
func dockerBuildCommand(df []byte, vars map[string]string) (*buildCommand, error) {
	ins, err := parseDockerfile(df)
	if err != nil {
		return nil, err
	}
	_, sts, err := stages(ins)
	if err != nil {
		return nil, err
	}
	for _, st := range sts {
		all := map[string]string{"TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH}
		for _, in := range st.Body {
			if in.Cmd == "ARG" {
				// An ARG without a default keeps what BuildKit provides
				// (TARGETOS, TARGETARCH); others start empty.
				k, v, hasDefault := strings.Cut(in.Args, "=")
				k = strings.TrimSpace(k)
				if _, provided := all[k]; hasDefault || !provided {
					all[k] = strings.Trim(strings.TrimSpace(v), `"`)
				}
			}
		}
		for k, v := range vars {
			if _, declared := all[k]; !declared {
				return nil, fmt.Errorf("build arg %s is not declared in stage %q", k, st.Name)
			}
			all[k] = v
		}
		for _, in := range st.Body {
			if in.Cmd != "RUN" || !strings.Contains(in.Args, "go build") {
				continue
			}
			words, err := shellWords(in.Args, all)
			if err != nil {
				return nil, fmt.Errorf("line %d: %w", in.Line, err)
			}
			for len(words) > 0 && strings.HasPrefix(words[0], "--") { // RUN --mount=...
				words = words[1:]
			}
			cmd := &buildCommand{}
			for len(words) > 0 && envAssign.MatchString(words[0]) {
				cmd.env = append(cmd.env, words[0])
				words = words[1:]
			}
			if len(words) < 2 || words[0] != "go" || words[1] != "build" {
				return nil, fmt.Errorf("line %d: the RUN is not one go build command", in.Line)
			}
			cmd.args = words[1:]
			return cmd, nil
		}
	}
	return nil, errors.New("no RUN ... go build in any stage")
}

// versionAtLeast compares dotted Go versions ("1.26.8" >= "1.26").
func versionAtLeast(have, want string) bool {
	h, w := strings.Split(have, "."), strings.Split(want, ".")
	for i := 0; i < len(w); i++ {
		wn, _ := strconv.Atoi(w[i])
		hn := 0
		if i < len(h) {
			hn, _ = strconv.Atoi(h[i])
		}
		if hn != wn {
			return hn > wn
		}
	}
	return true
}

// TestDockerfile checks the image's shape: a Go build stage and a minimal
// final stage that runs the copied binary as a numeric non-root user.
var digestRE = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)

func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	ins, err := parseDockerfile(data)
	if err != nil {
		t.Fatal(err)
	}
	global, sts, err := stages(ins)
	if err != nil {
		t.Fatal(err)
	}
	if len(sts) < 2 {
		t.Fatalf("%d stages; want a build stage and a runtime stage", len(sts))
	}
	build, final := sts[0], sts[len(sts)-1]
	if build.Name != "build" || !strings.HasPrefix(build.From, "golang:") {
		t.Errorf("first stage: FROM %s AS %s; want golang:... AS build", build.From, build.Name)
	}

	// The Go toolchain of the build image must satisfy go.mod.
	gomod, err := os.ReadFile(moduleRoot + "/go.mod")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if m == nil {
		t.Fatal("go.mod has no go line")
	}
	goVersion, ok := argDefault(global, "GO_VERSION")
	if !ok || build.From != "golang:${GO_VERSION}@${GO_DIGEST}" {
		t.Errorf("build stage FROM %s, GO_VERSION default %q: want golang:${GO_VERSION}@${GO_DIGEST} with a default", build.From, goVersion)
	} else if !versionAtLeast(goVersion, string(m[1])) {
		t.Errorf("GO_VERSION %s is older than go.mod's go %s", goVersion, m[1])
	}
	// Pinned by digest, and the comment says where the digest was seen.
	if d, _ := argDefault(global, "GO_DIGEST"); !digestRE.MatchString(d) {
		t.Errorf("GO_DIGEST default %q; want sha256:<64 hex digits>", d)
	} else if !bytes.Contains(data, []byte("golang:"+goVersion+"@"+d[:len("sha256:")+8])) {
		t.Errorf("no comment names golang:%s@%s... and where that digest comes from", goVersion, d[:len("sha256:")+8])
	}

	if !(strings.HasPrefix(final.From, "gcr.io/distroless/static") || final.From == "scratch") {
		t.Errorf("final stage FROM %s; want distroless static (or scratch)", final.From)
	}
	if strings.HasPrefix(final.From, "gcr.io/distroless/static") && !strings.Contains(final.From, ":nonroot") {
		t.Errorf("final stage FROM %s; want the :nonroot variant", final.From)
	}
	// The runtime image is pinned by digest too, with where it was seen.
	if d, _ := argDefault(global, "RUNTIME_DIGEST"); !digestRE.MatchString(d) || !strings.HasSuffix(final.From, "@${RUNTIME_DIGEST}") {
		t.Errorf("final stage FROM %s, RUNTIME_DIGEST default %q: want ...@${RUNTIME_DIGEST} and sha256:<64 hex digits>", final.From, d)
	} else if !bytes.Contains(data, []byte(":nonroot@"+d[:len("sha256:")+8])) {
		t.Errorf("no comment names the runtime image's digest %s... and where it comes from", d[:len("sha256:")+8])
	}
	var copied, user string
	var entry, cmd []string
	for _, in := range final.Body {
		switch in.Cmd {
		case "COPY":
			f := strings.Fields(in.Args)
			if len(f) == 3 && f[0] == "--from="+build.Name {
				copied = f[2]
			}
		case "USER":
			user = in.Args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(in.Args), &entry); err != nil {
				t.Errorf("line %d: ENTRYPOINT is not in exec (JSON) form: %v", in.Line, err)
			}
		case "CMD":
			if err := json.Unmarshal([]byte(in.Args), &cmd); err != nil {
				t.Errorf("line %d: CMD is not in exec (JSON) form: %v", in.Line, err)
			}
		case "RUN":
			t.Errorf("line %d: RUN in the final stage (it has no shell)", in.Line)
		}
	}
	if copied == "" {
		t.Error("the final stage copies nothing from the build stage")
	}
	uid, gid, _ := strings.Cut(user, ":")
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("USER %q; want a numeric non-root uid (runAsNonRoot checks it without /etc/passwd)", user)
	}
	if n, err := strconv.Atoi(gid); err != nil || n == 0 {
		t.Errorf("USER %q; want a numeric non-root gid", user)
	}
	if len(entry) != 1 || entry[0] != copied {
		t.Errorf("ENTRYPOINT %q; want [%q], the copied binary", entry, copied)
	}
	// The manifests pass the same arguments; both must name the mounted
	// configuration file.
	if want := []string{"serve", "--config", configPath}; strings.Join(cmd, " ") != strings.Join(want, " ") {
		t.Errorf("CMD %q; want %q", cmd, want)
	}

	bc, err := dockerBuildCommand(data, map[string]string{"VERSION": "X", "REVISION": "R"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"GOOS=" + runtime.GOOS, "GOARCH=" + runtime.GOARCH} {
		if !contains(bc.env, want) {
			t.Errorf("build environment %q lacks %s (from TARGETOS/TARGETARCH)", bc.env, want)
		}
	}
	if !contains(bc.env, "CGO_ENABLED=0") {
		t.Errorf("build environment %q lacks CGO_ENABLED=0", bc.env)
	}
	if !contains(bc.args, "-trimpath") {
		t.Errorf("go %q lacks -trimpath", bc.args)
	}
	ldflags := ""
	for i, a := range bc.args {
		if a == "-ldflags" && i+1 < len(bc.args) {
			ldflags = bc.args[i+1]
		}
	}
	if !contains(strings.Fields(ldflags), "main.version=X") {
		t.Errorf("-ldflags %q does not stamp main.version from the VERSION build arg", ldflags)
	}
	if !contains(strings.Fields(ldflags), "main.revision=R") {
		t.Errorf("-ldflags %q does not stamp main.revision from the REVISION build arg", ldflags)
	}
	// The context has no .git: Go's own VCS stamping would fail the build
	// (or, with a .git, disagree with REVISION).
	if !contains(bc.args, "-buildvcs=false") {
		t.Errorf("go %q lacks -buildvcs=false", bc.args)
	}
	// The image says which commit it is: the OCI revision label, from the
	// same build arg, declared in the final stage.
	var labels []string
	finalArgs := map[string]bool{}
	for _, in := range final.Body {
		switch in.Cmd {
		case "LABEL":
			ws, err := shellWords(in.Args, map[string]string{"VERSION": "${VERSION}", "REVISION": "${REVISION}"})
			if err != nil {
				t.Errorf("line %d: LABEL: %v", in.Line, err)
			}
			labels = append(labels, ws...)
		case "ARG":
			name, _, _ := strings.Cut(in.Args, "=")
			finalArgs[name] = true
		}
	}
	for _, want := range []string{"org.opencontainers.image.revision=${REVISION}", "org.opencontainers.image.version=${VERSION}"} {
		if !contains(labels, want) {
			t.Errorf("final stage LABELs %q lack %s", labels, want)
		}
	}
	if !finalArgs["REVISION"] || !finalArgs["VERSION"] {
		t.Errorf("the final stage does not declare ARG REVISION and VERSION (a stage sees no ARG it does not declare)")
	}
	if bc.args[len(bc.args)-1] != "./cmd/ldapbridge" {
		t.Errorf("go %q does not build ./cmd/ldapbridge", bc.args)
	}
}

// TestDockerBuildCommand runs the Dockerfile's own go build and checks the
// result: a static binary that reports the stamped version.
func TestDockerBuildCommand(t *testing.T) {
	bin := binary(t)
	out, err := runBinary(t, nil, "version")
	if err != nil {
		t.Fatalf("ldapbridge version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(out, "ldapbridge "+builtVersion+" (") {
		t.Errorf("ldapbridge version printed %q; want the stamped version %s", out, builtVersion)
	}
	if !strings.Contains(out, "revision "+builtRevision+")") {
		t.Errorf("ldapbridge version printed %q; want the stamped revision %s", out, builtRevision)
	}
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has an ELF interpreter: it is dynamically linked (CGO_ENABLED=0 missing?)")
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("the binary links %q (%v); want none", libs, err)
	}
}

// TestShellWords pins the splitter the build-command test relies on.
func TestShellWords(t *testing.T) {
	vars := map[string]string{"V": "1.2", "OS": "linux"}
	tests := []struct {
		in      string
		want    []string
		wantErr bool
	}{
		{`go build -o /x ./cmd`, []string{"go", "build", "-o", "/x", "./cmd"}, false},
		{`A=0 GOOS=${OS} go build -ldflags "-s -X main.version=${V}"`, []string{"A=0", "GOOS=linux", "go", "build", "-ldflags", "-s -X main.version=1.2"}, false},
		{`echo '$V' "a\"b" c\ d $V`, []string{"echo", "$V", `a"b`, "c d", "1.2"}, false},
		{`echo "" x`, []string{"echo", "", "x"}, false},
		{`go build ${NOPE}`, nil, true},
		{`go mod download && go build`, nil, true},
		{`echo "open`, nil, true},
		{"echo `id`", nil, true},
	}
	for _, tc := range tests {
		got, err := shellWords(tc.in, vars)
		if (err != nil) != tc.wantErr {
			t.Errorf("shellWords(%q) error %v; want error %v", tc.in, err, tc.wantErr)
			continue
		}
		if strings.Join(got, "\x00") != strings.Join(tc.want, "\x00") || len(got) != len(tc.want) {
			t.Errorf("shellWords(%q) = %q; want %q", tc.in, got, tc.want)
		}
	}
}

// TestParseDockerfile pins continuation and comment handling, and the
// refusal of what is not a Dockerfile.
func TestParseDockerfile(t *testing.T) {
	got, err := parseDockerfile([]byte("# c\nARG A=1\nFROM x AS b\nRUN a \\\n  # inside\n  b\n\nUSER 1:1\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []instruction{{"ARG", "A=1", 2}, {"FROM", "x AS b", 3}, {"RUN", "a b", 4}, {"USER", "1:1", 8}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %v; want %v", got, want)
	}
	for _, bad := range []string{"RUN a \\\n", "{ not a dockerfile }\n", "USER 1\n"} {
		ins, err := parseDockerfile([]byte(bad))
		if err == nil {
			_, _, err = stages(ins)
		}
		if err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

// TestDockerignore checks that the build context keeps every package the
// binary needs (the .dockerignore is an allow list) and drops the rest.
func TestDockerignore(t *testing.T) {
	data, err := os.ReadFile(moduleRoot + "/.dockerignore")
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{}
	excludesAll := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "*":
			excludesAll = true
		case strings.HasPrefix(line, "!"):
			allowed[strings.TrimSuffix(strings.TrimPrefix(line, "!"), "/")] = true
		}
	}
	if !excludesAll {
		t.Fatal(".dockerignore does not start from excluding everything (*)")
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if !allowed[f] {
			t.Errorf(".dockerignore does not let %s in", f)
		}
	}
	for _, f := range []string{".git", "deploy", "docs"} {
		if allowed[f] {
			t.Errorf(".dockerignore lets %s in", f)
		}
	}
	// Every top-level directory holding a package the binary imports.
	for _, dir := range moduleDirsOf(t, "./cmd/ldapbridge") {
		if !allowed[dir] {
			t.Errorf(".dockerignore leaves out %s/, which ./cmd/ldapbridge needs", dir)
		}
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
