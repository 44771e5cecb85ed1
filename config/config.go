// Package config is the ldapbridge configuration: the YAML schema, its
// defaults, strict decoding, validation that reports every problem with its
// line, and secrets taken from the environment and from files.
//
// It knows nothing of LDAP or HTTP and builds no core type; cmd/ldapbridge
// turns a *Config into listeners and backends, and package generation into
// the core's routes and accounts.
package config

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"reflect"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ldapbridge/ldapbridge/internal/confkit"
	"github.com/ldapbridge/ldapbridge/restback/pingdirectory"
	"github.com/ldapbridge/ldapbridge/restback/pingone"
)

// Config is one validated configuration with every default filled in.
type Config struct {
	Listeners []Listener `yaml:"listeners"`
	Limits    Limits     `yaml:"limits"`
	Backends  []Backend  `yaml:"backends"`
	Routes    []Route    `yaml:"routes"`
	Accounts  []Account  `yaml:"accounts,omitempty"`
	Log       Log        `yaml:"log"`
	Admin     Admin      `yaml:"admin"`
	Reload    Reload     `yaml:"reload"`
	BindCache BindCache  `yaml:"bind_cache"`
	Search    Search     `yaml:"search"`
}

// Search holds the settings of user searches.
type Search struct {
	// MaxScan bounds the entries a search the backend cannot narrow may
	// read before it is refused with adminLimitExceeded.
	MaxScan int `yaml:"max_scan"`
}

// RouteSearch says who, besides a route's admins and searchers, may
// search it.
type RouteSearch struct {
	BoundUsers bool `yaml:"bound_users"`
	Anonymous  bool `yaml:"anonymous"`
}

// TLS modes of a listener.
const (
	TLSNone     = "none"
	TLSStartTLS = "starttls"
	TLSLDAPS    = "ldaps"
)

// Cleartext policies: what a listener does with binds and password changes
// on a connection that is not protected by TLS.
const (
	CleartextLoopback = "loopback" // allowed only from a loopback peer
	CleartextAllow    = "allow"
	CleartextRefuse   = "refuse"
)

// Listener is one LDAP listening socket.
type Listener struct {
	Name          string `yaml:"name"`
	Address       string `yaml:"address"`
	TLS           string `yaml:"tls"`
	CertFile      string `yaml:"cert_file,omitempty"`
	KeyFile       string `yaml:"key_file,omitempty"`
	MinTLSVersion string `yaml:"min_tls_version"`
	Cleartext     string `yaml:"cleartext"`
}

// TLSMinVersion is MinTLSVersion as a crypto/tls constant.
func (l Listener) TLSMinVersion() uint16 {
	if l.MinTLSVersion == "1.3" {
		return tls.VersionTLS13
	}
	return tls.VersionTLS12
}

// Limits bound what clients may make the bridge do. Zero means unlimited
// only where the field says so.
type Limits struct {
	MaxMessageBytes     int      `yaml:"max_message_bytes"`
	MaxConnections      int      `yaml:"max_connections"`
	MaxConnectionsPerIP int      `yaml:"max_connections_per_ip"` // 0 = unlimited
	MaxOpsPerConnection int      `yaml:"max_ops_per_connection"`
	IdleTimeout         Duration `yaml:"idle_timeout"`
	MessageTimeout      Duration `yaml:"message_timeout"`
	WriteTimeout        Duration `yaml:"write_timeout"`
	OperationTimeout    Duration `yaml:"operation_timeout"`
	DrainTimeout        Duration `yaml:"drain_timeout"`
	RatePerIP           float64  `yaml:"rate_per_ip"`         // requests/second per source, 0 = unlimited
	FailedBindsPerDN    int      `yaml:"failed_binds_per_dn"` // per minute, 0 = unlimited
	// MaxMessageBytesAnonymous is max_message_bytes before a session is
	// bound (slapd's sockbuf_max_incoming); at most MaxMessageBytes.
	MaxMessageBytesAnonymous int `yaml:"max_message_bytes_anonymous"`
	// MaxSearchEntries is the most entries one search returns, whatever
	// the client's size limit (0 = unlimited).
	MaxSearchEntries int `yaml:"max_search_entries"`
}

// Backend types: the YAML keys of their blocks in Backend.
const (
	TypePingDirectory = "pingdirectory"
	TypePingOne       = "pingone"
)

// Backend is one REST directory: the keys every backend has, and the
// block of its type.
//
// The block fields are the registry of backend types, one line each: a
// field holds a pointer to the configuration block of a backend package
// (a confkit.Settings), and its YAML key is the type's name. The package
// decodes, validates and builds its backend; nothing else names it.
type Backend struct {
	Name          string         `yaml:"name"`
	Type          string         `yaml:"type"`
	Timeout       Duration       `yaml:"timeout"`
	CAFile        string         `yaml:"ca_file,omitempty"`
	PingDirectory *PingDirectory `yaml:"pingdirectory,omitempty"`
	PingOne       *PingOne       `yaml:"pingone,omitempty"`
}

// PingDirectory locates a PingDirectory Directory REST API.
type PingDirectory = pingdirectory.Settings

// PingOne is a PingOne environment reached with a worker application's
// client credentials.
type PingOne = pingone.Settings

// PingOne token endpoint authentication methods.
const (
	AuthClientSecretBasic = pingone.AuthClientSecretBasic
	AuthClientSecretPost  = pingone.AuthClientSecretPost
)

// Cache sizes a cache; Size 0 turns it off.
type Cache = pingone.Cache

var settingsType = reflect.TypeOf((*confkit.Settings)(nil)).Elem()

// backendTypes are the registered types' names, in field order.
var backendTypes = func() []string {
	var names []string
	t := reflect.TypeOf(Backend{})
	for i := 0; i < t.NumField(); i++ {
		if f := t.Field(i); f.Type.Implements(settingsType) {
			names = append(names, yamlName(f))
		}
	}
	return names
}()

// block returns the field of b holding the block of type typ, if typ is
// registered.
func (b *Backend) block(typ string) (reflect.Value, bool) {
	v := reflect.ValueOf(b).Elem()
	for i := 0; i < v.NumField(); i++ {
		if f := v.Type().Field(i); f.Type.Implements(settingsType) && yamlName(f) == typ {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

// Settings is the block of the backend's type, or nil when the type is
// unknown or its block is missing.
func (b *Backend) Settings() confkit.Settings {
	f, ok := b.block(b.Type)
	if !ok || f.IsNil() {
		return nil
	}
	return f.Interface().(confkit.Settings)
}

// Route sends the DNs under Base to one backend.
type Route struct {
	Base                  string   `yaml:"base"`
	Backend               string   `yaml:"backend"`
	Admins                []string `yaml:"admins,omitempty"`
	AllowOldPasswordProof bool     `yaml:"allow_old_password_proof"`
	ForceChange           bool     `yaml:"force_change"`
	BypassPolicy          bool     `yaml:"bypass_policy"`
	Gateway               *Gateway `yaml:"gateway,omitempty"`
	// Searchers may search the route (as its admins may).
	Searchers []string    `yaml:"searchers,omitempty"`
	Search    RouteSearch `yaml:"search"`
}

// Gateway is a PingOne LDAP gateway reference for administrative resets.
type Gateway struct {
	ID          string            `yaml:"id"`
	UserTypeID  string            `yaml:"user_type_id"`
	Correlation map[string]string `yaml:"correlation"`
}

// Account is a local service account the bridge authenticates itself.
type Account struct {
	DN           string `yaml:"dn"`
	PasswordHash string `yaml:"password_hash"`
}

// Log levels and formats.
const (
	LevelDebug = "debug"
	LevelInfo  = "info"
	LevelWarn  = "warn"
	LevelError = "error"
	FormatJSON = "json"
	FormatText = "text"
)

// Log configures logging and the audit trail.
type Log struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
	// AuditFile is where audit records go; "" sends them to the log.
	AuditFile string `yaml:"audit_file"`
}

// Admin is the metrics and health HTTP listener.
type Admin struct {
	// Address is host:port; "" turns the listener off.
	Address string `yaml:"address"`
}

// BindCache is the optional verified-bind cache: successful binds are
// remembered for TTL under an HMAC of DN and password (never the password),
// and forgotten the moment that user's password changes through the bridge.
// A password changed or an account locked directly in the backend still
// binds through the bridge for up to TTL, hence off by default.
type BindCache struct {
	Enabled bool     `yaml:"enabled"`
	TTL     Duration `yaml:"ttl"`
	Size    int      `yaml:"size"`
}

// Reload configures configuration reloads; SIGHUP always reloads.
type Reload struct {
	WatchConfig bool `yaml:"watch_config"`
}

// Defaults is the configuration before the file is applied: every
// top-level section with its default values, and no listeners, backends,
// routes or accounts. Elements of those lists start from their own
// defaults (see the setDefaults methods).
func Defaults() Config {
	return Config{
		Limits: Limits{
			MaxMessageBytes:     1 << 20,
			MaxConnections:      4096,
			MaxConnectionsPerIP: 0,
			MaxOpsPerConnection: 16,
			IdleTimeout:         Duration(10 * time.Minute),
			MessageTimeout:      Duration(30 * time.Second),
			WriteTimeout:        Duration(30 * time.Second),
			OperationTimeout:    Duration(30 * time.Second),
			DrainTimeout:        Duration(30 * time.Second),

			MaxMessageBytesAnonymous: 256 << 10,
			MaxSearchEntries:         1000,
		},
		Search:    Search{MaxScan: 1000},
		Log:       Log{Level: LevelInfo, Format: FormatJSON},
		Admin:     Admin{Address: "127.0.0.1:9389"},
		BindCache: BindCache{TTL: Duration(10 * time.Second), Size: 10000},
	}
}

// defaulter is implemented by list elements and optional sections, which
// the decoder creates with their defaults before applying the file.
type defaulter interface{ setDefaults() }

func (l *Listener) setDefaults() {
	*l = Listener{TLS: TLSNone, MinTLSVersion: "1.2", Cleartext: CleartextLoopback}
}

func (b *Backend) setDefaults() { *b = Backend{Timeout: Duration(10 * time.Second)} }

func (r *Route) setDefaults() { *r = Route{ForceChange: true} }

// Backend returns the backend named name.
func (c *Config) Backend(name string) (Backend, bool) {
	for _, b := range c.Backends {
		if b.Name == name {
			return b, true
		}
	}
	return Backend{}, false
}

// YAML renders the effective configuration, defaults included, in a form
// Parse reads back to the same Config. Secrets are redacted: a secret read
// from client_secret_file is left out (the file name is kept), one given
// inline or from the environment is written as "[REDACTED]". Dollars that
// Parse would expand are escaped as $$.
func (c *Config) YAML() ([]byte, error) {
	cp := *c
	cp.Backends = make([]Backend, len(c.Backends))
	for i, b := range c.Backends {
		// A block that holds secrets says how it shows.
		if r, ok := b.Settings().(interface{ Redacted() confkit.Settings }); ok {
			if f, ok := b.block(b.Type); ok {
				f.Set(reflect.ValueOf(r.Redacted()))
			}
		}
		cp.Backends[i] = b
	}
	var n yaml.Node
	if err := n.Encode(&cp); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	escapeDollars(&n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("encode config: %w", err)
	}
	return buf.Bytes(), nil
}

// escapeDollars rewrites string values so that expand gives them back: a
// $ before $ or { becomes $$.
func escapeDollars(n *yaml.Node) {
	switch n.Kind {
	case yaml.DocumentNode, yaml.SequenceNode:
		for _, c := range n.Content {
			escapeDollars(c)
		}
	case yaml.MappingNode:
		for i := 1; i < len(n.Content); i += 2 {
			escapeDollars(n.Content[i])
		}
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			n.Value = escapeString(n.Value)
		}
	}
}

// escapeString is the inverse of expand for a string without variables: a
// $ before $ or { becomes $$.
func escapeString(s string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		b.WriteByte(s[i])
		if s[i] == '$' && i+1 < len(s) && (s[i+1] == '$' || s[i+1] == '{') {
			b.WriteByte('$')
		}
	}
	return b.String()
}
