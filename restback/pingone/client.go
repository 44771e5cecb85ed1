// Package pingone is the bridge's client of the PingOne Platform API and
// its adapter to bridge.Backend: a worker-app token, DN-to-user mapping,
// password check (Bind), self change, administrative set, the LDAP
// gateway, and the translation of PingOne's answers into LDAP outcomes.
package pingone

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/pingone/scimfilter"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// Config configures a Client.
type Config struct {
	// Name is the backend's name in logs.
	Name string
	// EnvironmentID is the PingOne environment.
	EnvironmentID string
	// Region is the PingOne region's top-level domain: com, ca, eu,
	// com.au, sg or asia. AuthURL and APIURL, when set, override it.
	Region string
	// AuthURL is the auth host's root (https://auth.pingone.eu); the token
	// endpoint is AuthURL/{envID}/as/token.
	AuthURL string
	// APIURL is the API host's root (https://api.pingone.eu), with or
	// without the trailing /v1.
	APIURL   string
	ClientID string
	// ClientSecret is the worker application's secret.
	ClientSecret bridge.Secret
	// AuthMethod is "client_secret_basic" (default) or "client_secret_post".
	AuthMethod string
	// UserFilter maps a DN to a PingOne user: a SCIM filter in which
	// {attr} stands for that attribute's value in the DN's first RDN,
	// always inside a quoted string. Default: username eq "{uid}".
	UserFilter string
	// UserCacheSize bounds the DN-to-user-id cache: 0 is the default
	// (10000), a negative size turns the cache off (every operation
	// looks its user up).
	UserCacheSize int
	// UserCacheTTL is how long a user id is trusted (default 5m).
	UserCacheTTL time.Duration
	// PolicyTTL is how long the environment's password policy is cached
	// (default 10m).
	PolicyTTL time.Duration
	// Timeout bounds each operation, retries included (default 15s).
	Timeout time.Duration
	// CAFile is a PEM bundle: PingOne's certificate must chain to one of
	// these CAs, and only to them (see package transport).
	CAFile string
	// Transport replaces the HTTP transport (tests, proxies).
	Transport http.RoundTripper
	// WrapTransport, when set, wraps the transport actually used (the
	// one above or the default), e.g. to count requests for metrics.
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// Attributes is the LDAP↔PingOne attribute map of searches
	// (search.go); nil: scimfilter.DefaultMappings.
	Attributes []scimfilter.Mapping
	// CacheObserver, when set, hears of every lookup in the user ("user")
	// and password policy ("policy") caches, for metrics.
	CacheObserver func(cache string, hit bool)
	Logger        *slog.Logger
}

// Defaults.
const (
	DefaultUserFilter    = `username eq "{uid}"`
	defaultUserCacheSize = 10000
	defaultUserCacheTTL  = 5 * time.Minute
	defaultPolicyTTL     = 10 * time.Minute
	defaultTimeout       = 15 * time.Second
)

// regions are the PingOne regions' top-level domains (regionNames).
var regions = func() map[string]bool {
	m := make(map[string]bool, len(regionNames))
	for _, r := range regionNames {
		m[r] = true
	}
	return m
}()

// Client talks to one PingOne environment. It implements bridge.Backend
// and is safe for concurrent use.
type Client struct {
	name     string
	envID    string
	tokenURL string
	apiBase  string // .../v1/environments/{envID}
	tr       *transport.Client
	timeout  time.Duration
	log      *slog.Logger
	now      func() time.Time

	filter   *filterTemplate
	tokens   *tokenCache
	users    *userCache
	policies *policyCache

	onCache func(cache string, hit bool)
	srch    searchState // search.go
	// bases holds parsed route bases (string → *ldap.DN, read only),
	// at most maxRouteBases of them (basesN counts the stores).
	bases  sync.Map
	basesN atomic.Int64
	// life ends when the client is closed; the shared token, user and
	// policy requests stop with it.
	life context.Context
	stop context.CancelFunc
}

var _ bridge.Backend = (*Client)(nil)

// maxRouteBases bounds the parsed route bases a client keeps: a
// configuration has a handful of routes.
const maxRouteBases = 64

// New checks cfg and builds a client; it does not contact PingOne (Check
// does).
func New(cfg Config) (*Client, error) {
	var problems []error
	if cfg.EnvironmentID == "" {
		problems = append(problems, errors.New("environment id is required"))
	} else if strings.ContainsAny(cfg.EnvironmentID, "/?#% ") {
		problems = append(problems, fmt.Errorf("environment id %q is not a PingOne id", cfg.EnvironmentID))
	}
	if cfg.ClientID == "" {
		problems = append(problems, errors.New("client id is required"))
	}
	if cfg.ClientSecret.IsZero() {
		problems = append(problems, errors.New("client secret is required"))
	}
	var style oauth2.AuthStyle
	switch cfg.AuthMethod {
	case "", "client_secret_basic":
		style = oauth2.AuthStyleInHeader
	case "client_secret_post":
		style = oauth2.AuthStyleInParams
	default:
		problems = append(problems, fmt.Errorf("auth method %q: want client_secret_basic or client_secret_post", cfg.AuthMethod))
	}
	authRoot, apiRoot, err := endpoints(cfg)
	if err != nil {
		problems = append(problems, err)
	}
	ft := cfg.UserFilter
	if ft == "" {
		ft = DefaultUserFilter
	}
	filter, err := parseFilterTemplate(ft)
	if err == nil {
		err = filter.canNameUsers()
	}
	if err != nil {
		problems = append(problems, err)
	}
	tr, err := transport.New(transport.Config{CAFile: cfg.CAFile, Transport: cfg.Transport, Wrap: cfg.WrapTransport})
	if err != nil {
		problems = append(problems, err)
	}
	srch, err := newSearchState(cfg.Attributes, filter)
	if err != nil {
		problems = append(problems, err)
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("pingone: configure %q: %w", cfg.Name, errors.Join(problems...))
	}

	c := &Client{
		name:     cfg.Name,
		envID:    cfg.EnvironmentID,
		tokenURL: authRoot + "/" + url.PathEscape(cfg.EnvironmentID) + "/as/token",
		apiBase:  apiRoot + "/v1/environments/" + url.PathEscape(cfg.EnvironmentID),
		// No client-wide timeout: each operation carries its deadline.
		tr:      tr,
		timeout: orDefault(cfg.Timeout, defaultTimeout),
		log:     cfg.Logger,
		now:     time.Now,
		filter:  filter,
		onCache: cfg.CacheObserver,
		srch:    srch,
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.log = c.log.With("backend", cfg.Name)
	cc := &clientcredentials.Config{
		ClientID:     cfg.ClientID,
		ClientSecret: cfg.ClientSecret.Reveal(),
		TokenURL:     c.tokenURL,
		AuthStyle:    style,
	}
	c.tokens = newTokenCache(cc, tr.HTTP(), func() time.Time { return c.now() }, c.timeout)
	size := cfg.UserCacheSize
	switch {
	case size == 0:
		size = defaultUserCacheSize
	case size < 0:
		size = 0 // off
	}
	c.users = newUserCache(size, orDefault(cfg.UserCacheTTL, defaultUserCacheTTL), func() time.Time { return c.now() })
	c.policies = &policyCache{ttl: orDefault(cfg.PolicyTTL, defaultPolicyTTL)}
	c.life, c.stop = context.WithCancel(context.Background())
	c.tokens.flight.life, c.users.flight.life, c.policies.flight.life = c.life, c.life, c.life
	return c, nil
}

func orDefault(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// endpoints returns the auth and API roots, without trailing slashes.
func endpoints(cfg Config) (authRoot, apiRoot string, err error) {
	if cfg.Region != "" && !regions[cfg.Region] {
		return "", "", fmt.Errorf("region %q: want one of com, ca, eu, com.au, sg, asia", cfg.Region)
	}
	authRoot, apiRoot = cfg.AuthURL, cfg.APIURL
	if authRoot == "" || apiRoot == "" {
		if cfg.Region == "" {
			return "", "", errors.New("a region or both the auth and API URLs are required")
		}
		if authRoot == "" {
			authRoot = "https://auth.pingone." + cfg.Region
		}
		if apiRoot == "" {
			apiRoot = "https://api.pingone." + cfg.Region
		}
	}
	for _, u := range []*string{&authRoot, &apiRoot} {
		p, perr := url.Parse(*u)
		if perr != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.RawQuery != "" || p.Fragment != "" {
			return "", "", fmt.Errorf("URL %q: want an http(s) URL without query", *u)
		}
		*u = strings.TrimRight(*u, "/")
	}
	apiRoot = strings.TrimSuffix(apiRoot, "/v1")
	return authRoot, apiRoot, nil
}

// Check is the readiness probe: a token can be obtained and the API
// answers (it reads the password policies, refreshing their cache).
func (c *Client) Check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if _, err := c.policies.fetch(ctx, c); err != nil {
		return fmt.Errorf("pingone %q: readiness: %w", c.name, err)
	}
	return nil
}

// Close stops the token refresh, user lookup or policy read in progress
// (nothing refreshes in the background: a token is fetched when an
// operation needs one) and closes the idle connections. Operations still
// running finish; one that needed what was stopped fails as unavailable.
func (c *Client) Close() {
	c.stop()
	c.tr.Close()
}

// cacheLookup reports a cache lookup to the CacheObserver, if any.
func (c *Client) cacheLookup(cache string, hit bool) {
	if c.onCache != nil {
		c.onCache(cache, hit)
	}
}
