package pingdirectory

import (
	"bytes"
	"net/url"
	"strings"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/confkit"
)

// Settings is the "pingdirectory" block of a backend in the bridge's
// configuration.
type Settings struct {
	// URL is the server's base URL without a trailing slash; the API is
	// under URL + "/directory/v1".
	URL string `yaml:"url"`
	// ServiceAccount, when set, is the credential the bridge acts with
	// for resets that no user of this backend asks for: a local service
	// account, or a user of another route, listed in a route's admins.
	// Without it those resets are refused: a password goes only to the
	// backend that verified it.
	ServiceAccount *ServiceAccount `yaml:"service_account,omitempty"`
}

// ServiceAccount is PingDirectory's service credential, one of the two
// authentication types of the Directory REST API's Getting Started page:
// HTTP Basic with a DN and its password (DN, PasswordFile), or an OAuth 2
// bearer token obtained with the client credentials grant from an
// authorization server such as PingFederate (TokenURL, ClientID,
// ClientSecretFile, Scope), which PingDirectory checks with an access
// token validator.
type ServiceAccount struct {
	DN           string `yaml:"dn,omitempty"`
	PasswordFile string `yaml:"password_file,omitempty"`

	TokenURL         string `yaml:"token_url,omitempty"`
	ClientID         string `yaml:"client_id,omitempty"`
	ClientSecretFile string `yaml:"client_secret_file,omitempty"`
	// Scope is a space-separated list of scopes to ask for (the ones
	// PingDirectory's access token validator is configured to accept).
	Scope string `yaml:"scope,omitempty"`

	// Password and ClientSecret are read from the files by Validate;
	// they are never written back.
	Password     bridge.Secret `yaml:"-"`
	ClientSecret bridge.Secret `yaml:"-"`
}

// bearer reports whether the account is the OAuth 2 kind.
func (a *ServiceAccount) bearer() bool {
	return a.TokenURL != "" || a.ClientID != "" || a.ClientSecretFile != "" || a.Scope != ""
}

var _ confkit.Settings = (*Settings)(nil)

// SetDefaults implements confkit.Settings: no defaults.
func (s *Settings) SetDefaults() { *s = Settings{} }

// Traits implements confkit.Settings: PingDirectory acts as the bound user
// and applies its own access control to resets; with a service account
// it can also act for the bridge's own accounts and other routes' users.
func (s *Settings) Traits() confkit.Traits {
	return confkit.Traits{Authorizes: true, ServiceCredential: s.ServiceAccount != nil, Needs: "at least its url"}
}

// maxSecretBytes bounds password_file and client_secret_file.
const maxSecretBytes = 64 << 10

// Validate implements confkit.Settings.
func (s *Settings) Validate(c confkit.Checker, path string) {
	p := path + ".url"
	s.URL = c.URL(p, s.URL, "https://pd.example.com:1443")
	if u, err := url.Parse(s.URL); err == nil && strings.Contains(u.Path+"/", apiPath+"/") {
		// Wrong place is not wrong password: with the API path pasted
		// in, every request would go to .../directory/v1/directory/v1.
		c.Add(p, "%s contains the API path %s; give the server's base URL (the bridge adds the path)", c.Show(p, s.URL), apiPath)
	}
	if a := s.ServiceAccount; a != nil {
		a.validate(c, path+".service_account")
	}
}

func (a *ServiceAccount) validate(c confkit.Checker, p string) {
	basic := a.DN != "" || a.PasswordFile != ""
	switch {
	case basic && a.bearer():
		c.Add(p, "give dn and password_file (HTTP Basic) or token_url, client_id and client_secret_file (an OAuth 2 bearer token), not both")
		return
	case !basic && !a.bearer():
		c.Add(p, "needs dn and password_file (HTTP Basic) or token_url, client_id and client_secret_file (an OAuth 2 bearer token)")
		return
	case basic:
		if c.Required(p+".dn", a.DN, "the service account's DN, e.g. cn=ldapbridge,ou=services,dc=example,dc=com") {
			dn, err := bridge.ParseDN(a.DN)
			switch {
			case err != nil || len(dn.RDNs) == 0:
				c.Add(p+".dn", "%s is not a DN", c.Show(p+".dn", a.DN))
			case strings.Contains(a.DN, ":"):
				c.Add(p+".dn", "%s contains ':', which HTTP Basic authentication cannot carry", c.Show(p+".dn", a.DN))
			}
		}
		if c.Required(p+".password_file", a.PasswordFile, "a file holding the service account's password") && c.FileChecks() {
			a.Password = readSecret(c, p+".password_file", a.PasswordFile)
		}
	default:
		a.TokenURL = c.URL(p+".token_url", a.TokenURL, "https://pingfederate.example.com:9031/as/token.oauth2")
		c.Required(p+".client_id", a.ClientID, "the OAuth 2 client's ID")
		if c.Required(p+".client_secret_file", a.ClientSecretFile, "a file holding the OAuth 2 client's secret") && c.FileChecks() {
			a.ClientSecret = readSecret(c, p+".client_secret_file", a.ClientSecretFile)
		}
	}
}

// readSecret reads a secret from a file, without one trailing newline.
// Nothing about the content reaches a message.
func readSecret(c confkit.Checker, path, file string) bridge.Secret {
	data, err := c.ReadFile(file, maxSecretBytes)
	if err != nil {
		c.Add(path, "%s: %v", c.Show(path, file), err)
		return bridge.Secret{}
	}
	defer clear(data)
	trimmed := data
	if bytes.HasSuffix(trimmed, []byte("\r\n")) {
		trimmed = trimmed[:len(trimmed)-2]
	} else if bytes.HasSuffix(trimmed, []byte("\n")) {
		trimmed = trimmed[:len(trimmed)-1]
	}
	if len(trimmed) == 0 {
		c.Add(path, "%s is empty", c.Show(path, file))
		return bridge.Secret{}
	}
	return bridge.NewSecret(trimmed)
}

// Build implements confkit.Settings.
func (s *Settings) Build(env confkit.Env) (confkit.Instance, error) {
	cfg := Config{
		Name: env.Name, BaseURL: s.URL, CAFile: env.CAFile, Timeout: env.Timeout,
		Logger: env.Logger, WrapTransport: env.Wrap,
	}
	if a := s.ServiceAccount; a != nil {
		if a.bearer() {
			cfg.ServiceToken = &TokenConfig{URL: a.TokenURL, ClientID: a.ClientID, ClientSecret: a.ClientSecret, Scopes: strings.Fields(a.Scope)}
		} else {
			cfg.AdminDN, cfg.AdminPassword = a.DN, a.Password
		}
	}
	c, err := New(cfg)
	if err != nil {
		return nil, err
	}
	return c, nil
}
