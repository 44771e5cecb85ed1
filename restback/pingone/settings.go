package pingone

import (
	"bytes"
	"regexp"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/confkit"
)

// Token endpoint authentication methods.
const (
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
)

// Settings is the "pingone" block of a backend in the bridge's
// configuration: a PingOne environment reached with a worker
// application's client credentials.
type Settings struct {
	EnvironmentID string `yaml:"environment_id"`
	Region        string `yaml:"region,omitempty"`
	// AuthURL and APIURL are always set after validation: given
	// explicitly, or derived from Region. No trailing slash.
	AuthURL  string `yaml:"auth_url"`
	APIURL   string `yaml:"api_url"`
	ClientID string `yaml:"client_id"`
	// ClientSecret is the resolved secret, from client_secret or from the
	// contents of client_secret_file. It never prints.
	ClientSecret     bridge.Secret `yaml:"client_secret,omitempty"`
	ClientSecretFile string        `yaml:"client_secret_file,omitempty"`
	TokenAuthMethod  string        `yaml:"token_auth_method"`
	// UserFilter is a SCIM filter template: {attr} stands for the value of
	// attr in the DN's first RDN; every placeholder is inside a quoted
	// string so the value is escaped as a SCIM string.
	UserFilter string           `yaml:"user_filter"`
	UserCache  Cache            `yaml:"user_cache"`
	PolicyTTL  confkit.Duration `yaml:"policy_ttl"`
	// Attributes overrides the LDAP↔PingOne attribute map of searches
	// (LDAP name → PingOne attribute path; search.go Mappings).
	Attributes map[string]string `yaml:"attributes,omitempty"`
}

// Cache sizes a cache; Size 0 turns it off.
type Cache struct {
	Size int              `yaml:"size"`
	TTL  confkit.Duration `yaml:"ttl"`
}

var _ confkit.Settings = (*Settings)(nil)

// SetDefaults implements confkit.Settings.
func (s *Settings) SetDefaults() {
	*s = Settings{
		TokenAuthMethod: AuthClientSecretBasic,
		UserFilter:      DefaultUserFilter,
		UserCache:       Cache{Size: defaultUserCacheSize, TTL: confkit.Duration(defaultUserCacheTTL)},
		PolicyTTL:       confkit.Duration(defaultPolicyTTL),
	}
}

// Traits implements confkit.Settings: the bridge decides who may reset
// whom (the worker application, the backend's service credential, may
// reset anyone), and the route options are PingOne's.
func (s *Settings) Traits() confkit.Traits {
	return confkit.Traits{RouteOptions: true, ServiceCredential: true, Needs: "environment_id, region, client_id, client_secret"}
}

// TokenURL is the OAuth 2 token endpoint of the environment.
func (s Settings) TokenURL() string {
	return strings.TrimRight(s.AuthURL, "/") + "/" + s.EnvironmentID + "/as/token"
}

// Redacted is the block as the effective configuration shows it: a
// secret read from a file is left out (the file name is kept).
func (s *Settings) Redacted() confkit.Settings {
	cp := *s
	if cp.ClientSecretFile != "" {
		cp.ClientSecret = bridge.Secret{}
	}
	return &cp
}

// regionNames are the PingOne regions, each named by the top-level domain
// of its hosts (auth.pingone.<region>, api.pingone.<region>), in the order
// messages list them.
var regionNames = []string{"com", "ca", "eu", "com.au", "sg", "asia"}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// maxSecretBytes bounds client_secret_file.
const maxSecretBytes = 64 << 10

// Validate implements confkit.Settings.
func (s *Settings) Validate(c confkit.Checker, p string) {
	if c.Required(p+".environment_id", s.EnvironmentID, "the PingOne environment's ID") && !uuidPattern.MatchString(s.EnvironmentID) {
		c.Add(p+".environment_id", "%s is not an environment ID (a UUID)", c.Show(p+".environment_id", s.EnvironmentID))
	}
	// auth_url and api_url override the region; "" means "from the region".
	tld := ""
	switch {
	case s.Region != "":
		if c.OneOf(p+".region", s.Region, regionNames...) {
			tld = s.Region
		}
	case s.AuthURL == "" || s.APIURL == "":
		c.Add(p+".region", "is required (one of %s) unless both auth_url and api_url are given", strings.Join(regionNames, ", "))
	}
	if s.AuthURL != "" {
		s.AuthURL = c.URL(p+".auth_url", s.AuthURL, "https://auth.pingone.com")
	} else if tld != "" {
		s.AuthURL = "https://auth.pingone." + tld
	}
	if s.APIURL != "" {
		s.APIURL = c.URL(p+".api_url", s.APIURL, "https://api.pingone.com/v1")
		if strings.Contains(s.APIURL, "/environments") {
			// Wrong place is not wrong password: the bridge adds
			// /environments/{id} itself.
			c.Add(p+".api_url", "%s contains an API path; give the API host with /v1 at most, e.g. https://api.pingone.com/v1", c.Show(p+".api_url", s.APIURL))
		}
	} else if tld != "" {
		s.APIURL = "https://api.pingone." + tld + "/v1"
	}
	c.Required(p+".client_id", s.ClientID, "the worker application's client ID")

	// Exactly one of the two is non-empty: an empty one counts as not
	// given, so a template may carry both keys.
	hasSecret, hasFile := !s.ClientSecret.IsZero(), s.ClientSecretFile != ""
	switch {
	case hasSecret && hasFile:
		c.Add(p+".client_secret", "give client_secret or client_secret_file, not both")
	case !hasSecret && !hasFile:
		if raw, ok := c.Expanded(p + ".client_secret"); ok {
			c.Add(p+".client_secret", "the value of %q is empty", raw)
		} else {
			c.Add(p+".client_secret", "is required (or client_secret_file)")
		}
	case hasFile && c.FileChecks():
		s.secretFile(c, p+".client_secret_file")
	case hasFile:
		c.Skipped(p+".client_secret_file", "the secret file was not read")
	}
	c.OneOf(p+".token_auth_method", s.TokenAuthMethod, AuthClientSecretBasic, AuthClientSecretPost)
	if c.Required(p+".user_filter", s.UserFilter, `e.g. 'username eq "{uid}"'`) {
		attrs, msg := confkit.CheckTemplate(s.UserFilter, true)
		switch {
		case msg != "":
			c.Add(p+".user_filter", "%s", msg)
		case len(attrs) == 0:
			c.Add(p+".user_filter", `names no RDN attribute, so every DN would find the same user; use a placeholder such as username eq "{uid}"`)
		default:
			// The identity rule: a user's DN is built from the user, so
			// each placeholder must be compared whole with an attribute.
			if ft, err := parseFilterTemplate(s.UserFilter); err == nil {
				if err := ft.canNameUsers(); err != nil {
					c.Add(p+".user_filter", "%s", strings.TrimPrefix(err.Error(), "user filter: "))
				}
			}
		}
	}
	if _, err := Mappings(s.Attributes); err != nil {
		c.Add(p+".attributes", "%v", err)
	}
	if s.UserCache.Size < 0 {
		c.Add(p+".user_cache.size", "%d must not be negative (0 turns the cache off)", s.UserCache.Size)
	}
}

// secretFile reads the client secret from a file, without one trailing
// newline. Nothing about the content reaches a message.
func (s *Settings) secretFile(c confkit.Checker, path string) {
	data, err := c.ReadFile(s.ClientSecretFile, maxSecretBytes)
	if err != nil {
		c.Add(path, "%s: %v", c.Show(path, s.ClientSecretFile), err)
		return
	}
	if bytes.HasSuffix(data, []byte("\r\n")) {
		data = data[:len(data)-2]
	} else if bytes.HasSuffix(data, []byte("\n")) {
		data = data[:len(data)-1]
	}
	if len(data) == 0 {
		c.Add(path, "%s is empty", c.Show(path, s.ClientSecretFile))
		return
	}
	s.ClientSecret = bridge.NewSecret(data)
	clear(data)
}

// Build implements confkit.Settings.
func (s *Settings) Build(env confkit.Env) (confkit.Instance, error) {
	// user_cache.size 0 turns the cache off, as documented; the client's
	// zero value means its default.
	cacheSize := s.UserCache.Size
	if cacheSize == 0 {
		cacheSize = -1
	}
	maps, err := Mappings(s.Attributes)
	if err != nil {
		return nil, err
	}
	c, err := New(Config{
		Attributes: maps,
		Name:       env.Name, EnvironmentID: s.EnvironmentID, Region: s.Region,
		AuthURL: s.AuthURL, APIURL: s.APIURL, ClientID: s.ClientID,
		ClientSecret: s.ClientSecret, AuthMethod: s.TokenAuthMethod,
		UserFilter: s.UserFilter, UserCacheSize: cacheSize,
		UserCacheTTL: time.Duration(s.UserCache.TTL), PolicyTTL: time.Duration(s.PolicyTTL),
		Timeout: env.Timeout, CAFile: env.CAFile, Logger: env.Logger,
		WrapTransport: env.Wrap, CacheObserver: env.CacheObserver,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
