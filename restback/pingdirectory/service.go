package pingdirectory

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// TokenConfig is a service credential of the OAuth 2 kind: an access token
// obtained with the client credentials grant (RFC 6749 §4.4) from an
// authorization server such as PingFederate, sent to PingDirectory as
// "Authorization: Bearer" (the Getting Started page's second
// authentication type; PingDirectory checks it with an access token
// validator).
type TokenConfig struct {
	URL          string
	ClientID     string
	ClientSecret bridge.Secret
	Scopes       []string
}

// callToken names the token request for the metrics.
const callToken = "token"

// serviceToken holds the service account's access token: reused until
// shortly before it expires, fetched by one request at a time, dropped
// when PingDirectory answers 401.
type serviceToken struct {
	cc  *clientcredentials.Config
	hc  *http.Client
	now func() time.Time
	// sem is held while a token is fetched; waiting for it ends with
	// the caller's context.
	sem chan struct{}

	mu        sync.Mutex
	token     string
	refreshAt time.Time
}

const (
	// defaultTokenLifetime is assumed when the answer has no expires_in.
	defaultTokenLifetime = 5 * time.Minute
	// maxTokenAttempts and tokenBackoff bound the token requests made
	// while the authorization server cannot be reached.
	maxTokenAttempts = 3
	tokenBackoff     = 50 * time.Millisecond
)

func newServiceToken(cfg *TokenConfig, hc *http.Client) *serviceToken {
	return &serviceToken{
		cc: &clientcredentials.Config{
			ClientID:     cfg.ClientID,
			ClientSecret: cfg.ClientSecret.Reveal(),
			TokenURL:     cfg.URL,
			Scopes:       append([]string(nil), cfg.Scopes...),
			// Basic first, then the form, as RFC 6749 §2.3.1 allows.
			AuthStyle: oauth2.AuthStyleAutoDetect,
		},
		hc:  hc,
		now: time.Now,
		sem: make(chan struct{}, 1),
	}
}

func (t *serviceToken) current() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.token, t.token != "" && t.now().Before(t.refreshAt)
}

// get returns a usable token, fetching one if needed within ctx.
func (t *serviceToken) get(ctx context.Context) (string, error) {
	if tok, ok := t.current(); ok {
		return tok, nil
	}
	select {
	case t.sem <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-t.sem }()
	// Another caller may have fetched one while this one waited.
	if tok, ok := t.current(); ok {
		return tok, nil
	}
	start := t.now()
	var tok *oauth2.Token
	var err error
	for attempt := 1; ; attempt++ {
		// A read: sent again while the connection cannot be made
		// (package transport's rule), within the caller's deadline.
		tok, err = t.cc.Token(context.WithValue(transport.WithCall(ctx, callToken), oauth2.HTTPClient, t.hc))
		if err == nil || attempt == maxTokenAttempts || !transport.IsDialError(err) ||
			!transport.Sleep(ctx, time.Duration(attempt)*tokenBackoff) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", errors.New("the token answer has no access_token")
	}
	lifetime := defaultTokenLifetime
	if !tok.Expiry.IsZero() {
		lifetime = tok.Expiry.Sub(start)
	}
	margin := min(time.Minute, lifetime/10)
	t.mu.Lock()
	t.token, t.refreshAt = tok.AccessToken, start.Add(lifetime-margin)
	t.mu.Unlock()
	return tok.AccessToken, nil
}

// invalidate forgets tok after PingDirectory refused it, unless a newer
// one already replaced it.
func (t *serviceToken) invalidate(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == tok {
		t.token = ""
	}
}

// tokenOutcome is the outcome of a change that could not get its access
// token: nothing was sent to PingDirectory. The client learns that the
// bridge's credential failed, never as a wrong password; the log keeps
// the cause (the authorization server's address, the dial error).
func (c *Client) tokenOutcome(ctx context.Context, err error) bridge.Outcome {
	var re *oauth2.RetrieveError
	switch {
	case errors.As(err, &re):
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		code := ""
		if re.ErrorCode != "" {
			code = " " + sanitize(re.ErrorCode, 64)
		}
		c.log.WarnContext(ctx, "PingDirectory service account: the token request was refused", "status", status, "error_code", strings.TrimSpace(code))
		if status == http.StatusTooManyRequests {
			return bridge.Fail(bridge.Busy, fmt.Sprintf("PingDirectory backend %q: the authorization server is busy (HTTP 429)", c.name))
		}
		return bridge.Fail(bridge.Unavailable, fmt.Sprintf(
			"PingDirectory backend %q: the authorization server refused the bridge's service credentials (HTTP %d%s)", c.name, status, code))
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		return bridge.Fail(bridge.Canceled, "operation canceled")
	}
	c.log.WarnContext(ctx, "PingDirectory service account: no access token", "err", transport.Describe(err))
	return bridge.Fail(bridge.Unavailable, fmt.Sprintf("PingDirectory backend %q is unavailable: no access token for its service account", c.name))
}
