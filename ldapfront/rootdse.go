package ldapfront

import (
	"fmt"
	"strings"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/ldapfront/internal/berlex"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

// The subschema subentry's DN, as the rootDSE names it.
const subschemaDN = "cn=Subschema"

// Features advertised in supportedFeatures: all operational attributes
// through "+" (RFC 3673) and the absolute true and false filters (RFC 4526),
// both of which the rootDSE search implements.
const (
	featureAllOpAttrs   = "1.3.6.1.4.1.4203.1.5.1"
	featureTrueFalseFil = "1.3.6.1.4.1.4203.1.5.3"
)

// rootDSE builds the root DSE a listener shows, with the naming contexts
// of the configuration in force (a reload shows at once). As in slapd,
// everything but objectClass is operational: returned for "+" or when
// named.
func rootDSE(opts *Options, namingContexts []string, offersStartTLS bool) []attribute {
	ext := []string{oidPasswordModify, oidWhoAmI}
	if offersStartTLS {
		ext = append(ext, oidStartTLS)
	}
	attrs := []attribute{
		{name: "objectClass", values: []string{"top"}},
		{name: "namingContexts", values: namingContexts, operational: true},
		{name: "subschemaSubentry", values: []string{subschemaDN}, operational: true},
		{name: "supportedControl", values: []string{pwcontrol.OIDPasswordPolicy, pwcontrol.OIDValidationDetailsRequest}, operational: true},
		{name: "supportedExtension", values: ext, operational: true},
		{name: "supportedFeatures", values: []string{featureAllOpAttrs, featureTrueFalseFil}, operational: true},
		{name: "supportedLDAPVersion", values: []string{"3"}, operational: true},
		// supportedSASLMechanisms has no value and so is not listed.
		{name: "vendorName", values: []string{opts.Vendor}, operational: true},
	}
	if opts.Version != "" {
		attrs = append(attrs, attribute{name: "vendorVersion", values: []string{opts.Version}, operational: true})
	}
	return dropEmpty(attrs)
}

// subschema is a minimal subschema subentry: enough for clients that read
// it after every bind, and no claim to a schema the bridge does not have.
func subschema() []attribute {
	return []attribute{
		{name: "objectClass", values: []string{"top", "subentry", "subschema"}},
		{name: "cn", values: []string{"Subschema"}},
	}
}

func dropEmpty(attrs []attribute) []attribute {
	out := attrs[:0]
	for _, a := range attrs {
		if len(a.values) > 0 {
			out = append(out, a)
		}
	}
	return out
}

// selectAttributes applies a SearchRequest's attribute selection
// (RFC 4511 §4.5.1.8, RFC 3673): none or "*" means every user attribute,
// "+" every operational attribute, "1.1" alone means none, names are
// case-insensitive and may carry options, which are ignored.
func selectAttributes(attrs []attribute, sel []string) []attribute {
	allUser := len(sel) == 0
	allOp := false
	names := make(map[string]bool, len(sel))
	for _, s := range sel {
		switch s {
		case "*":
			allUser = true
		case "+":
			allOp = true
		case "1.1":
			// Means "no attributes" only when it is all there is, which
			// the empty names map already gives.
		default:
			if i := strings.IndexByte(s, ';'); i >= 0 {
				s = s[:i]
			}
			names[strings.ToLower(s)] = true
		}
	}
	var out []attribute
	for _, a := range attrs {
		if (a.operational && allOp) || (!a.operational && allUser) || names[strings.ToLower(a.name)] {
			out = append(out, a)
		}
	}
	return out
}

// tri is a filter result in the three-valued logic of RFC 4511 §4.5.1.7.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUndefined
)

// matchFilter evaluates a search filter against an entry's attributes
// (user and operational). Presence and equality are evaluated, with
// case-insensitive values (every attribute of these entries has a
// case-insensitive syntax); every other assertion is Undefined, so a
// filter the bridge cannot evaluate returns no entry rather than a wrong
// one. A structurally invalid filter is an error.
func matchFilter(f berlex.Element, attrs []attribute) (bool, error) {
	t, err := evalFilter(f, attrs, 0)
	return t == triTrue, err
}

// Filter choices (RFC 4511 §4.5.1), by tag number.
const (
	filterAnd      = 0
	filterOr       = 1
	filterNot      = 2
	filterEquality = 3
	filterPresent  = 7
)

func evalFilter(f berlex.Element, attrs []attribute, depth int) (tri, error) {
	if depth > maxDepth {
		return triUndefined, fmt.Errorf("filter nested too deeply: %w", errMalformed)
	}
	if f.Class() != berlex.ClassContext {
		return triUndefined, fmt.Errorf("filter choice is not a context tag: %w", errMalformed)
	}
	switch f.Number() {
	case filterAnd, filterOr:
		if !f.Constructed() {
			return triUndefined, fmt.Errorf("and/or filter is not constructed: %w", errMalformed)
		}
		isAnd := f.Number() == filterAnd
		decided, undefined := false, false
		for rest := f.Content; len(rest) > 0; {
			c, r, err := berlex.Next(rest)
			if err != nil {
				return triUndefined, berError("filter", err)
			}
			rest = r
			t, err := evalFilter(c, attrs, depth+1)
			if err != nil {
				return triUndefined, err
			}
			switch {
			case t == triUndefined:
				undefined = true
			case (t == triFalse) == isAnd:
				decided = true
			}
		}
		switch {
		case decided && isAnd:
			return triFalse, nil
		case decided:
			return triTrue, nil
		case undefined:
			return triUndefined, nil
		case isAnd:
			return triTrue, nil // includes the absolute true filter (&)
		}
		return triFalse, nil // includes the absolute false filter (|)
	case filterNot:
		var c [1]berlex.Element
		if n, err := berlex.Split(f.Content, c[:]); err != nil || !f.Constructed() || n != 1 {
			return triUndefined, fmt.Errorf("not filter must hold one filter: %w", errMalformed)
		}
		t, err := evalFilter(c[0], attrs, depth+1)
		switch t {
		case triTrue:
			t = triFalse
		case triFalse:
			t = triTrue
		}
		return t, err
	case filterEquality:
		var c [2]berlex.Element
		if n, err := berlex.Split(f.Content, c[:]); err != nil || !f.Constructed() || n != 2 ||
			c[0].Tag != tagOctetString || c[1].Tag != tagOctetString {
			return triUndefined, fmt.Errorf("equality filter is not an AttributeValueAssertion: %w", errMalformed)
		}
		a := findAttr(attrs, string(c[0].Content))
		if a == nil {
			return triFalse, nil
		}
		want := string(c[1].Content)
		for _, v := range a.values {
			if strings.EqualFold(v, want) {
				return triTrue, nil
			}
		}
		return triFalse, nil
	case filterPresent:
		if f.Constructed() {
			return triUndefined, fmt.Errorf("present filter is not primitive: %w", errMalformed)
		}
		if findAttr(attrs, string(f.Content)) != nil {
			return triTrue, nil
		}
		return triFalse, nil
	case 4, 5, 6, 8, 9: // substrings, >=, <=, approx, extensible
		return triUndefined, nil
	}
	return triUndefined, fmt.Errorf("unknown filter choice [%d]: %w", f.Number(), errMalformed)
}

func findAttr(attrs []attribute, name string) *attribute {
	if i := strings.IndexByte(name, ';'); i >= 0 {
		name = name[:i]
	}
	for i := range attrs {
		if strings.EqualFold(attrs[i].name, name) {
			return &attrs[i]
		}
	}
	return nil
}

// searchTarget tells which of the two entries the bridge serves a search
// asks for, if any.
func searchTarget(r searchRequest) (dn string, ok bool) {
	const scopeBase = 0
	if r.scope != scopeBase {
		return "", false
	}
	if strings.TrimSpace(r.base) == "" {
		return "", true
	}
	want, _ := bridge.ParseDN(subschemaDN)
	if dn, err := bridge.ParseDN(r.base); err == nil && want.EqualFold(dn) {
		return subschemaDN, true
	}
	return "", false
}
