package ldapfront

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/search/filter"
)

// TestDecodePaged: the Simple Paged Results control value (RFC 2696 §2),
// and what is not one.
func TestDecodePaged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		in     []byte
		size   int64
		cookie []byte
		ok     bool
	}{
		{"first page", []byte{0x30, 0x05, 0x02, 0x01, 0x05, 0x04, 0x00}, 5, []byte{}, true},
		{"with cookie", []byte{0x30, 0x07, 0x02, 0x01, 0x02, 0x04, 0x02, 'a', 'b'}, 2, []byte("ab"), true},
		{"size zero", []byte{0x30, 0x05, 0x02, 0x01, 0x00, 0x04, 0x00}, 0, []byte{}, true},
		{"empty", nil, 0, nil, false},
		{"not a sequence", []byte{0x04, 0x00}, 0, nil, false},
		{"no cookie", []byte{0x30, 0x03, 0x02, 0x01, 0x05}, 0, nil, false},
		{"cookie not a string", []byte{0x30, 0x06, 0x02, 0x01, 0x05, 0x02, 0x01, 0x00}, 0, nil, false},
		{"trailing", []byte{0x30, 0x05, 0x02, 0x01, 0x05, 0x04, 0x00, 0x00}, 0, nil, false},
		{"truncated", []byte{0x30, 0x09, 0x02, 0x01, 0x05, 0x04, 0x00}, 0, nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			size, cookie, err := decodePaged(tc.in)
			if (err == nil) != tc.ok || (tc.ok && (size != tc.size || !bytes.Equal(cookie, tc.cookie))) {
				t.Fatalf("got %d %q %v", size, cookie, err)
			}
		})
	}
	// The response control's value reads back as a request's would.
	v := pagedControl([]byte("next")).value(nil)
	size, cookie, err := decodePaged(v)
	if err != nil || size != 0 || string(cookie) != "next" {
		t.Fatalf("response value % x: %d %q %v", v, size, cookie, err)
	}
}

func TestLoggableFilter(t *testing.T) {
	pw := &filter.Filter{Kind: filter.Equality, Attr: "userPassword", Value: "S3cret!"}
	f := &filter.Filter{Kind: filter.And, Sub: []*filter.Filter{{Kind: filter.Equality, Attr: "uid", Value: "alice"}, {Kind: filter.Not, Sub: []*filter.Filter{pw}}}}
	if s := loggableFilter(f); strings.Contains(s, "S3cret") {
		t.Fatalf("logged %q", s)
	}
	if s := loggableFilter(&filter.Filter{Kind: filter.Equality, Attr: "uid", Value: "alice"}); s != "(uid=alice)" {
		t.Fatalf("logged %q", s)
	}
}
