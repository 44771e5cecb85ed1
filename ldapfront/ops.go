package ldapfront

import (
	"context"
	"log/slog"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/logtext"
)

// unsupportedOps are the requests the bridge answers with
// unwillingToPerform in their own response type.
var unsupportedOps = map[byte]struct {
	name string
	resp byte
}{
	appAddRequest:     {"add", appAddResponse},
	appDelRequest:     {"delete", appDelResponse},
	appModDNRequest:   {"modifyDN", appModDNResponse},
	appCompareRequest: {"compare", appCompareResponse},
}

// dispatch handles one decoded message; frame is its raw bytes. It
// returns done when the connection must end.
func (c *conn) dispatch(m *message, frame []byte) (ending, bool) {
	seq := c.nextOp()
	if c.overRate(m, seq, frame) {
		return ending{}, false
	}
	switch m.tag {
	case appUnbindRequest:
		return ending{reason: "unbind"}, true

	case appAbandonRequest:
		id, err := decodeAbandon(m.op)
		if err != nil {
			return malformed(err), true
		}
		c.abandon(id)
		return ending{}, false

	case appBindRequest:
		req, err := decodeBind(m.op)
		clear(frame)
		if err != nil {
			return malformed(err), true
		}
		// RFC 4511 §4.2.1: earlier operations complete before a bind.
		c.opsWG.Wait()
		c.bind(m, seq, req)
		return ending{}, false

	case appExtendedRequest:
		req, err := decodeExtended(m.op)
		if err != nil {
			clear(frame)
			return malformed(err), true
		}
		return c.extended(m, seq, frame, req)

	case appSearchRequest:
		req, err := decodeSearch(m.op)
		if err != nil {
			return malformed(err), true
		}
		c.search(m, seq, req)
		return ending{}, false

	case appModifyRequest:
		req, err := decodeModify(m.op)
		clear(frame)
		if err != nil {
			return malformed(err), true
		}
		// The core's Modify applies the must-change restriction: a
		// session that must change its password may still modify its own
		// userPassword.
		if !c.startOp(m, seq, "modify", appModifyResponse, bridge.OpNone, func(ctx context.Context, ctl controls) ([]byte, bridge.ResultCode) {
			defer req.wipe()
			return c.modify(ctx, m, seq, ctl, &req)
		}) {
			req.wipe()
		}
		return ending{}, false
	}
	if u, ok := unsupportedOps[m.tag]; ok {
		c.startOp(m, seq, u.name, u.resp, bridge.OpOther, func(context.Context, controls) ([]byte, bridge.ResultCode) {
			return appendMessage(nil, m.id, u.resp, result{code: bridge.UnwillingToPerform,
				diag: "the " + u.name + " operation is not supported by this server"}, nil, nil), bridge.UnwillingToPerform
		})
		return ending{}, false
	}
	// A response PDU or an unknown request has no response type to
	// answer with; slapd disconnects too.
	return ending{reason: "unknown protocol operation", linger: true, notice: &result{code: bridge.ProtocolError, diag: "unknown LDAP request"}}, true
}

// overRate answers busy, at once and without doing it, request seq from
// an address over RatePerIP, and reports whether it did. Unbind and
// Abandon have no response and cost nothing; nor does an unknown request,
// which ends the connection.
func (c *conn) overRate(m *message, seq uint64, frame []byte) bool {
	if c.srv.rate == nil || !c.ip.IsValid() {
		return false
	}
	name, resp, ok := responseOf(m)
	if !ok || c.srv.rate.allow(c.ip, c.srv.now()) {
		return false
	}
	const diag = "too many requests from this address; try again later"
	var bind bindRequest
	decoded := false
	if m.tag == appBindRequest {
		// Only the name is kept, for the audit record.
		var err error
		bind, err = decodeBind(m.op)
		bind.password.Wipe()
		decoded = err == nil
	}
	clear(frame)
	c.srv.obs.LimitHit("rate_per_ip")
	if m.tag == appBindRequest {
		// A bind that fails leaves the session anonymous (RFC 4511
		// §4.2.1), this one too, once earlier operations are done with
		// the identity.
		c.opsWG.Wait()
		op := c.opInfo(m, seq, c.currentPrincipal())
		op.Limit = "rate_per_ip"
		c.setPrincipal(nil)
		if decoded {
			c.bindDecided(op, bind, c.srv.core.RefuseBind(bind.name, bridge.Fail(bridge.Busy, diag)))
		}
	}
	// Counted and logged before the answer is written: a client that has
	// read it may rely on both (the tests do).
	c.srv.obs.OpDone(name, bridge.Busy, 0)
	c.log.Debug("request over the rate limit", "op", seq, "msgid", m.id, "type", name)
	c.write(appendMessage(nil, m.id, resp, result{code: bridge.Busy, diag: diag}, nil, nil))
	return true
}

// responseOf names a request as OpDone does and gives its response's
// tag; ok is false for the requests that get no response.
func responseOf(m *message) (name string, resp byte, ok bool) {
	switch m.tag {
	case appBindRequest:
		return "bind", appBindResponse, true
	case appSearchRequest:
		return "search", appSearchDone, true
	case appModifyRequest:
		return "modify", appModifyResponse, true
	case appExtendedRequest:
		name := "extended"
		if r, err := decodeExtended(m.op); err == nil {
			switch r.oid {
			case oidPasswordModify:
				name = "passwordModify"
			case oidWhoAmI:
				name = "whoAmI"
			case oidStartTLS:
				name = "startTLS"
			}
		}
		return name, appExtendedResp, true
	}
	if u, ok := unsupportedOps[m.tag]; ok {
		return u.name, u.resp, true
	}
	return "", 0, false
}

func malformed(err error) ending {
	return ending{reason: err.Error(), linger: true, notice: &result{code: bridge.ProtocolError, diag: "malformed LDAP message"}}
}

// anonymous reports whether the bind is an anonymous one (RFC 4513
// §5.1.1): nobody to audit when it fails.
func (r *bindRequest) anonymous() bool {
	return r.simple && r.name == "" && r.password.IsZero()
}

// decided is the one place the front end reports what the core decided
// about a bind or a password change: its log line, and the Observer, which
// feeds audit and metrics. It runs before the response is written.
func (c *conn) decided(op OpInfo, d bridge.Decision) {
	switch {
	case d.Op == bridge.OpBind:
		if !c.log.Enabled(c.ctx, slog.LevelDebug) {
			// Every bind: build no arguments for a dropped record.
			break
		}
		c.log.Debug("bind", "op", op.Op, "msgid", op.MsgID, "dn", logtext.Bound(d.Target.DN),
			"code", int(d.Outcome.Code), "anonymous", d.Principal == nil, "reason", logtext.Bound(d.Outcome.Reason))
	case d.ChangesPassword():
		msg := "password change"
		if d.Kind == 0 {
			// Refused before the core decided what kind of change it was.
			msg = "password change refused"
		}
		c.log.Info(msg, "op", op.Op, "msgid", op.MsgID, "type", d.Op.String(),
			"target", logtext.Bound(d.Target.DN), "kind", d.Kind.String(), "backend", d.Target.Backend, "answer", boundedOutcome(d.Outcome))
	default:
		// A Modify of anything but userPassword: nothing to audit.
		return
	}
	c.srv.obs.Decided(op, d)
}

// boundedOutcome is o for a log line: its diagnostic and matched DN may
// quote what the client sent, and are bounded as every such field is. The
// copy shares o's generated password, which the log value only tests for
// presence; it must not be wiped.
func boundedOutcome(o bridge.Outcome) bridge.Outcome {
	o.Diagnostic = logtext.Bound(o.Diagnostic)
	o.MatchedDN = logtext.Bound(o.MatchedDN)
	return o
}

// bindDecided reports a bind's Decision, unless the bind was anonymous:
// nobody to audit.
func (c *conn) bindDecided(op OpInfo, req bindRequest, d bridge.Decision) {
	if req.anonymous() {
		if !c.log.Enabled(c.ctx, slog.LevelDebug) {
			return
		}
		c.log.Debug("bind", "op", op.Op, "msgid", op.MsgID, "code", int(d.Outcome.Code), "anonymous", true)
		return
	}
	c.decided(op, d)
}

// bind handles request seq, a BindRequest, in the reader goroutine.
func (c *conn) bind(m *message, seq uint64, req bindRequest) {
	defer req.password.Wipe()
	op := c.opInfo(m, seq, c.currentPrincipal())
	// A bind drops the previous identity first, whatever its outcome.
	c.setPrincipal(nil)
	ctx, cancel := context.WithTimeout(c.ctx, c.lim.OperationTimeout)
	defer cancel()
	var dec bridge.Decision // the handler's, when it answered
	limit := ""             // the limit that refused the bind, if one did
	c.runSync(ctx, m, seq, "bind", appBindResponse, func(ctx context.Context, ctl controls) ([]byte, bridge.ResultCode) {
		reply := func(d bridge.Decision) ([]byte, bridge.ResultCode) {
			dec = d
			var ctls []respControl
			if ctl.core.PasswordPolicy {
				ctls = append(ctls, policyControl(d.Outcome.Policy))
			}
			return appendMessage(nil, m.id, appBindResponse, resultOf(d.Outcome), nil, ctls), d.Outcome.Code
		}
		refuse := func(o bridge.Outcome) ([]byte, bridge.ResultCode) {
			return reply(c.srv.core.RefuseBind(req.name, o))
		}
		switch {
		case req.version != 3:
			return refuse(bridge.Fail(bridge.ProtocolError, "requested protocol version not supported"))
		case !req.simple:
			return refuse(bridge.Fail(bridge.AuthMethodNotSupported, req.mech+" is not supported; use a simple bind"))
		case !req.password.IsZero() && !c.cleartextOK():
			return refuse(bridge.Fail(bridge.ConfidentialityRequired, "a bind with a password needs TLS on this connection"))
		}
		code := bridge.Other // if the core panics: not held against the DN
		tk, throttled, ok := c.throttleBind(req)
		if throttled {
			c.srv.obs.LimitHit("failed_binds_per_dn")
			limit = "failed_binds_per_dn"
			c.log.Debug("bind refused: too many failed binds for the DN", "msgid", m.id)
			return refuse(bridge.Fail(bridge.Busy, "too many failed binds for this DN; try again later"))
		} else if ok {
			defer func() { c.srv.binds.end(tk, code) }()
		}
		d := c.srv.core.Bind(ctx, req.name, req.password, ctl.core)
		code = d.Outcome.Code
		if ok {
			// Counted against the user the backend named as well
			// (throttle.go, named).
			c.srv.binds.named(tk, d.Target.DN, code, c.srv.now())
		}
		if d.Outcome.OK() {
			c.setPrincipal(d.Principal)
		} else {
			d.Principal.Wipe()
			d.Principal = nil
		}
		return reply(d)
	}, func(_ bridge.ResultCode, own *result) {
		if own != nil {
			// execute answered: a panic or an unsupported critical control.
			dec = c.srv.core.RefuseBind(req.name, bridge.Fail(own.code, own.diag))
		}
		op.Limit = limit
		c.bindDecided(op, req, dec)
	})
}

// throttleBind applies FailedBindsPerDN to a bind that would reach the
// core's password check: throttled means refuse it; ok means it counts,
// and tk must be settled with the outcome.
func (c *conn) throttleBind(req bindRequest) (tk bindTicket, throttled, ok bool) {
	if c.srv.binds == nil || req.password.IsZero() {
		return tk, false, false
	}
	key, ok := keyOfDN(req.name)
	if !ok {
		return tk, false, false
	}
	tk, ok = c.srv.binds.begin(key, c.srv.now())
	return tk, !ok, ok
}

// changeControls are the response controls of a password change: the
// ppolicy control whenever it was requested, the validation details when
// requested and there are some.
func changeControls(ctl controls, o bridge.Outcome) []respControl {
	var ctls []respControl
	if ctl.core.PasswordPolicy {
		ctls = append(ctls, policyControl(o.Policy))
	}
	if ctl.core.ValidationDetails && o.Validation != nil {
		ctls = append(ctls, validationControl(o.Validation))
	}
	return ctls
}

// extended dispatches request seq, an ExtendedRequest, by its OID.
func (c *conn) extended(m *message, seq uint64, frame []byte, req extendedRequest) (ending, bool) {
	const name = "extended"
	switch req.oid {
	case oidStartTLS:
		return c.startTLS(m, seq, req)

	case oidPasswordModify:
		pm, perr := decodePasswordModify(req.value, req.hasValue)
		clear(frame)
		started := c.startOp(m, seq, "passwordModify", appExtendedResp, bridge.OpNone, func(ctx context.Context, ctl controls) ([]byte, bridge.ResultCode) {
			defer pm.OldPassword.Wipe()
			defer pm.NewPassword.Wipe()
			return c.passwordModify(ctx, m, seq, ctl, pm, perr)
		})
		if !started {
			pm.OldPassword.Wipe()
			pm.NewPassword.Wipe()
		}

	case oidWhoAmI:
		c.startOp(m, seq, "whoAmI", appExtendedResp, bridge.OpWhoAmI, func(context.Context, controls) ([]byte, bridge.ResultCode) {
			if req.hasValue {
				return appendMessage(nil, m.id, appExtendedResp, result{code: bridge.ProtocolError, diag: "no request data expected"}, nil, nil), bridge.ProtocolError
			}
			authz := ""
			if p := c.currentPrincipal(); p != nil {
				authz = "dn:" + p.DN()
			}
			// RFC 4532: the authzId, empty for anonymous, and no
			// responseName.
			return appendMessage(nil, m.id, appExtendedResp, result{}, responseValue([]byte(authz)), nil), bridge.Success
		})

	default:
		oid := quoteOID(req.oid)
		// Answered the same whoever asks, a restricted session too.
		c.startOp(m, seq, name, appExtendedResp, bridge.OpNone, func(context.Context, controls) ([]byte, bridge.ResultCode) {
			// slapd answers protocolError "unsupported extended operation".
			return appendMessage(nil, m.id, appExtendedResp, result{code: bridge.ProtocolError,
				diag: "unsupported extended operation " + oid}, nil, nil), bridge.ProtocolError
		})
	}
	return ending{}, false
}

// passwordModify answers request seq, an RFC 3062 Password Modify.
func (c *conn) passwordModify(ctx context.Context, m *message, seq uint64, ctl controls, pm bridge.PasswordModify, perr error) ([]byte, bridge.ResultCode) {
	p := c.currentPrincipal()
	op := c.opInfo(m, seq, p)
	pm.Controls = ctl.core
	pm.Secure = c.cleartextOK()
	if oe, ok := perr.(*opError); ok {
		// The core refuses it, and it is audited like any other attempt.
		invalid := bridge.Fail(oe.code, oe.diag)
		pm.Invalid = &invalid
	}
	d := c.srv.core.ChangePassword(ctx, p, pm)
	defer d.Outcome.GeneratedPassword.Wipe()
	c.decided(op, d)
	o := d.Outcome
	var tail func([]byte) []byte
	if !o.GeneratedPassword.IsZero() {
		tail = genPasswdValue(o.GeneratedPassword)
	}
	return appendMessage(nil, m.id, appExtendedResp, resultOf(o), tail, changeControls(ctl, o)), o.Code
}

// startTLS handles the StartTLS extended operation in the reader
// goroutine: the response goes out in cleartext, then the handshake.
func (c *conn) startTLS(m *message, seq uint64, req extendedRequest) (ending, bool) {
	ok := false
	c.runSync(c.ctx, m, seq, "startTLS", appExtendedResp, func(context.Context, controls) ([]byte, bridge.ResultCode) {
		fail := func(code bridge.ResultCode, diag string) ([]byte, bridge.ResultCode) {
			return appendMessage(nil, m.id, appExtendedResp, result{code: code, diag: diag}, nil, nil), code
		}
		// The checks and words are slapd's (servers/slapd/starttls.c).
		switch {
		case req.hasValue:
			return fail(bridge.ProtocolError, "no request data expected")
		case c.isTLS():
			return fail(bridge.OperationsError, "TLS already started")
		case c.lis.Mode != StartTLS:
			return fail(bridge.Unavailable, "StartTLS is not offered on this listener")
		case c.inFlight() > 0:
			return fail(bridge.OperationsError, "cannot start TLS when operations are outstanding")
		}
		ok = true
		return appendMessage(nil, m.id, appExtendedResp, result{}, nil, nil), bridge.Success
	}, nil)
	if !ok {
		return ending{}, false
	}
	// As slapd does by default, the identity established before TLS
	// does not carry over.
	c.setPrincipal(nil)
	if err := c.handshake(); err != nil {
		return ending{reason: "StartTLS handshake: " + err.Error()}, true
	}
	return ending{}, false
}

// search answers the root DSE and cn=Subschema here, and the routes'
// entries through the core (search.go).
func (c *conn) search(m *message, seq uint64, req searchRequest) {
	dn, ok := searchTarget(req)
	if !ok {
		// The routes' entries: search.go.
		c.searchRoutes(m, seq, req)
		return
	}
	c.startOp(m, seq, "search", appSearchDone, bridge.OpReadRoot, func(context.Context, controls) ([]byte, bridge.ResultCode) {
		var attrs []attribute
		if dn == subschemaDN {
			attrs = subschema()
		} else {
			attrs = rootDSE(&c.srv.opts, c.srv.core.NamingContexts(), c.lis.Mode == StartTLS)
		}
		match, err := matchFilter(req.filter, attrs)
		if err != nil {
			return appendMessage(nil, m.id, appSearchDone, result{code: bridge.ProtocolError, diag: "invalid search filter"}, nil, nil), bridge.ProtocolError
		}
		var out []byte
		if match {
			out = appendEntry(out, m.id, dn, selectAttributes(attrs, req.attrs), req.typesOnly)
		}
		return appendMessage(out, m.id, appSearchDone, result{}, nil, nil), bridge.Success
	})
}
