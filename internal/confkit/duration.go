package confkit

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Duration is a time.Duration written in YAML as a Go duration string
// ("30s", "5m", "1h30m"). A bare number is refused rather than read as
// seconds: "30" could as well mean milliseconds, and a unit costs one
// character.
type Duration time.Duration

// Duration returns d as a time.Duration.
func (d Duration) Duration() time.Duration { return time.Duration(d) }

// String formats d without trailing zero units: "10m", not "10m0s".
func (d Duration) String() string {
	s := time.Duration(d).String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// MarshalYAML writes d as a duration string.
func (d Duration) MarshalYAML() (any, error) { return d.String(), nil }

// UnmarshalYAML reads a duration string, for callers that decode a Duration
// with yaml.v3 directly; Parse uses the same rules.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("a duration must be a string such as 30s")
	}
	v, msg := ParseDuration(n.Value, n.ShortTag() == "!!int")
	if msg != "" {
		return fmt.Errorf("%q %s", n.Value, msg)
	}
	*d = v
	return nil
}

// ParseDuration reads s; bareNumber says the YAML scalar was an integer.
// A failure is a message meant to follow the value (which it leaves out,
// since the value may have come from the environment).
func ParseDuration(s string, bareNumber bool) (Duration, string) {
	if bareNumber {
		return 0, fmt.Sprintf("has no unit; write it as %q or %q", s+"s", s+"ms")
	}
	v, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, "is not a duration such as 30s, 5m or 1h30m"
	}
	if v <= 0 {
		return 0, "must be positive"
	}
	return Duration(v), ""
}
