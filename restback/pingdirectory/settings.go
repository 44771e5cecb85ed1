package pingdirectory

import (
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
	// ServiceDN and ServicePassword are the credentials the bridge acts
	// with for its own service accounts (searches, search.go); without
	// them such searches are refused.
	ServiceDN       string        `yaml:"service_dn,omitempty"`
	ServicePassword bridge.Secret `yaml:"service_password,omitempty"`
}

var _ confkit.Settings = (*Settings)(nil)

// SetDefaults implements confkit.Settings: no defaults.
func (s *Settings) SetDefaults() { *s = Settings{} }

// Traits implements confkit.Settings: PingDirectory acts as the bound user
// and applies its own access control to resets.
func (s *Settings) Traits() confkit.Traits {
	return confkit.Traits{Authorizes: true, Needs: "at least its url"}
}

// Validate implements confkit.Settings.
func (s *Settings) Validate(c confkit.Checker, path string) {
	p := path + ".url"
	s.URL = c.URL(p, s.URL, "https://pd.example.com:1443")
	if u, err := url.Parse(s.URL); err == nil && strings.Contains(u.Path+"/", apiPath+"/") {
		// Wrong place is not wrong password: with the API path pasted
		// in, every request would go to .../directory/v1/directory/v1.
		c.Add(p, "%s contains the API path %s; give the server's base URL (the bridge adds the path)", c.Show(p, s.URL), apiPath)
	}
	switch {
	case (s.ServiceDN == "") != s.ServicePassword.IsZero():
		c.Add(path+".service_dn", "service_dn and service_password must be given together")
	case strings.Contains(s.ServiceDN, ":"):
		c.Add(path+".service_dn", "contains ':', which HTTP Basic authentication cannot carry")
	}
}

// Build implements confkit.Settings.
func (s *Settings) Build(env confkit.Env) (confkit.Instance, error) {
	c, err := New(Config{
		Name: env.Name, BaseURL: s.URL, CAFile: env.CAFile, Timeout: env.Timeout,
		Logger: env.Logger, WrapTransport: env.Wrap,
		AdminDN: s.ServiceDN, AdminPassword: s.ServicePassword,
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}
