// Package pwcontrol is the one codec of the two password controls the
// bridge speaks: the draft-behera password policy control and Ping's
// Password Validation Details control. It holds their OIDs, their BER
// values (for the LDAP wire), and their JSON form (for the Directory REST
// API's "_controls"), golden-tested against the reference vectors in
// testdata. Both ldapfront and restback import it; it imports neither.
//
// BER: only the control value is handled, without the OCTET STRING that
// wraps it inside an LDAP Control. The encoders write exactly the bytes of
// the reference implementation (the UnboundID LDAP SDK 7.0.6): definite
// minimal lengths, minimal INTEGERs, BOOLEAN TRUE as 0xFF, DEFAULT FALSE
// booleans left out, properties in the order given. The decoders accept
// exactly those encodings and nothing else, so anything they accept
// re-encodes to the same bytes.
package pwcontrol

import (
	"errors"
	"fmt"
	"math"
)

// The control OIDs.
const (
	OIDPasswordPolicy            = "1.3.6.1.4.1.42.2.27.8.5.1"
	OIDValidationDetailsRequest  = "1.3.6.1.4.1.30221.2.5.40"
	OIDValidationDetailsResponse = "1.3.6.1.4.1.30221.2.5.41"
)

// MaxCount is the largest warning value or seconds-until-expiration the
// controls carry: draft-behera's maxInt, and the Java int the reference
// implementation decodes into. Encoders clamp to [0, MaxCount] so that no
// client ever receives a value it cannot decode.
const MaxCount = math.MaxInt32

// ErrMalformed is wrapped by every decoding error.
var ErrMalformed = errors.New("malformed control value")

// BER identifier octets used by the two controls.
const (
	tagBoolean     = 0x01
	tagOctetString = 0x04
	tagSequence    = 0x30

	ctx0 = 0x80 // [0] primitive
	ctx1 = 0x81
	ctx2 = 0x82
	ctx3 = 0x83
	ctx4 = 0x84
	ctx5 = 0x85

	ctxCons0 = 0xa0 // [0] constructed
	ctxCons1 = 0xa1
)

func malformed(op, format string, args ...any) error {
	return fmt.Errorf("%s: %w: %s", op, ErrMalformed, fmt.Sprintf(format, args...))
}

// clampCount keeps a count in the range every decoder accepts.
func clampCount(v int64) int64 {
	switch {
	case v < 0:
		return 0
	case v > MaxCount:
		return MaxCount
	}
	return v
}
