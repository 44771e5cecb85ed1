package config

import "github.com/ldapbridge/ldapbridge/internal/confkit"

// Duration is a time.Duration written in YAML as a Go duration string
// ("30s", "5m", "1h30m"); see confkit.Duration, where it lives so that the
// backend packages' configuration blocks can use it too.
type Duration = confkit.Duration

func parseDuration(s string, bareNumber bool) (Duration, string) {
	return confkit.ParseDuration(s, bareNumber)
}
