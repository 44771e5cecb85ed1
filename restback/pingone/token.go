package pingone

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"

	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// tokenCache holds the worker application's access token: reused until
// shortly before it expires, refreshed by one request however many
// operations wait for it, and dropped when the API answers 401.
type tokenCache struct {
	cc      *clientcredentials.Config
	hc      *http.Client
	now     func() time.Time
	timeout time.Duration

	mu        sync.Mutex
	token     string
	refreshAt time.Time

	flight flightGroup[struct{}, string]
}

// defaultTokenLifetime is assumed when the token response has no
// expires_in (PingOne always sends one: 3600).
const defaultTokenLifetime = 5 * time.Minute

func newTokenCache(cc *clientcredentials.Config, hc *http.Client, now func() time.Time, timeout time.Duration) *tokenCache {
	return &tokenCache{cc: cc, hc: hc, now: now, timeout: timeout}
}

func (t *tokenCache) current() (string, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token != "" && t.now().Before(t.refreshAt) {
		return t.token, true
	}
	return "", false
}

// get returns a usable token, fetching one if needed.
func (t *tokenCache) get(ctx context.Context) (string, error) {
	if tok, ok := t.current(); ok {
		return tok, nil
	}
	return t.flight.do(ctx, struct{}{}, t.timeout, t.fetch)
}

func (t *tokenCache) fetch(ctx context.Context) (string, error) {
	// Another flight may have finished between our look and this one.
	if tok, ok := t.current(); ok {
		return tok, nil
	}
	start := t.now()
	tok, err := t.cc.Token(context.WithValue(transport.WithCall(ctx, callToken), oauth2.HTTPClient, t.hc))
	if err != nil {
		return "", err
	}
	if tok.AccessToken == "" {
		return "", errors.New("token response has no access_token")
	}
	lifetime := defaultTokenLifetime
	if !tok.Expiry.IsZero() {
		lifetime = time.Until(tok.Expiry)
	}
	// Refresh a minute early, or a tenth of the lifetime for short ones,
	// so that a token never expires between our check and PingOne's.
	margin := min(time.Minute, lifetime/10)
	t.mu.Lock()
	t.token = tok.AccessToken
	t.refreshAt = start.Add(lifetime - margin)
	t.mu.Unlock()
	return tok.AccessToken, nil
}

// invalidate forgets tok after PingOne refused it, unless a newer token
// already replaced it.
func (t *tokenCache) invalidate(tok string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.token == tok {
		t.token = ""
	}
}

// tokenFailure describes a failed token request without the secret:
// only the HTTP status and the OAuth error code are kept.
func tokenFailure(ctx context.Context, err error) *opError {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		status := 0
		if re.Response != nil {
			status = re.Response.StatusCode
		}
		detail := fmt.Sprintf("token request answered HTTP %d", status)
		if re.ErrorCode != "" {
			detail += " " + sanitize(re.ErrorCode, 64)
		}
		switch {
		case status == http.StatusBadRequest || status == http.StatusUnauthorized || status == http.StatusForbidden:
			return &opError{f: fCredentials, detail: detail + "; check the worker application's client id, secret and authentication method"}
		case status == http.StatusTooManyRequests:
			return &opError{f: fBusy, detail: detail}
		case status == http.StatusServiceUnavailable:
			return &opError{f: fUnreachable, detail: detail}
		default:
			return &opError{f: fServerError, detail: detail}
		}
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return &opError{f: fCanceled, err: err}
	}
	if transport.IsDialError(err) {
		return &opError{f: fUnreachable, detail: "token request: " + transport.Reason(err), notSent: true, err: err}
	}
	return &opError{f: fUnreachable, detail: "token request: " + transport.Reason(err), err: err}
}
