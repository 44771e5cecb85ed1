package config

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
)

// ParseOptions adjust Parse for tests and tooling.
type ParseOptions struct {
	// SkipFileChecks skips everything that reads the filesystem: the TLS
	// certificate and key, CA files, the audit file's directory, and
	// client_secret_file, whose secret is then left empty. For checking
	// a configuration written for another machine (and the example).
	SkipFileChecks bool
	// Skipped, when set, is told of each check SkipFileChecks skipped:
	// the path of the key and what was not checked.
	Skipped func(path, what string)
	// LookupEnv resolves ${NAME}; nil means os.LookupEnv.
	LookupEnv func(name string) (string, bool)
}

// Load reads the file at path and parses it with Parse.
func Load(path string) (*Config, error) {
	return LoadWithOptions(path, ParseOptions{})
}

// LoadWithOptions is Load with options.
func LoadWithOptions(path string, opts ParseOptions) (*Config, error) {
	data, err := readLimited(path, maxConfigBytes)
	if err != nil {
		return nil, fmt.Errorf("load config %s: %w", path, err)
	}
	return ParseWithOptions(data, path, opts)
}

// Parse reads a configuration: it decodes the YAML strictly (unknown keys
// are problems), expands ${NAME} from the environment in every value,
// applies defaults, reads secret files and validates. On failure the error
// wraps Problems (use errors.As) listing every problem found, one per line,
// after a first line naming the configuration.
func Parse(data []byte, name string) (*Config, error) {
	return ParseWithOptions(data, name, ParseOptions{})
}

// ParseWithOptions is Parse with options.
func ParseWithOptions(data []byte, name string, opts ParseOptions) (*Config, error) {
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	d := newDecoder(lookup)
	cfg := Defaults()
	if root := d.parseDocument(data); root != nil {
		d.decode(root, reflect.ValueOf(&cfg).Elem(), "")
		if !d.aborted {
			v := validator{d: d, cfg: &cfg, opts: opts}
			v.run()
		}
	}
	if len(d.problems) > 0 {
		d.problems.sort()
		return nil, &Error{Name: name, Problems: d.problems}
	}
	return &cfg, nil
}

// Error is a configuration that did not parse or validate.
type Error struct {
	Name     string
	Problems Problems
}

func (e *Error) Error() string {
	n := len(e.Problems)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	return fmt.Sprintf("config %s: %d problem%s:\n%s", e.Name, n, plural, e.Problems.Error())
}

// Unwrap lets errors.As find the Problems.
func (e *Error) Unwrap() error { return e.Problems }

// readLimited reads a regular file of at most limit bytes. Refusing
// anything else keeps a path such as /dev/zero or a FIFO from hanging the
// bridge. Errors leave the path out (callers name it as they see fit: it
// may have come from the environment).
func readLimited(path string, limit int64) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, pathless(err)
	}
	if !fi.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, pathless(err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, pathless(err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("larger than %d bytes", limit)
	}
	return data, nil
}

// pathless strips the path from an *fs.PathError, keeping the cause.
func pathless(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
