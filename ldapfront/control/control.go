// Package control encodes and decodes the BER values of the two response
// controls the bridge sends: the draft-behera password policy control and
// Ping's Password Validation Details control.
package control

import (
	"errors"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// The control OIDs.
const (
	OIDPasswordPolicy            = "1.3.6.1.4.1.42.2.27.8.5.1"
	OIDValidationDetailsRequest  = "1.3.6.1.4.1.30221.2.5.40"
	OIDValidationDetailsResponse = "1.3.6.1.4.1.30221.2.5.41"
)

var errTODO = errors.New("not implemented yet")

// AppendPolicy appends the BER value of a ppolicy response control to dst.
func AppendPolicy(dst []byte, p bridge.Policy) []byte { return append(dst, 0x30, 0x00) }

// DecodePolicy decodes the BER value of a ppolicy response control.
func DecodePolicy(b []byte) (bridge.Policy, error) { return bridge.NoPolicy(), errTODO }

// AppendValidation appends the BER value of a Password Validation Details response control.
func AppendValidation(dst []byte, v *bridge.ValidationDetails) []byte { return dst }

// DecodeValidation decodes the BER value of a Password Validation Details response control.
func DecodeValidation(b []byte) (*bridge.ValidationDetails, error) { return nil, errTODO }
