package pingone

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/ldapbridge/ldapbridge/restback/transport"
)

// Request bodies that carry passwords are assembled by hand from the
// Secrets' bytes, so that the only copies are buffers the client wipes
// (encoding/json would need the passwords as strings, which cannot be).

// bodyBuilder appends a JSON object field by field.
type bodyBuilder struct {
	b []byte
}

func newBody() *bodyBuilder { return &bodyBuilder{b: append(make([]byte, 0, 512), '{')} }

// grow makes room for n more bytes, wiping the old buffer when it moves:
// no stray copy of a password is left for the garbage collector.
func (bb *bodyBuilder) grow(n int) {
	if cap(bb.b)-len(bb.b) >= n {
		return
	}
	nb := make([]byte, len(bb.b), 2*cap(bb.b)+n)
	copy(nb, bb.b)
	clear(bb.b)
	bb.b = nb
}

func (bb *bodyBuilder) key(k string) {
	bb.grow(6*len(k) + 4)
	if len(bb.b) > 1 {
		bb.b = append(bb.b, ',')
	}
	bb.b = appendJSONString(bb.b, []byte(k))
	bb.b = append(bb.b, ':')
}

func (bb *bodyBuilder) secret(k string, v []byte) *bodyBuilder {
	bb.key(k)
	bb.grow(6*len(v) + 2)
	bb.b = appendJSONString(bb.b, v)
	return bb
}

func (bb *bodyBuilder) boolean(k string, v bool) *bodyBuilder {
	bb.key(k)
	bb.grow(5)
	if v {
		bb.b = append(bb.b, "true"...)
	} else {
		bb.b = append(bb.b, "false"...)
	}
	return bb
}

// value adds a field holding v marshalled by encoding/json (no secrets).
func (bb *bodyBuilder) value(k string, v any) (*bodyBuilder, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return bb, err
	}
	bb.key(k)
	bb.grow(len(raw))
	bb.b = append(bb.b, raw...)
	return bb, nil
}

func (bb *bodyBuilder) bytes() []byte {
	bb.grow(1)
	return append(bb.b, '}')
}

// appendJSONString is transport.AppendJSONString.
func appendJSONString(dst, s []byte) []byte { return transport.AppendJSONString(dst, s) }

// textPassword reports whether a password can travel in JSON unchanged
// (PingOne passwords are text; an LDAP password may be any octets).
func textPassword(b []byte) bool { return utf8.Valid(b) }
