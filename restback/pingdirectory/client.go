// Package pingdirectory is the bridge's client of the PingDirectory
// Directory REST API: Bind is GET /directory/v1/me with the user's Basic
// credentials, ChangePassword is POST /directory/v1/{dn}/changePassword as
// the acting user, and the JSON answers become bridge.Outcome values.
package pingdirectory

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// Config configures a Client.
type Config struct {
	Name      string            // backend name in diagnostics and logs; default "pingdirectory"
	BaseURL   string            // e.g. https://pd.example.com:1443
	CAFile    string            // PEM bundle: trust only these CAs; "" = system roots
	Timeout   time.Duration     // per HTTP request; default 10s
	Transport http.RoundTripper // optional (tests); otherwise a tuned *http.Transport
	// WrapTransport, when set, wraps the transport actually used (the
	// one above or the default), e.g. to count requests for metrics.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	Logger        *slog.Logger

	// The service credential, used for changes whose
	// ChangeRequest.Actor.DN is empty (resets the core authorised for a
	// local account or another route's user): AdminDN and AdminPassword
	// (HTTP Basic), or ServiceToken (an OAuth 2 bearer token), not both.
	// Without one such changes are refused with insufficientAccessRights
	// and nothing is sent.
	AdminDN       string
	AdminPassword bridge.Secret
	ServiceToken  *TokenConfig
}

// Client talks to one PingDirectory server (or load-balanced group). It is
// safe for concurrent use.
type Client struct {
	name    string
	base    *url.URL
	meURL   string // GET /me with the state attributes, the bind's request
	timeout time.Duration
	tr      *transport.Client
	log     *slog.Logger
	admin   bridge.Credentials
	token   *serviceToken // nil: no OAuth 2 service credential
}

var _ bridge.Backend = (*Client)(nil)

const (
	defaultName    = "pingdirectory"
	defaultTimeout = 10 * time.Second
)

// New checks cfg and builds a client; it does not contact the server.
func New(cfg Config) (*Client, error) {
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	name := strings.TrimSpace(cfg.Name)
	if name == "" {
		name = defaultName
	}
	base, err := parseBaseURL(cfg.BaseURL)
	if err != nil {
		bad("%v", err)
	}
	timeout := cfg.Timeout
	switch {
	case timeout < 0:
		bad("timeout %v is negative", timeout)
	case timeout == 0:
		timeout = defaultTimeout
	}
	if cfg.CAFile != "" && base != nil && base.Scheme != "https" {
		bad("caFile %q is set but baseURL is not https", cfg.CAFile)
	}
	if (cfg.AdminDN == "") != cfg.AdminPassword.IsZero() {
		bad("adminDN and adminPassword must be set together")
	}
	if strings.Contains(cfg.AdminDN, ":") {
		bad("adminDN %q contains ':', which HTTP Basic authentication cannot carry", cfg.AdminDN)
	}
	if st := cfg.ServiceToken; st != nil {
		switch {
		case cfg.AdminDN != "":
			bad("a service account is either adminDN and adminPassword or a service token, not both")
		case st.URL == "" || st.ClientID == "" || st.ClientSecret.IsZero():
			bad("the service token needs a token URL, a client id and a client secret")
		}
	}
	var tr *transport.Client
	if len(problems) == 0 {
		if tr, err = transport.New(transport.Config{CAFile: cfg.CAFile, Transport: cfg.Transport, Wrap: cfg.WrapTransport}); err != nil {
			bad("%v", err)
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("configure PingDirectory backend %q: %s", name, strings.Join(problems, "; "))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("backend", name))
	if base.Scheme == "http" && !isLoopback(base.Hostname()) {
		log.Warn("PingDirectory base URL is plain HTTP: passwords cross the network in clear", slog.String("url", base.String()))
	}
	c := &Client{
		name:    name,
		base:    base,
		timeout: timeout,
		tr:      tr,
		log:     log,
		admin:   bridge.Credentials{DN: cfg.AdminDN, Password: bridge.NewSecret(cfg.AdminPassword.Bytes())},
	}
	me := c.endpoint("", "me")
	me.RawQuery = "includeAttributes=" + stateAttributes
	c.meURL = me.String()
	if cfg.ServiceToken != nil {
		c.token = newServiceToken(cfg.ServiceToken, tr.HTTP())
	}
	return c, nil
}

// Name is the backend's name.
func (c *Client) Name() string { return c.name }

func parseBaseURL(s string) (*url.URL, error) {
	if strings.TrimSpace(s) == "" {
		return nil, errors.New("baseURL is required")
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("baseURL %q: %w", s, err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("baseURL %q: scheme must be https (or http)", s)
	case u.Host == "":
		return nil, fmt.Errorf("baseURL %q: no host", s)
	case u.User != nil:
		return nil, fmt.Errorf("baseURL: must not contain credentials")
	case u.RawQuery != "" || u.Fragment != "":
		return nil, fmt.Errorf("baseURL %q: must not have a query or fragment", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Check reports whether the base URL leads to the Directory REST API:
// GET /directory/v1 needs no credentials. An answer of any status from the
// API counts (an outage shows in the operations' results), but a 404 or an
// answer that is not JSON means the base URL is wrong (an API path pasted
// into it, a proxy's page), which must not look ready: every bind would
// fail.
func (c *Client) Check(ctx context.Context) error {
	ex := c.send(ctx, transport.Read, callCheck, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint("", "").String(), nil)
		if err != nil {
			return nil, err
		}
		req.Header.Set("Accept", acceptJSON)
		req.Header.Set("User-Agent", userAgent)
		return req, nil
	})
	switch {
	case ex.Err != nil:
		return fmt.Errorf("check PingDirectory backend %q: %s", c.name, transport.Describe(ex.Err))
	case ex.Status == http.StatusNotFound || (ex.Status < 300 && !transport.IsJSON(ex.Header.Get("Content-Type"))):
		return fmt.Errorf("check PingDirectory backend %q: %s%s answered HTTP %d without the Directory REST API's JSON; check its base URL (without %s)",
			c.name, c.base.Redacted(), apiPath, ex.Status, apiPath)
	}
	return nil
}

// Close closes the client's idle connections (a reload retires it).
func (c *Client) Close() { c.tr.Close() }

// endpoint is {base}/directory/v1[/{dn}][/{suffix}]; the DN is one
// percent-encoded path segment, set in RawPath so that nothing between
// here and the wire re-interprets it.
func (c *Client) endpoint(dn, suffix string) *url.URL {
	u := *c.base
	path, raw := u.Path+apiPath, u.EscapedPath()+apiPath
	if dn != "" {
		path += "/" + dn
		raw += "/" + escapeSegment(dn)
	}
	if suffix != "" {
		path += "/" + suffix
		raw += "/" + suffix
	}
	u.Path, u.RawPath = path, raw
	return &u
}

const apiPath = "/directory/v1"

// escapeSegment percent-encodes s as one path segment. It keeps the
// unreserved characters and the sub-delimiters a DN is written with
// ("=", ",") so that an ordinary DN reads as in the documentation, and
// escapes everything else, including "/", "?", "#", "%", ";" (path
// parameters to Java servers), "+" and "\".
func escapeSegment(s string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if keepInSegment(ch) {
			b.WriteByte(ch)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[ch>>4])
		b.WriteByte(hex[ch&15])
	}
	return b.String()
}

func keepInSegment(ch byte) bool {
	switch {
	case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', '0' <= ch && ch <= '9':
		return true
	}
	return strings.IndexByte("-._~!$&'()*,=:@", ch) >= 0
}
