package ldapfront

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/ldapfront/internal/berlex"
	"github.com/ldapbridge/ldapbridge/search/filter"
)

// oidPagedResults is the Simple Paged Results control (RFC 2696).
const oidPagedResults = "1.2.840.113556.1.4.319"

// maxPageSize bounds the page size a client may ask for; larger asks get
// pages of this size (RFC 2696 lets the server return fewer).
const maxPageSize = 1000

// operationalNames are the attributes a search returns only when asked
// for by name or with "+" (RFC 3673), lower case.
var operationalNames = map[string]bool{
	"entryuuid": true, "entrydn": true, "createtimestamp": true, "modifytimestamp": true,
	"creatorsname": true, "modifiersname": true, "subschemasubentry": true,
	"hassubordinates": true, "numsubordinates": true, "ismemberof": true,
}

func isOperational(name string) bool {
	n := strings.ToLower(name)
	return operationalNames[n] || strings.HasPrefix(n, "ds-")
}

// searchRoutes answers a search of the routes' entries: the core decides
// who may search and what; entries are written as they arrive, the
// SearchResultDone (with the paged results control) when it is done. The
// must-change restriction is execute's (gate OpSearch), which answers
// with the ppolicy control a client asked for.
func (c *conn) searchRoutes(m *message, seq uint64, req searchRequest) {
	c.startOp(m, seq, "search", appSearchDone, bridge.OpSearch, func(ctx context.Context, ctl controls) ([]byte, bridge.ResultCode) {
		finish := func(r result, ctls []respControl) ([]byte, bridge.ResultCode) {
			return appendMessage(nil, m.id, appSearchDone, r, nil, ctls), r.code
		}
		if req.scope < 0 || req.scope > 2 {
			return finish(result{code: bridge.ProtocolError, diag: "unknown search scope"}, nil)
		}
		f, err := filter.Decode(req.filter.TLV)
		if err != nil {
			return finish(result{code: bridge.ProtocolError, diag: "invalid search filter"}, nil)
		}
		sr := bridge.SearchRequest{
			Base: req.base, Scope: bridge.Scope(req.scope), Filter: f,
			Attributes: req.attrs,
		}
		if req.sizeLimit > 0 {
			sr.SizeLimit = int(min(req.sizeLimit, 1<<30))
		}
		if req.timeLimit > 0 {
			sr.TimeLimit = time.Duration(min(req.timeLimit, 1<<20)) * time.Second
		}
		if ctl.pagedSeen {
			size, cookie, err := decodePaged(ctl.paged)
			if err != nil {
				return finish(result{code: bridge.ProtocolError, diag: "invalid paged results control"}, nil)
			}
			if size <= 0 {
				// RFC 2696 §3: size 0 abandons the paged search.
				return finish(result{}, []respControl{pagedControl(nil)})
			}
			sr.Paged, sr.PageSize, sr.Cookie = true, int(min(size, maxPageSize)), cookie
		}
		p := c.currentPrincipal()
		emit := func(e bridge.Entry) bool {
			if ctx.Err() != nil {
				return false
			}
			attrs := make([]attribute, 0, len(e.Attrs))
			for _, a := range e.Attrs {
				attrs = append(attrs, attribute{name: a.Name, values: a.Values, operational: isOperational(a.Name)})
			}
			c.write(appendEntry(nil, m.id, e.DN, selectAttributes(attrs, req.attrs), req.typesOnly))
			return true
		}
		d, done := c.srv.core.Search(ctx, p, sr, emit)
		switch done.Limit {
		case "max_search_entries":
			c.srv.obs.LimitHit("max_search_entries")
		case "search_time_limit":
			c.srv.obs.LimitHit("search_time_limit")
		case "search_max_scan":
			c.srv.obs.LimitHit("search_max_scan")
		}
		c.log.Debug("search", "op", seq, "msgid", m.id, "base", printable(req.base, 256), "scope", sr.Scope.String(),
			"filter", loggableFilter(f), "entries", done.Entries, "code", int(d.Outcome.Code))
		var ctls []respControl
		if sr.Paged {
			ctls = append(ctls, pagedControl(done.Cookie))
		}
		return finish(resultOf(d.Outcome), ctls)
	})
}

var errPaged = errors.New("paged results control value")

// decodePaged reads realSearchControlValue ::= SEQUENCE { size INTEGER,
// cookie OCTET STRING } (RFC 2696 §2).
func decodePaged(v []byte) (int64, []byte, error) {
	if berlex.Check(v, messageLimits) != nil {
		return 0, nil, errPaged
	}
	s, rest, err := berlex.Next(v)
	if err != nil || len(rest) != 0 || s.Tag != tagSequence {
		return 0, nil, errPaged
	}
	var c [2]berlex.Element
	if n, err := berlex.Split(s.Content, c[:]); err != nil || n != 2 || c[0].Tag != tagInteger || c[1].Tag != tagOctetString {
		return 0, nil, errPaged
	}
	size, err := parseInt(c[0].Content)
	if err != nil {
		return 0, nil, errPaged
	}
	return size, append([]byte(nil), c[1].Content...), nil
}

// pagedControl is the response control: size 0 (no estimate) and the
// cookie, empty on the last page.
func pagedControl(cookie []byte) respControl {
	return respControl{oid: oidPagedResults, value: func(dst []byte) []byte {
		dst, s := begin(dst, tagSequence)
		dst = appendInt(dst, tagInteger, 0)
		dst = appendBytes(dst, tagOctetString, cookie)
		return end(dst, s)
	}}
}

// loggableFilter is the filter for a debug log line; one that names a
// password attribute is not shown, since its values may be a password.
func loggableFilter(f *filter.Filter) string {
	if mentionsPassword(f) {
		return "(a filter on a password attribute)"
	}
	return printable(f.String(), 512)
}

func mentionsPassword(f *filter.Filter) bool {
	if filter.PasswordAttribute(f.Attr) {
		return true
	}
	for _, s := range f.Sub {
		if mentionsPassword(s) {
			return true
		}
	}
	return false
}
