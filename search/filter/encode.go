package filter

import "github.com/ldapbridge/ldapbridge/internal/ber"

// Encode returns the BER of f, as Decode reads it (used by tests, fuzzing
// and by code that forwards a filter).
func Encode(f *Filter) []byte {
	return appendFilter(nil, f)
}

// appendTLV writes one element; the length forms are the shared ones
// (internal/ber).
func appendTLV(b []byte, tag byte, body []byte) []byte { return ber.AppendBytes(b, tag, body) }

func appendFilter(b []byte, f *Filter) []byte {
	var body []byte
	var tag byte
	switch f.Kind {
	case And, Or:
		tag = tagAnd
		if f.Kind == Or {
			tag = tagOr
		}
		for _, s := range f.Sub {
			body = appendFilter(body, s)
		}
	case Not:
		tag = tagNot
		for _, s := range f.Sub {
			body = appendFilter(body, s)
		}
	case Equality, GreaterOrEqual, LessOrEqual, Approx:
		tag = 0xa0 | byte(f.Kind) // the context tag number is the Kind
		body = appendTLV(body, tagOctetString, []byte(f.Attr))
		body = appendTLV(body, tagOctetString, []byte(f.Value))
	case Substrings:
		tag = tagSubstrings
		body = appendTLV(body, tagOctetString, []byte(f.Attr))
		var seq []byte
		if f.HasInitial {
			seq = appendTLV(seq, tagSubInitial, []byte(f.Initial))
		}
		for _, a := range f.Any {
			seq = appendTLV(seq, tagSubAny, []byte(a))
		}
		if f.HasFinal {
			seq = appendTLV(seq, tagSubFinal, []byte(f.Final))
		}
		body = appendTLV(body, tagSequence, seq)
	case Present:
		return appendTLV(b, tagPresent, []byte(f.Attr))
	case Extensible:
		tag = tagExtensible
		if f.Rule != "" {
			body = appendTLV(body, tagMRRule, []byte(f.Rule))
		}
		if f.Attr != "" {
			body = appendTLV(body, tagMRType, []byte(f.Attr))
		}
		body = appendTLV(body, tagMRValue, []byte(f.Value))
		if f.DNAttributes {
			body = appendTLV(body, tagMRDN, []byte{0xff})
		}
	}
	return appendTLV(b, tag, body)
}
