package pushdown

import "github.com/ldapbridge/ldapbridge/search/filter"

// AsLDAP reads a parsed backend filter as the LDAP filter each term stands
// for (the directory matches with its own schema's rules): the meaning the
// directory simulator serves and the tests of the translations check
// against. An operator Parse never returns matches nothing.
func (e *Expr) AsLDAP() *filter.Filter {
	switch e.Op {
	case And, Or:
		f := &filter.Filter{Kind: filter.And}
		if e.Op == Or {
			f.Kind = filter.Or
		}
		for _, s := range e.Sub {
			f.Sub = append(f.Sub, s.AsLDAP())
		}
		return f
	case Not:
		return &filter.Filter{Kind: filter.Not, Sub: []*filter.Filter{e.Sub[0].AsLDAP()}}
	case Pr:
		return &filter.Filter{Kind: filter.Present, Attr: e.Attr}
	case Eq:
		return &filter.Filter{Kind: filter.Equality, Attr: e.Attr, Value: e.Value}
	case Ne:
		return &filter.Filter{Kind: filter.Not, Sub: []*filter.Filter{{Kind: filter.Equality, Attr: e.Attr, Value: e.Value}}}
	case Ge:
		return &filter.Filter{Kind: filter.GreaterOrEqual, Attr: e.Attr, Value: e.Value}
	case Le:
		return &filter.Filter{Kind: filter.LessOrEqual, Attr: e.Attr, Value: e.Value}
	case Gt:
		return &filter.Filter{Kind: filter.And, Sub: []*filter.Filter{
			{Kind: filter.GreaterOrEqual, Attr: e.Attr, Value: e.Value},
			{Kind: filter.Not, Sub: []*filter.Filter{{Kind: filter.Equality, Attr: e.Attr, Value: e.Value}}}}}
	case Lt:
		return &filter.Filter{Kind: filter.And, Sub: []*filter.Filter{
			{Kind: filter.LessOrEqual, Attr: e.Attr, Value: e.Value},
			{Kind: filter.Not, Sub: []*filter.Filter{{Kind: filter.Equality, Attr: e.Attr, Value: e.Value}}}}}
	case Sw:
		return &filter.Filter{Kind: filter.Substrings, Attr: e.Attr, Initial: e.Value, HasInitial: true}
	case Ew:
		return &filter.Filter{Kind: filter.Substrings, Attr: e.Attr, Final: e.Value, HasFinal: true}
	case Co:
		return &filter.Filter{Kind: filter.Substrings, Attr: e.Attr, Any: []string{e.Value}}
	}
	// Parse returns no other operator; match nothing rather than panic.
	return &filter.Filter{Kind: filter.Or}
}
