package ldapfront

import (
	"bytes"
	"testing"
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
