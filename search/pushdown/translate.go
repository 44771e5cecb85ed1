package pushdown

import (
	"strings"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge/search/filter"
)

// Target is where an LDAP attribute lives in a backend and what the
// backend can ask of it.
type Target struct {
	// Attr is the backend's attribute path (ValidAttr).
	Attr string
	// Ops are the comparisons the backend's filter supports on Attr (of
	// eq, sw, ew, co, ge, le, pr); an item that needs another stays with
	// the bridge.
	Ops []Op
	// Exact says the backend matches Attr with the matching rule the
	// bridge's schema gives the LDAP attribute (a directory with the same
	// schema), so a translated item is the LDAP item itself. When false the
	// backend is taken to compare case-insensitively without removing
	// insignificant spaces (SCIM, RFC 7643 caseExact=false), and items
	// whose rule is telephoneNumberMatch are not translated.
	Exact bool
	// FoldSpaces sends values with the spaces the LDAP rule ignores taken
	// out (RFC 4518-ish, as filter.FoldSpaces): for a backend that keeps
	// this attribute's values without leading, trailing or repeated spaces
	// but does not remove them from a filter's value.
	FoldSpaces bool
}

func (t Target) has(op Op) bool {
	for _, o := range t.Ops {
		if o == op {
			return true
		}
	}
	return false
}

// Config is one backend's filter capabilities.
type Config struct {
	// Schema is the bridge's (filter.DefaultSchema if nil).
	Schema *filter.Schema
	// Targets maps the canonical (lower-case, aliases resolved) LDAP name
	// to the backend attribute.
	Targets map[string]Target
	// Default, if set, is the target of an attribute not in Targets, under
	// its canonical name (a directory whose attributes are LDAP's).
	Default *Target
	// Hidden reports attributes the bridge never shows (passwords): items
	// on them are decided as on an entry without them, and never sent,
	// so that a filter cannot probe their values.
	Hidden func(canonical string) bool
	// Not says the backend has a not operator.
	Not bool
	// Constants are attributes every entry of the backend has with the
	// same values and that the backend cannot filter on (PingOne users'
	// synthesized objectClass): items on them are decided here.
	Constants filter.Entry
	// MaxValueLen is the longest value sent (octets); an item with a
	// longer one stays with the bridge. 0: no limit.
	MaxValueLen int
	// MaxLen is the longest filter sent; beyond it conjuncts are dropped
	// (or the whole filter). 0: no limit.
	MaxLen int
}

// Result is a translation.
type Result struct {
	// Filter is the backend filter; "" asks for every entry (unless None).
	Filter string
	// None says no entry can match: the backend need not be asked.
	None bool
	// Exact says the backend's answer is the LDAP filter's: the bridge
	// need not evaluate the filter on the entries returned. When false it
	// must (filter.Matches), and Filter matches a superset.
	Exact bool
	// Untranslated lists the parts of the LDAP filter that were widened to
	// "match all" (for logs and metrics).
	Untranslated []*filter.Filter
}

// node is a translated sub-filter: constant true or false, or an
// expression. exact: the node matches exactly the entries where the LDAP
// sub-filter is TRUE; otherwise it matches a superset of them.
// definite: the node is a constant and the LDAP sub-filter has that value
// (TRUE or FALSE, never Undefined) on every entry, so NOT may flip it.
type node struct {
	constant bool // e == nil: the node is this constant
	e        *Expr
	exact    bool
	definite bool
}

var (
	matchAll   = node{constant: true, exact: true, definite: true}
	matchNone  = node{constant: false, exact: true}
	widened    = node{constant: true, exact: false}
	constEntry = filter.Entry{}
)

// decided is the node of an item whose value is known without the backend.
func decided(r filter.Result) node {
	switch r {
	case filter.True:
		return matchAll
	case filter.False:
		return node{constant: false, exact: true, definite: true}
	}
	return matchNone
}

type translator struct {
	c            *Config
	s            *filter.Schema
	constants    filter.Entry
	untranslated []*filter.Filter
}

// Translate returns the backend filter for f. Its work is linear in the
// size of f.
func (c *Config) Translate(f *filter.Filter) Result {
	t := &translator{c: c, s: c.Schema, constants: c.Constants}
	if t.s == nil {
		t.s = filter.DefaultSchema()
	}
	if t.constants == nil {
		t.constants = constEntry
	}
	n := t.node(f)
	if n.e != nil && c.MaxLen > 0 {
		n = t.fit(n, f)
	}
	r := Result{Exact: n.exact, Untranslated: t.untranslated}
	switch {
	case n.e != nil:
		r.Filter = n.e.String()
	case !n.constant:
		r.None = true
	}
	return r
}

// fit keeps the filter within MaxLen: conjuncts of a top-level and are
// kept while they fit; anything else too long matches all.
func (t *translator) fit(n node, f *filter.Filter) node {
	if len(n.e.String()) <= t.c.MaxLen {
		return n
	}
	t.untranslated = append(t.untranslated, f)
	if n.e.Op != And {
		return widened
	}
	var kept []*Expr
	size := 0
	for _, s := range n.e.Sub {
		var b strings.Builder
		s.writeOperand(&b)
		add := b.Len()
		if len(kept) > 0 {
			add += len(" and ")
		}
		if size+add > t.c.MaxLen {
			continue
		}
		kept = append(kept, s)
		size += add
	}
	switch len(kept) {
	case 0:
		return widened
	case 1:
		return node{e: kept[0]}
	}
	return node{e: &Expr{Op: And, Sub: kept}}
}

func (t *translator) widen(f *filter.Filter) node {
	t.untranslated = append(t.untranslated, f)
	return widened
}

func (t *translator) node(f *filter.Filter) node {
	switch f.Kind {
	case filter.And:
		return t.and(f)
	case filter.Or:
		return t.or(f)
	case filter.Not:
		return t.not(f)
	case filter.Extensible:
		// Matching rules and DN components have no backend form.
		return t.widen(f)
	}
	name, rule, ok := t.s.Canonical(f.Attr)
	if !ok {
		// Unrecognized attribute: present is FALSE, the rest Undefined;
		// neither is ever TRUE.
		return matchNone
	}
	if t.c.Hidden != nil && t.c.Hidden(name) {
		return decided(filter.Evaluate(f, constEntry, t.s))
	}
	if _, isConst := t.constants[name]; isConst {
		return decided(filter.Evaluate(f, t.constants, t.s))
	}
	tg, ok := t.c.Targets[name]
	if !ok && t.c.Default != nil {
		tg, ok = *t.c.Default, true
		tg.Attr = name
	}
	if !ok || !ValidAttr(tg.Attr) {
		return t.widen(f)
	}
	if !tg.Exact && rule.Kind == filter.TelephoneNumber {
		// The backend would not ignore spaces and hyphens as the rule does.
		return t.widen(f)
	}
	switch f.Kind {
	case filter.Present:
		if !tg.has(Pr) {
			return t.widen(f)
		}
		return node{e: &Expr{Op: Pr, Attr: tg.Attr}, exact: true}
	case filter.Equality, filter.Approx:
		// The bridge's approximate match is equality.
		return t.compare(f, tg, rule, Eq, f.Value)
	case filter.GreaterOrEqual, filter.LessOrEqual:
		if !rule.Ordering {
			return matchNone // no ordering rule: Undefined
		}
		op := Ge
		if f.Kind == filter.LessOrEqual {
			op = Le
		}
		return t.compare(f, tg, rule, op, f.Value)
	case filter.Substrings:
		return t.substrings(f, tg, rule)
	}
	return t.widen(f)
}

// value prepares an assertion value or piece for the backend. undefined:
// the LDAP item is Undefined on every entry (the value is not valid for
// the rule); ok false: it cannot be sent.
func (t *translator) value(v string, tg Target, r filter.Rule, p filter.Position) (out string, undefined, ok bool) {
	if _, valid := r.Normalize(v, p); !valid || !utf8.ValidString(v) {
		return "", true, false
	}
	if tg.FoldSpaces {
		v = filter.FoldSpaces(v, p)
	}
	if v == "" || t.c.MaxValueLen > 0 && len(v) > t.c.MaxValueLen {
		return "", false, false
	}
	if !tg.Exact && strings.IndexFunc(v, isControl) >= 0 {
		// Quoting makes it safe, but a SCIM service may refuse it: let the
		// bridge match such values rather than fail the search.
		return "", false, false
	}
	return v, false, true
}

func (t *translator) compare(f *filter.Filter, tg Target, r filter.Rule, op Op, v string) node {
	if !tg.has(op) {
		return t.widen(f)
	}
	v, undefined, ok := t.value(v, tg, r, filter.Whole)
	if undefined {
		return matchNone
	}
	if !ok {
		return t.widen(f)
	}
	return node{e: &Expr{Op: op, Attr: tg.Attr, Value: v}, exact: tg.Exact}
}

// substrings becomes sw, co and ew comparisons, each a necessary condition
// (and their conjunction a superset: it ignores order and overlap).
func (t *translator) substrings(f *filter.Filter, tg Target, r filter.Rule) node {
	if !r.Substrings {
		return matchNone // no substrings rule: Undefined
	}
	type piece struct {
		op Op
		v  string
		p  filter.Position
	}
	var pieces []piece
	if f.HasInitial {
		pieces = append(pieces, piece{Sw, f.Initial, filter.InitialPiece})
	}
	for _, a := range f.Any {
		pieces = append(pieces, piece{Co, a, filter.AnyPiece})
	}
	if f.HasFinal {
		pieces = append(pieces, piece{Ew, f.Final, filter.FinalPiece})
	}
	var subs []*Expr
	for _, pc := range pieces {
		if !tg.has(pc.op) {
			continue
		}
		v, undefined, ok := t.value(pc.v, tg, r, pc.p)
		if undefined {
			return matchNone
		}
		if ok {
			subs = append(subs, &Expr{Op: pc.op, Attr: tg.Attr, Value: v})
		}
	}
	switch len(subs) {
	case 0:
		return t.widen(f)
	case 1:
		if len(pieces) > 1 {
			t.untranslated = append(t.untranslated, f)
		}
		return node{e: subs[0], exact: tg.Exact && len(pieces) == 1}
	}
	t.untranslated = append(t.untranslated, f)
	return node{e: &Expr{Op: And, Sub: subs}}
}

func (t *translator) and(f *filter.Filter) node {
	exact, allTrue := true, true
	var subs []*Expr
	for _, c := range f.Sub {
		n := t.node(c)
		exact = exact && n.exact
		allTrue = allTrue && n.e == nil && n.constant && n.definite
		if n.e == nil {
			if !n.constant {
				// FALSE (or never TRUE) makes the conjunction so.
				return node{constant: false, exact: n.exact, definite: n.definite}
			}
			continue // TRUE, or widened: drop it
		}
		if n.e.Op == And {
			subs = append(subs, n.e.Sub...)
		} else {
			subs = append(subs, n.e)
		}
	}
	switch len(subs) {
	case 0:
		return node{constant: true, exact: exact, definite: allTrue}
	case 1:
		return node{e: subs[0], exact: exact}
	}
	return node{e: &Expr{Op: And, Sub: subs}, exact: exact}
}

func (t *translator) or(f *filter.Filter) node {
	exact, allFalse := true, true
	var subs []*Expr
	for _, c := range f.Sub {
		n := t.node(c)
		allFalse = allFalse && n.e == nil && !n.constant && n.definite
		if n.e == nil {
			if n.constant {
				// TRUE, or a part that could not be translated: the
				// disjunction matches all (it cannot be narrowed).
				return node{constant: true, exact: n.exact, definite: n.definite}
			}
			exact = exact && n.exact
			continue // never TRUE: drop it
		}
		exact = exact && n.exact
		if n.e.Op == Or {
			subs = append(subs, n.e.Sub...)
		} else {
			subs = append(subs, n.e)
		}
	}
	switch len(subs) {
	case 0:
		return node{constant: false, exact: exact, definite: allFalse}
	case 1:
		return node{e: subs[0], exact: exact}
	}
	return node{e: &Expr{Op: Or, Sub: subs}, exact: exact}
}

// not: NOT of an exact translation is a superset (a two-valued backend
// matches where the LDAP operand is FALSE or Undefined; only FALSE makes
// the LDAP NOT TRUE), so it is never exact; NOT of anything else cannot be
// bounded and matches all.
func (t *translator) not(f *filter.Filter) node {
	if len(f.Sub) != 1 {
		return matchNone
	}
	n := t.node(f.Sub[0])
	switch {
	case n.e == nil && n.definite:
		// NOT TRUE is FALSE, NOT FALSE is TRUE.
		return node{constant: !n.constant, exact: true, definite: true}
	case n.e == nil && n.constant && n.exact:
		return matchNone // NOT of TRUE-or-Undefined is never TRUE
	case n.e == nil && !n.constant:
		// NOT of never-TRUE: TRUE where the operand is FALSE, Undefined
		// elsewhere. Match all; the bridge decides.
		return t.widen(f)
	case n.e != nil && n.exact && t.c.Not:
		return node{e: &Expr{Op: Not, Sub: []*Expr{n.e}}, exact: false}
	}
	return t.widen(f)
}

func isControl(r rune) bool { return r < 0x20 || r >= 0x7f && r < 0xa0 }
