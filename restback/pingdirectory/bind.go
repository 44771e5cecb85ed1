package pingdirectory

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// stateAttributes are the operational attributes GET /me asks for: the
// password policy state (ds-pwp-state-json, whose field names are the
// UnboundID SDK's PasswordPolicyStateJSONField) and pwdReset, either of
// which tells a must-change password.
const stateAttributes = "ds-pwp-state-json,pwdReset"

// Bind verifies a DN and password with one GET /directory/v1/me.
func (c *Client) Bind(ctx context.Context, req bridge.BindRequest) bridge.Outcome {
	if req.DN == "" || req.Password.IsZero() {
		return bridge.Fail(bridge.UnwillingToPerform, "a bind needs a DN and a password")
	}
	if strings.Contains(req.DN, ":") {
		return bridge.Fail(bridge.UnwillingToPerform, "this DN contains ':', which HTTP Basic authentication to PingDirectory cannot carry")
	}
	ex := c.send(ctx, transport.Read, callBind, func(ctx context.Context) (*http.Request, error) {
		r, err := http.NewRequestWithContext(ctx, http.MethodGet, c.meURL, nil)
		if err != nil {
			return nil, fmt.Errorf("build bind request: %w", err)
		}
		r.Header["Authorization"] = []string{basicAuth(req.DN, req.Password.Bytes())}
		r.Header["Accept"] = acceptHeader
		r.Header["User-Agent"] = userAgentHeader
		return r, nil
	})
	out := c.bindOutcome(ex, req.Controls.PasswordPolicy)
	out.RequestID = transport.RequestID(ex.Header)
	ex.Release()
	return out
}

// Fixed header values, shared by every request (net/http only reads them).
var (
	acceptHeader    = []string{acceptJSON}
	userAgentHeader = []string{userAgent}
)

// credPool holds the buffers Basic credentials are built in; each is
// wiped before it goes back.
var credPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// basicAuth is the Authorization value "Basic base64(dn:password)" built
// in a pooled buffer that is wiped afterwards, so that the only copies of
// the password are the Secret and the header value net/http sends.
func basicAuth(dn string, password []byte) string {
	const prefix = "Basic "
	rawLen := len(dn) + 1 + len(password)
	n := base64.StdEncoding.EncodedLen(rawLen)
	bp := credPool.Get().(*[]byte)
	if cap(*bp) < rawLen+len(prefix)+n {
		// Grown before anything is written: no unwiped copy is left.
		*bp = make([]byte, 0, rawLen+len(prefix)+n)
	}
	buf := (*bp)[:rawLen+len(prefix)+n]
	raw := append(append(append(buf[:0], dn...), ':'), password...)
	out := buf[rawLen:]
	copy(out, prefix)
	base64.StdEncoding.Encode(out[len(prefix):], raw)
	v := string(out)
	clear(buf)
	credPool.Put(bp)
	return v
}

func (c *Client) bindOutcome(ex *exchange, wantPolicy bool) bridge.Outcome {
	if ex.Err != nil {
		return c.transportOutcome(opBind, ex)
	}
	if ex.Status >= 200 && ex.Status < 300 {
		if ex.BodyErr != nil || !transport.IsJSON(ex.Header.Get("Content-Type")) {
			// A 200 that is not the entry (a proxy's page) proves nothing.
			return bridge.Fail(bridge.Unavailable, fmt.Sprintf(
				"PingDirectory backend %q answered HTTP %d without a readable JSON entry", c.name, ex.Status))
		}
		st, err := decodeState(ex.Body)
		if err != nil {
			return bridge.Fail(bridge.Unavailable, fmt.Sprintf(
				"PingDirectory backend %q answered HTTP %d with an unreadable entry", c.name, ex.Status))
		}
		// The identity rule (bridge/identity.go): the user is the entry
		// the server authenticated, by the DN it gives (_dn), not the
		// client's spelling of it.
		out := bridge.Outcome{Code: bridge.Success, MustChange: st.mustChange, Subject: st.dn}
		if wantPolicy {
			out.Policy = st.policy()
		}
		return out
	}
	res, hasRes := readResult(ex)
	out := c.statusOutcome(opBind, ex, res, hasRes)
	if out.Code == bridge.InvalidCredentials {
		// The client sees the core's wrong-password words whatever the
		// reason (unknown entry, locked, wrong password); the server's
		// own reason, when it gives one, is for the audit record.
		out.Reason = fmt.Sprintf("PingDirectory refused the credentials (HTTP %d)", ex.Status)
		if hasRes && res.diagnostic != "" {
			out.Reason += ": " + transport.Sanitize(res.diagnostic, 200)
		}
	}
	if wantPolicy && out.Code == bridge.InvalidCredentials && hasRes {
		// Only what the answer says: a ppolicy control with an error.
		if _, p, _ := responseControls(res.controls); p != nil && p.Error != bridge.PolicyErrorNone {
			out.Policy = &bridge.Policy{Error: p.Error}
		}
	}
	return out
}

// bindState is what a successful bind learns from the entry.
type bindState struct {
	dn           string // the entry's _dn
	mustChange   bool
	expired      bool
	secondsLeft  *int64 // until the password expires
	warnInterval *int64
	expiring     bool // an account usability warning "password-expiring"
	graceLeft    *int64
}

// pwpStateJSON holds the ds-pwp-state-json fields the bridge uses.
type pwpStateJSON struct {
	MustChange      *bool  `json:"must-change-password"`
	Expired         *bool  `json:"password-is-expired"`
	SecondsLeft     *int64 `json:"seconds-until-password-expiration"`
	WarnInterval    *int64 `json:"password-expiration-warning-interval-seconds"`
	GraceRemaining  *int64 `json:"remaining-grace-login-count"`
	UsabilityNotice []struct {
		TypeName string `json:"type-name"`
	} `json:"account-usability-warnings"`
}

// decodeState reads the entry of GET /me. The state attributes are
// optional (access controls may hide them): without them the bind is
// plain success.
//
// Only the three attributes the bind uses are decoded (meEntry): the
// decoder skips every other attribute without building it, and each of
// the three reads its value in place (no copy of the raw JSON). A value
// of an unexpected shape is treated as absent, as before. (Attribute
// names match as encoding/json matches struct fields: exactly, else
// case-insensitively; LDAP attribute names are case-insensitive anyway.)
func decodeState(body []byte) (bindState, error) {
	var st bindState
	// Only an object is an entry ("null", an array: not one).
	if t := bytes.TrimLeft(body, " \t\r\n"); len(t) == 0 || t[0] != '{' {
		if err := json.Unmarshal(body, new(struct{})); err != nil {
			return st, fmt.Errorf("decode entry: %w", err)
		}
		return st, errors.New("decode entry: not a JSON object")
	}
	var entry meEntry
	if err := json.Unmarshal(body, &entry); err != nil {
		return st, fmt.Errorf("decode entry: %w", err)
	}
	if entry.State.ok {
		p := &entry.State.p
		st.mustChange = p.MustChange != nil && *p.MustChange
		st.expired = p.Expired != nil && *p.Expired
		st.secondsLeft, st.warnInterval, st.graceLeft = p.SecondsLeft, p.WarnInterval, p.GraceRemaining
		for _, w := range p.UsabilityNotice {
			if w.TypeName == "password-expiring" {
				st.expiring = true
			}
		}
	}
	// _dn not a string: left out, the core then names the user by the
	// DN as bound.
	st.dn = string(entry.DN)
	if entry.PwdReset {
		st.mustChange = true
	}
	return st, nil
}

// meEntry is the part of the /me entry a bind reads.
type meEntry struct {
	DN       dnField     `json:"_dn"`
	State    stateField  `json:"ds-pwp-state-json"`
	PwdReset truthyField `json:"pwdReset"`
}

// dnField is _dn when it is a JSON string, else "".
type dnField string

func (f *dnField) UnmarshalJSON(b []byte) error {
	var s string
	if json.Unmarshal(b, &s) == nil {
		*f = dnField(s)
	} else {
		*f = ""
	}
	return nil
}

// stateField is ds-pwp-state-json, ok when it holds an object.
type stateField struct {
	p  pwpStateJSON
	ok bool
}

func (f *stateField) UnmarshalJSON(b []byte) error {
	*f = stateField{}
	js, ok := stateObject(b)
	if !ok {
		return nil
	}
	// A field of an unexpected type is skipped, the rest kept.
	var typeErr *json.UnmarshalTypeError
	if err := json.Unmarshal(js, &f.p); err == nil || errors.As(err, &typeErr) {
		f.ok = true
	} else {
		f.p = pwpStateJSON{}
	}
	return nil
}

// truthyField is an LDAP boolean (truthy).
type truthyField bool

func (f *truthyField) UnmarshalJSON(b []byte) error {
	*f = truthyField(truthy(b))
	return nil
}

// stateObject finds the JSON object in an attribute value, which the API
// may give as the object, a one-element array, or a string holding it.
func stateObject(raw json.RawMessage) (json.RawMessage, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, false
	}
	switch raw[0] {
	case '{':
		return raw, true
	case '[':
		var arr []json.RawMessage
		if json.Unmarshal(raw, &arr) != nil || len(arr) == 0 {
			return nil, false
		}
		return stateObject(arr[0])
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, false
		}
		s = strings.TrimSpace(s)
		if !strings.HasPrefix(s, "{") {
			return nil, false
		}
		return json.RawMessage(s), true
	}
	return nil, false
}

// truthy reads an LDAP boolean as the API may render it: true, "TRUE",
// or either in an array.
func truthy(raw json.RawMessage) bool {
	var b bool
	if json.Unmarshal(raw, &b) == nil {
		return b
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return strings.EqualFold(strings.TrimSpace(s), "true")
	}
	var arr []json.RawMessage
	if json.Unmarshal(raw, &arr) == nil && len(arr) > 0 {
		return truthy(arr[0])
	}
	return false
}

// policy is the ppolicy response for a successful bind: changeAfterReset
// for a must-change password, and a warning when the password is in its
// expiry warning interval (or a grace login was used).
func (st bindState) policy() *bridge.Policy {
	p := bridge.NoPolicy()
	switch {
	case st.expired && st.graceLeft != nil:
		p.Warning, p.WarningValue = bridge.GraceAuthNsRemaining, max(*st.graceLeft, 0)
	case st.secondsLeft != nil && *st.secondsLeft >= 0 &&
		(st.expiring || (st.warnInterval != nil && *st.secondsLeft <= *st.warnInterval)):
		p.Warning, p.WarningValue = bridge.TimeBeforeExpiration, *st.secondsLeft
	}
	if st.mustChange {
		p.Error = bridge.ChangeAfterReset
	}
	if p.Warning == bridge.WarningNone && p.Error == bridge.PolicyErrorNone {
		return nil
	}
	return &p
}
