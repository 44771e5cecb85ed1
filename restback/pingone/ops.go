package pingone

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-ldap/ldap/v3"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// passwordState is PingOne's password state resource, as the password
// operations return it.
type passwordState struct {
	Status   string `json:"status"`
	Warnings *struct {
		Expires string `json:"expires"`
	} `json:"warnings"`
}

// The password statuses of the PingOne API.
const (
	statusOK         = "OK"
	statusMustChange = "MUST_CHANGE_PASSWORD"
	statusExpired    = "PASSWORD_EXPIRED"
	statusLockedOut  = "PASSWORD_LOCKED_OUT"
	statusNoPassword = "NO_PASSWORD"
	statusExternal   = "EXTERNAL"
)

func decodeState(body []byte) (*passwordState, error) {
	var st passwordState
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, fmt.Errorf("decode password state: %w", err)
	}
	if st.Status == "" {
		return nil, errors.New("decode password state: no status")
	}
	return &st, nil
}

// expiryWarning is the seconds until warnings.expires, measured on the
// server's clock (its Date header) so that clock skew does not matter.
func expiryWarning(st *passwordState, h http.Header, now time.Time) (int64, bool) {
	if st.Warnings == nil || st.Warnings.Expires == "" {
		return 0, false
	}
	exp, err := time.Parse(time.RFC3339Nano, st.Warnings.Expires)
	if err != nil {
		return 0, false
	}
	if d, err := http.ParseTime(h.Get("Date")); err == nil {
		now = d
	}
	secs := int64(exp.Sub(now) / time.Second)
	return max(secs, 0), true
}

// Bind checks the DN's password with PingOne (password.check), as the
// Password Check page documents it: 200 with the password state when the
// password matched (status OK, MUST_CHANGE_PASSWORD or PASSWORD_EXPIRED),
// 400 otherwise (a wrong password, NO_PASSWORD, PASSWORD_LOCKED_OUT).
func (c *Client) Bind(ctx context.Context, req bridge.BindRequest) bridge.Outcome {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	if req.Password.IsZero() || !textPassword(req.Password.Bytes()) {
		// PingOne passwords are text; nothing else can match.
		return c.failBind(req.DN, &opError{f: fWrongPassword, detail: "the password is not UTF-8 text"})
	}
	pdn := req.Parsed // the core's parse of req.DN
	if pdn == nil {
		var err error
		if pdn, err = bridge.ParseDN(req.DN); err != nil {
			pdn = nil
		}
	}
	if pdn == nil || len(pdn.RDNs) == 0 || !c.filter.firstRDN(pdn) {
		// Not the shape of a user's canonical DN: no request (the core
		// checks the base too, with CanonicalDN).
		return c.failBind(req.DN, &opError{f: fBadDN, detail: "not the canonical DN of a user"})
	}
	body := newBody().secret("password", req.Password.Bytes()).bytes()
	defer clear(body)
	resp, u, oe := c.userCallAsDN(ctx, req.DN, pdn, checkCall, http.MethodPost, mediaCheck, body)
	defer resp.release() // nothing below keeps a slice of its body
	// From here on the user is named as PingOne holds it (the identity
	// rule, bridge/identity.go), for the session, the audit record and
	// the failed-bind throttle alike.
	subject := ""
	if u.id != "" {
		subject = subjectDN(u, req.DN, req.Route)
	}
	named := func(out bridge.Outcome) bridge.Outcome {
		out.Subject = subject
		return out
	}
	if oe != nil {
		return named(c.failBind(req.DN, oe))
	}
	if resp.status != http.StatusOK {
		oe := classify(resp.status, resp.body, resp.requestID)
		if oe.f == fRejected && resp.status == http.StatusBadRequest && !strings.EqualFold(oe.apiCode, "INVALID_REQUEST") {
			// The Password Check page documents a 400 for a password
			// that does not match and for the statuses NO_PASSWORD and
			// PASSWORD_LOCKED_OUT, without showing their bodies: any
			// other well-formed refusal of the check is one of them, and
			// answers as a wrong password does. (INVALID_REQUEST is a
			// request PingOne could not read: the bridge's fault.)
			oe.f = fCheckRefused
		}
		return named(c.failBind(req.DN, oe, req.Password))
	}
	st, err := decodeState(resp.body)
	if err != nil {
		return named(c.failBind(req.DN, &opError{f: fProtocol, detail: err.Error(), requestID: resp.requestID}))
	}
	var out bridge.Outcome
	switch st.Status {
	case statusOK:
		out = bridge.Outcome{Code: bridge.Success}
	case statusMustChange:
		out = bridge.Outcome{Code: bridge.Success, MustChange: true}
		if req.Controls.PasswordPolicy {
			out.Policy = bridge.PolicyErr(bridge.ChangeAfterReset)
		}
	case statusExpired:
		return named(c.failBind(req.DN, &opError{f: fExpired, requestID: resp.requestID}))
	case statusLockedOut:
		// Documented as a 400, but a 200 saying so is as clear.
		return named(c.failBind(req.DN, &opError{f: fLocked, detail: "password status " + st.Status, requestID: resp.requestID}))
	case statusNoPassword, statusExternal:
		return named(c.failBind(req.DN, &opError{f: fNoPassword, detail: "password status " + st.Status, requestID: resp.requestID}))
	default:
		return named(c.failBind(req.DN, &opError{f: fProtocol, detail: "unknown password status " + sanitize(st.Status, 64), requestID: resp.requestID}))
	}
	if secs, ok := expiryWarning(st, resp.header, c.now()); ok {
		if out.Policy == nil {
			p := bridge.NoPolicy()
			out.Policy = &p
		}
		out.Policy.Warning, out.Policy.WarningValue = bridge.TimeBeforeExpiration, secs
	}
	out.RequestID = resp.requestID
	out.Subject = subject
	return c.done("bind", req.DN, out)
}

// failBind is a failed bind's outcome. Its reason is logged in full; the
// client sees what the mapping table lets it see (a quiet row: nothing
// beyond invalidCredentials). secrets are scrubbed from both.
func (c *Client) failBind(dn string, oe *opError, secrets ...bridge.Secret) bridge.Outcome {
	out := oe.outcome(opBind)
	out.Diagnostic = scrub(out.Diagnostic, secrets...)
	// The reason goes to the audit record and the log, never to the
	// client (a quiet row's Diagnostic is empty).
	out.Reason = scrub(oe.Error(), secrets...)
	c.log.Debug("pingone: bind refused", "dn", dn, "reason", out.Reason)
	return c.done("bind", dn, out)
}

// ChangePassword performs a self change (password.reset) or an
// administrative reset (password.set), generating the new password when
// the request has none.
func (c *Client) ChangePassword(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var out bridge.Outcome
	switch req.Kind {
	case bridge.SelfChange:
		out = c.selfChange(ctx, req)
	case bridge.AdminReset:
		out = c.adminReset(ctx, req)
	default:
		out = bridge.Fail(bridge.UnwillingToPerform, "unknown kind of password change")
	}
	return c.done(req.Kind.String()+" change", req.Target, out)
}

// change is what a password change needs after its body is sent.
type change struct {
	self       bool
	current    bridge.Secret // the proof of a self change (not owned)
	candidate  bridge.Secret // the new password
	generated  bool
	validated  bool // false: PingOne does not check it (pre-encoded, bypassPolicy)
	mustChange bool
	controls   bridge.RequestControls
}

func (c *Client) selfChange(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
	current := req.OldPassword
	if current.IsZero() && sameDN(req.Actor.DN, req.Target) {
		// The session's own bind password proves the change.
		current = req.Actor.Password
	}
	if current.IsZero() {
		out := (&opError{f: fNoOldPassword}).outcome(opChange)
		if req.Controls.ValidationDetails {
			out.Validation = &bridge.ValidationDetails{ResponseType: bridge.NoValidationAttempted, MissingCurrentPassword: true}
		}
		return out
	}
	if !textPassword(current.Bytes()) {
		return (&opError{f: fWrongPassword}).outcome(opChange)
	}
	ch, out, ok := c.candidate(ctx, req, true)
	if !ok {
		return out
	}
	defer ch.wipe()
	ch.current = current
	body := newBody().
		secret("currentPassword", current.Bytes()).
		secret("newPassword", ch.candidate.Bytes()).
		bytes()
	defer clear(body)
	resp, oe := c.userCall(ctx, req.Target, changeCall, http.MethodPut, mediaReset, body)
	return c.changeResult(ctx, ch, resp, oe)
}

func (c *Client) adminReset(ctx context.Context, req bridge.ChangeRequest) bridge.Outcome {
	var ext any
	if gw := req.Route.Gateway; gw != nil {
		ref, err := gatewayBody(req.Target, *gw)
		if err != nil {
			return (&opError{f: fCorrelation, detail: err.Error()}).outcome(opChange)
		}
		ext = map[string]any{"gateway": ref}
	}
	ch, out, ok := c.candidate(ctx, req, false)
	if !ok {
		return out
	}
	defer ch.wipe()
	ch.mustChange = req.Route.ForceChange
	ch.validated = !req.Route.BypassPolicy && !preEncoded(ch.candidate.Bytes())
	bb := newBody().
		secret("value", ch.candidate.Bytes()).
		boolean("forceChange", req.Route.ForceChange)
	if req.Route.BypassPolicy {
		bb.boolean("bypassPolicy", true)
	}
	if ext != nil {
		if _, err := bb.value("external", ext); err != nil {
			clear(bb.b)
			return (&opError{f: fCorrelation, detail: "encode external.gateway"}).outcome(opChange)
		}
	}
	body := bb.bytes()
	defer clear(body)
	resp, oe := c.userCall(ctx, req.Target, changeCall, http.MethodPut, mediaSet, body)
	return c.changeResult(ctx, ch, resp, oe)
}

// candidate settles the new password: the request's, or a generated one
// that satisfies the environment's policy.
func (c *Client) candidate(ctx context.Context, req bridge.ChangeRequest, self bool) (*change, bridge.Outcome, bool) {
	ch := &change{self: self, validated: true, controls: req.Controls}
	if !req.NewPassword.IsZero() {
		if !textPassword(req.NewPassword.Bytes()) {
			return nil, (&opError{f: fRejected, detail: "PingOne passwords must be UTF-8 text"}).outcome(opChange), false
		}
		ch.candidate = bridge.NewSecret(req.NewPassword.Bytes())
		return ch, bridge.Outcome{}, true
	}
	p, oe := c.policies.get(ctx, c)
	if oe != nil {
		return nil, oe.outcome(opChange), false
	}
	pw, err := generatePassword(p)
	if err != nil {
		return nil, bridge.Fail(bridge.Other, err.Error()), false
	}
	ch.candidate, ch.generated = pw, true
	return ch, bridge.Outcome{}, true
}

func (ch *change) wipe() { ch.candidate.Wipe() }

// changeResult maps the answer to a password change.
func (c *Client) changeResult(ctx context.Context, ch *change, resp *response, oe *opError) bridge.Outcome {
	if oe != nil {
		return oe.outcome(opChange)
	}
	if resp.status/100 == 2 && !isJSONMedia(resp.header.Get("Content-Type")) {
		// A 2xx that is not PingOne's JSON (a proxy's or portal's page)
		// does not prove PingOne applied the change, nor that it did not.
		return (&opError{f: fOutcomeUnknown, detail: "a 2xx answer that is not PingOne's JSON", requestID: resp.requestID}).outcome(opChange)
	}
	if resp.status/100 == 2 {
		// The answer is the password state (the Update Password pages'
		// 200 bodies): its status says whether the user must change the
		// password now (MUST_CHANGE_PASSWORD after a set with
		// forceChange), whatever the route asked for. Only when the state
		// cannot be read does the route's configuration stand in for it.
		if st, err := decodeState(resp.body); err == nil {
			ch.mustChange = st.Status == statusMustChange
		} else {
			c.log.Debug("pingone: password change answered without a readable state; must-change taken from the route", "err", err.Error())
		}
		out := bridge.Outcome{Code: bridge.Success, RequestID: resp.requestID}
		if ch.generated {
			out.GeneratedPassword = bridge.NewSecret(ch.candidate.Bytes())
		}
		if ch.controls.ValidationDetails {
			out.Validation = c.validation(ctx, ch)
		}
		return out
	}
	oe = classify(resp.status, resp.body, resp.requestID)
	if oe.unmet == nil && !oe.policyRefusal {
		out := oe.outcome(opChange)
		out.Diagnostic = scrub(out.Diagnostic, ch.candidate, ch.current)
		return out
	}
	p, _ := c.policies.get(ctx, c) // best effort: the words are better with it
	var reqs []requirement
	if p != nil {
		reqs = p.requirements(ch.self)
	}
	var js []judged
	if oe.unmet != nil {
		// PingOne named the unsatisfied requirements: they, and only
		// they, are unmet.
		js = judgeByPingOne(reqs, oe.unmet, ch.candidate.Bytes())
		if oe.f == fTooShort && p != nil && p.Length != nil && p.Length.Max > 0 && utf8.RuneCount(ch.candidate.Bytes()) > p.Length.Max {
			// "length" alone, for a password longer than the maximum.
			oe.f = fQuality
		}
	} else {
		// PingOne refused the value for its policy without saying why:
		// only here does the bridge's own evaluation speak.
		js = judgeLocally(reqs, ch.candidate.Bytes())
		oe.f = fQuality
		if names := unmetNames(js); len(names) > 0 {
			oe.f = policyFailure(names)
		}
	}
	out := oe.outcome(opChange)
	if words := unmetWords(js); words != "" {
		out.Diagnostic = rules[oe.f].diag + ": " + words
	} else {
		out.Diagnostic = scrub(out.Diagnostic, ch.candidate, ch.current)
	}
	if ch.controls.ValidationDetails && len(js) > 0 {
		out.Validation = &bridge.ValidationDetails{ResponseType: bridge.ValidationPerformed, Results: results(js)}
	}
	return out
}

// validation is the Password Validation Details for a successful change.
func (c *Client) validation(ctx context.Context, ch *change) *bridge.ValidationDetails {
	if !ch.validated {
		return &bridge.ValidationDetails{ResponseType: bridge.NoValidationAttempted, MustChangePassword: ch.mustChange}
	}
	p, oe := c.policies.get(ctx, c)
	if oe != nil {
		return nil
	}
	reqs := p.requirements(ch.self)
	return &bridge.ValidationDetails{
		ResponseType:       bridge.ValidationPerformed,
		Results:            evaluate(reqs, nil, ch.candidate.Bytes()),
		MustChangePassword: ch.mustChange,
	}
}

// preEncoded reports whether a value is a pre-encoded password
// ({SSHA512}..., {BCRYPT}...), which PingOne stores as is.
func preEncoded(v []byte) bool {
	if len(v) < 3 || v[0] != '{' {
		return false
	}
	end := bytes.IndexByte(v[:min(len(v), 16)], '}')
	if end < 2 {
		return false
	}
	for _, ch := range v[1:end] {
		if !(ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '-' || ch == '_') {
			return false
		}
	}
	return len(v) > end+1
}

func sameDN(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	da, err1 := bridge.ParseDN(a)
	db, err2 := bridge.ParseDN(b)
	return err1 == nil && err2 == nil && da.EqualFold(db)
}

// done logs an outcome (never a password: Outcome.LogValue leaves them
// out) and returns it.
func (c *Client) done(what, dn string, out bridge.Outcome) bridge.Outcome {
	lvl := slog.LevelDebug
	switch out.Code {
	case bridge.Success, bridge.InvalidCredentials, bridge.ConstraintViolation:
	case bridge.Unavailable, bridge.Busy, bridge.Other:
		lvl = slog.LevelWarn
	default:
		lvl = slog.LevelInfo
	}
	if c.log.Enabled(context.Background(), lvl) {
		// Checked first: the arguments would be built (and
		// allocated) for a dropped record on every bind.
		c.log.Log(context.Background(), lvl, "pingone: "+what, "dn", dn, "answer", out)
	}
	return out
}

// gatewayRef is the LDAP gateway reference of password.set's
// external.gateway and of password.setGateway.
type gatewayRef struct {
	ID                    string            `json:"id"`
	UserType              idRef             `json:"userType"`
	CorrelationAttributes map[string]string `json:"correlationAttributes,omitempty"`
}

type idRef struct {
	ID string `json:"id"`
}

// gatewayBody builds the gateway reference for dn: the correlation
// attributes are gw's templates filled from the DN's first RDN.
func gatewayBody(dn string, gw bridge.Gateway) (*gatewayRef, error) {
	if gw.ID == "" || gw.UserTypeID == "" {
		return nil, errors.New("the gateway needs an id and a user type id")
	}
	pdn, err := bridge.ParseDN(dn)
	if err != nil || len(pdn.RDNs) == 0 {
		return nil, errors.New("not a valid DN")
	}
	ref := &gatewayRef{ID: gw.ID, UserType: idRef{gw.UserTypeID}}
	if len(gw.Correlation) > 0 {
		ref.CorrelationAttributes = make(map[string]string, len(gw.Correlation))
	}
	for name, tmpl := range gw.Correlation {
		v, err := fillTemplate(tmpl, pdn)
		if err != nil {
			return nil, fmt.Errorf("correlation attribute %s: %w", name, err)
		}
		ref.CorrelationAttributes[name] = v
	}
	return ref, nil
}

// fillTemplate replaces each {attr} of tmpl with that attribute's value
// in the DN's first RDN (the result is JSON-encoded later, so no
// escaping here).
func fillTemplate(tmpl string, dn *ldap.DN) (string, error) {
	var b strings.Builder
	for {
		i := strings.IndexByte(tmpl, '{')
		if i < 0 {
			b.WriteString(tmpl)
			return b.String(), nil
		}
		j := strings.IndexByte(tmpl[i:], '}')
		if j < 0 {
			return "", fmt.Errorf("template %q: unclosed {", tmpl)
		}
		name := tmpl[i+1 : i+j]
		if !validAttrName(name) {
			return "", fmt.Errorf("template %q: {%s} is not an attribute name", tmpl, name)
		}
		v, ok := bridge.RDNValue(dn, name)
		if !ok {
			return "", fmt.Errorf("the DN's first RDN has no %s value", name)
		}
		b.WriteString(tmpl[:i])
		b.WriteString(v)
		tmpl = tmpl[i+j+1:]
	}
}

// isJSONMedia reports whether a Content-Type is JSON (transport.IsJSON).
func isJSONMedia(ct string) bool { return transport.IsJSON(ct) }
