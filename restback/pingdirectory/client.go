// Package pingdirectory is the bridge's client of the PingDirectory
// Directory REST API: Bind is GET /directory/v1/me with the user's Basic
// credentials, ChangePassword is POST /directory/v1/{dn}/changePassword as
// the acting user, and the JSON answers become bridge.Outcome values.
package pingdirectory

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// Config configures a Client.
type Config struct {
	Name      string            // backend name in diagnostics and logs; default "pingdirectory"
	BaseURL   string            // e.g. https://pd.example.com:1443
	CAFile    string            // PEM bundle of CAs to trust; "" = system roots
	Timeout   time.Duration     // per HTTP request; default 10s
	Transport http.RoundTripper // optional (tests); otherwise a tuned *http.Transport
	// WrapTransport, when set, wraps the transport actually used (the
	// one above or the default), e.g. to count requests for metrics.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	Logger        *slog.Logger

	// AdminDN and AdminPassword, when set, are the identity used for
	// changes whose ChangeRequest.Actor.DN is empty (resets requested by
	// the bridge's own service accounts). Without them such changes are
	// refused with unwillingToPerform.
	AdminDN       string
	AdminPassword bridge.Secret
}

// Client talks to one PingDirectory server (or load-balanced group). It is
// safe for concurrent use.
type Client struct {
	name    string
	base    *url.URL
	timeout time.Duration
	http    *http.Client
	log     *slog.Logger
	admin   bridge.Credentials
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
	if cfg.Transport != nil && cfg.CAFile != "" {
		bad("caFile and a custom transport are exclusive (the transport has its own TLS settings)")
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
	rt := cfg.Transport
	if rt == nil && len(problems) == 0 {
		var pool *x509.CertPool
		if cfg.CAFile != "" {
			if pool, err = loadCAFile(cfg.CAFile); err != nil {
				bad("%v", err)
			}
		}
		rt = newTransport(pool)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("configure PingDirectory backend %q: %s", name, strings.Join(problems, "; "))
	}
	if cfg.WrapTransport != nil {
		rt = cfg.WrapTransport(rt)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(slog.String("backend", name))
	if base.Scheme == "http" && !isLoopback(base.Hostname()) {
		log.Warn("PingDirectory base URL is plain HTTP: passwords cross the network in clear", slog.String("url", base.String()))
	}
	return &Client{
		name:    name,
		base:    base,
		timeout: timeout,
		http: &http.Client{
			Transport: rt,
			// A redirect is a misconfigured base URL; following it would
			// turn a POST into a GET or send credentials elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		log:   log,
		admin: bridge.Credentials{DN: cfg.AdminDN, Password: bridge.NewSecret(cfg.AdminPassword.Bytes())},
	}, nil
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

func loadCAFile(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read caFile: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("caFile %q holds no PEM certificate", path)
	}
	return pool, nil
}

// newTransport is a keep-alive pool sized for a bridge that sends many
// concurrent binds to one host, HTTP/2 when the server offers it, TLS 1.2+.
func newTransport(roots *x509.CertPool) *http.Transport {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:             http.ProxyFromEnvironment,
		DialContext:       d.DialContext,
		ForceAttemptHTTP2: true,
		// Up to one idle connection per concurrent LDAP operation: a
		// smaller pool churned thousands of new connections a second
		// at 256 LDAP connections (docs/performance.md).
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   1024,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
		TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: roots},
	}
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// Check reports whether the API answers at all: any HTTP status counts
// (GET /directory/v1 needs no credentials); only a transport failure is an
// error.
func (c *Client) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.endpoint("", "").String(), nil)
	if err != nil {
		return fmt.Errorf("check PingDirectory backend %q: %w", c.name, err)
	}
	req.Header.Set("Accept", acceptJSON)
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("check PingDirectory backend %q: %s", c.name, describe(err))
	}
	resp.Body.Close()
	return nil
}

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
