package ldapfront

import (
	"unsafe"

	"fmt"

	ber "github.com/go-asn1-ber/asn1-ber"
	"github.com/ldapbridge/ldapbridge/ldapfront/internal/berlex"
)

// decodeBER checks b as strictly as the server checks a request (but with
// no element limit: responses may be large) and decodes it into an
// asn1-ber tree, for the tests that look at responses. The server itself
// never builds a tree.
func decodeBER(b []byte) (*ber.Packet, error) {
	if err := berlex.Check(b, berlex.Limits{MaxDepth: maxDepth, MaxElements: 1 << 30}); err != nil {
		return nil, fmt.Errorf("%v: %w", err, errMalformed)
	}
	p, err := ber.DecodePacketErr(b)
	if err != nil {
		return nil, fmt.Errorf("decode BER: %v: %w", err, errMalformed)
	}
	return p, nil
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
