package pwcontrol

import (
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/ber"
)

// The Password Validation Details response value, as the reference
// implementation encodes it (its javadoc says [0] where the code writes
// [1] for clientSideValidationInfo and properties; the code wins):
//
//	PasswordValidationDetailsResponse ::= SEQUENCE {
//	    validationResult CHOICE {
//	        validationDetails         [0] SEQUENCE OF ValidationResult,
//	        noPasswordProvided        [1] NULL,
//	        multiplePasswordsProvided [2] NULL,
//	        noValidationAttempted     [3] NULL },
//	    missingCurrentPassword [3] BOOLEAN DEFAULT FALSE,
//	    mustChangePassword     [4] BOOLEAN DEFAULT FALSE,
//	    secondsUntilExpiration [5] INTEGER OPTIONAL }
//	ValidationResult ::= SEQUENCE {
//	    requirement          PasswordQualityRequirement,
//	    requirementSatisfied BOOLEAN,
//	    additionalInfo       [0] OCTET STRING OPTIONAL }
//	PasswordQualityRequirement ::= SEQUENCE {
//	    description OCTET STRING,
//	    clientSideValidationInfo [1] SEQUENCE {
//	        validationType OCTET STRING,
//	        properties     [1] SET OF SEQUENCE {
//	            name OCTET STRING, value OCTET STRING } OPTIONAL } OPTIONAL }
//
// noValidationAttempted and missingCurrentPassword share the tag 0x83; the
// first element is always the CHOICE, which tells them apart.

const opValidation = "decode password validation details control"

// responseType maps an unknown response type to noValidationAttempted: the
// encoder cannot fail, and "nothing was validated" is the honest reading.
func responseType(v *bridge.ValidationDetails) bridge.ValidationResponseType {
	if v == nil || v.ResponseType > bridge.NoValidationAttempted {
		return bridge.NoValidationAttempted
	}
	return v.ResponseType
}

func propertySize(p bridge.Property) int {
	return ber.TLVSize(ber.TLVSize(len(p.Name)) + ber.TLVSize(len(p.Value)))
}

func propertiesSize(req *bridge.Requirement) int {
	n := 0
	for _, p := range req.Properties {
		n += propertySize(p)
	}
	return n
}

// clientSideSize is the content size of clientSideValidationInfo; it is
// only called when ValidationType is set.
func clientSideSize(req *bridge.Requirement) int {
	n := ber.TLVSize(len(req.ValidationType))
	if len(req.Properties) > 0 {
		n += ber.TLVSize(propertiesSize(req))
	}
	return n
}

func requirementSize(req *bridge.Requirement) int {
	n := ber.TLVSize(len(req.Description))
	if req.ValidationType != "" {
		n += ber.TLVSize(clientSideSize(req))
	}
	return n
}

func resultSize(res *bridge.ValidationResult) int {
	n := ber.TLVSize(requirementSize(&res.Requirement)) + 3
	if res.AdditionalInfo != nil {
		n += ber.TLVSize(len(*res.AdditionalInfo))
	}
	return n
}

func resultsSize(v *bridge.ValidationDetails) int {
	n := 0
	for i := range v.Results {
		n += ber.TLVSize(resultSize(&v.Results[i]))
	}
	return n
}

func validationSize(v *bridge.ValidationDetails) int {
	rt := responseType(v)
	if rt != bridge.ValidationPerformed {
		n := 2
		if v != nil {
			n += flagsSize(v)
		}
		return n
	}
	return ber.TLVSize(resultsSize(v)) + flagsSize(v)
}

func flagsSize(v *bridge.ValidationDetails) int {
	n := 0
	if v.MissingCurrentPassword {
		n += 3
	}
	if v.MustChangePassword {
		n += 3
	}
	if v.SecondsUntilExpiration != nil {
		n += 2 + ber.IntSize(clampCount(*v.SecondsUntilExpiration))
	}
	return n
}

// AppendValidation appends the BER value of a Password Validation Details
// response control. A nil v, or an unknown response type, is written as
// noValidationAttempted; Results are written for ValidationPerformed only;
// Properties are written only with a ValidationType (the reference
// implementation cannot carry them otherwise); SecondsUntilExpiration is
// clamped to [0, MaxCount].
func AppendValidation(dst []byte, v *bridge.ValidationDetails) []byte {
	size := validationSize(v)
	if free := cap(dst) - len(dst); free < ber.TLVSize(size) {
		grown := make([]byte, len(dst), len(dst)+ber.TLVSize(size))
		copy(grown, dst)
		dst = grown
	}
	dst = ber.AppendHeader(dst, tagSequence, size)
	rt := responseType(v)
	if rt != bridge.ValidationPerformed {
		dst = append(dst, ctx0|byte(rt), 0)
	} else {
		dst = ber.AppendHeader(dst, ctxCons0, resultsSize(v))
		for i := range v.Results {
			dst = appendResult(dst, &v.Results[i])
		}
	}
	if v == nil {
		return dst
	}
	if v.MissingCurrentPassword {
		dst = append(dst, ctx3, 1, 0xff)
	}
	if v.MustChangePassword {
		dst = append(dst, ctx4, 1, 0xff)
	}
	if v.SecondsUntilExpiration != nil {
		dst = ber.AppendInt(dst, ctx5, clampCount(*v.SecondsUntilExpiration))
	}
	return dst
}

func appendResult(dst []byte, res *bridge.ValidationResult) []byte {
	dst = ber.AppendHeader(dst, tagSequence, resultSize(res))
	req := &res.Requirement
	dst = ber.AppendHeader(dst, tagSequence, requirementSize(req))
	dst = ber.AppendString(dst, tagOctetString, req.Description)
	if req.ValidationType != "" {
		dst = ber.AppendHeader(dst, ctxCons1, clientSideSize(req))
		dst = ber.AppendString(dst, tagOctetString, req.ValidationType)
		if len(req.Properties) > 0 {
			dst = ber.AppendHeader(dst, ctxCons1, propertiesSize(req))
			for _, p := range req.Properties {
				dst = ber.AppendHeader(dst, tagSequence, ber.TLVSize(len(p.Name))+ber.TLVSize(len(p.Value)))
				dst = ber.AppendString(dst, tagOctetString, p.Name)
				dst = ber.AppendString(dst, tagOctetString, p.Value)
			}
		}
	}
	if res.Satisfied {
		dst = append(dst, tagBoolean, 1, 0xff)
	} else {
		dst = append(dst, tagBoolean, 1, 0)
	}
	if res.AdditionalInfo != nil {
		dst = ber.AppendString(dst, ctx0, *res.AdditionalInfo)
	}
	return dst
}

// DecodeValidation decodes the BER value of a Password Validation Details
// response control. It accepts only what AppendValidation writes: elements
// in order, no unknown elements, no explicit FALSE for the DEFAULT FALSE
// flags, an empty set of properties left out, property names unique,
// strings in UTF-8, a non-empty validation type.
func DecodeValidation(b []byte) (*bridge.ValidationDetails, error) {
	content, err := only(b, tagSequence, opValidation, "value")
	if err != nil {
		return nil, err
	}
	r := reader{b: content, op: opValidation}
	tag, c, err := r.next()
	if err != nil {
		return nil, err
	}
	v := &bridge.ValidationDetails{}
	switch tag {
	case ctxCons0:
		v.ResponseType = bridge.ValidationPerformed
		if v.Results, err = decodeResults(c); err != nil {
			return nil, err
		}
	case ctx1, ctx2, ctx3:
		if len(c) != 0 {
			return nil, malformed(opValidation, "response type %#02x: NULL with content", tag)
		}
		v.ResponseType = bridge.ValidationResponseType(tag & 0x1f)
	default:
		return nil, malformed(opValidation, "unknown response type %#02x", tag)
	}
	// The optional elements, each at most once and in tag order.
	last := byte(0)
	for !r.empty() {
		tag, c, err := r.next()
		if err != nil {
			return nil, err
		}
		if tag <= last {
			return nil, malformed(opValidation, "element %#02x out of order or repeated", tag)
		}
		last = tag
		switch tag {
		case ctx3:
			err = parseTrue(c, opValidation, "missingCurrentPassword")
			v.MissingCurrentPassword = true
		case ctx4:
			err = parseTrue(c, opValidation, "mustChangePassword")
			v.MustChangePassword = true
		case ctx5:
			var s int64
			s, err = parseCount(c, opValidation, "secondsUntilExpiration")
			v.SecondsUntilExpiration = &s
		default:
			err = malformed(opValidation, "unknown element %#02x", tag)
		}
		if err != nil {
			return nil, err
		}
	}
	return v, nil
}

func decodeResults(b []byte) ([]bridge.ValidationResult, error) {
	var out []bridge.ValidationResult
	r := reader{b: b, op: opValidation}
	for !r.empty() {
		c, err := r.expect(tagSequence, "validation result")
		if err != nil {
			return nil, err
		}
		res, err := decodeResult(c)
		if err != nil {
			return nil, err
		}
		out = append(out, res)
	}
	return out, nil
}

func decodeResult(b []byte) (bridge.ValidationResult, error) {
	var res bridge.ValidationResult
	r := reader{b: b, op: opValidation}
	c, err := r.expect(tagSequence, "password quality requirement")
	if err != nil {
		return res, err
	}
	if res.Requirement, err = decodeRequirement(c); err != nil {
		return res, err
	}
	if c, err = r.expect(tagBoolean, "requirementSatisfied"); err != nil {
		return res, err
	}
	if res.Satisfied, err = parseBool(c, opValidation, "requirementSatisfied"); err != nil {
		return res, err
	}
	if !r.empty() {
		if c, err = r.expect(ctx0, "additionalInfo"); err != nil {
			return res, err
		}
		s, err := parseString(c, opValidation, "additionalInfo")
		if err != nil {
			return res, err
		}
		res.AdditionalInfo = &s
		if !r.empty() {
			return res, malformed(opValidation, "unexpected element after additionalInfo")
		}
	}
	return res, nil
}

func decodeRequirement(b []byte) (bridge.Requirement, error) {
	var req bridge.Requirement
	r := reader{b: b, op: opValidation}
	c, err := r.expect(tagOctetString, "description")
	if err != nil {
		return req, err
	}
	if req.Description, err = parseString(c, opValidation, "description"); err != nil {
		return req, err
	}
	if r.empty() {
		return req, nil
	}
	if c, err = r.expect(ctxCons1, "clientSideValidationInfo"); err != nil {
		return req, err
	}
	if !r.empty() {
		return req, malformed(opValidation, "unexpected element after clientSideValidationInfo")
	}
	cr := reader{b: c, op: opValidation}
	if c, err = cr.expect(tagOctetString, "validationType"); err != nil {
		return req, err
	}
	if len(c) == 0 {
		// "" means "absent" in bridge.Requirement.
		return req, malformed(opValidation, "empty validationType")
	}
	if req.ValidationType, err = parseString(c, opValidation, "validationType"); err != nil {
		return req, err
	}
	if cr.empty() {
		return req, nil
	}
	if c, err = cr.expect(ctxCons1, "properties"); err != nil {
		return req, err
	}
	if !cr.empty() {
		return req, malformed(opValidation, "unexpected element after properties")
	}
	if req.Properties, err = decodeProperties(c); err != nil {
		return req, err
	}
	return req, nil
}

func decodeProperties(b []byte) ([]bridge.Property, error) {
	if len(b) == 0 {
		return nil, malformed(opValidation, "empty properties set (it is left out when empty)")
	}
	var out []bridge.Property
	r := reader{b: b, op: opValidation}
	for !r.empty() {
		c, err := r.expect(tagSequence, "property")
		if err != nil {
			return nil, err
		}
		pr := reader{b: c, op: opValidation}
		nc, err := pr.expect(tagOctetString, "property name")
		if err != nil {
			return nil, err
		}
		vc, err := pr.expect(tagOctetString, "property value")
		if err != nil {
			return nil, err
		}
		if !pr.empty() {
			return nil, malformed(opValidation, "unexpected element in property")
		}
		var p bridge.Property
		if p.Name, err = parseString(nc, opValidation, "property name"); err != nil {
			return nil, err
		}
		if p.Value, err = parseString(vc, opValidation, "property value"); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	if err := uniqueNames(out); err != nil {
		return nil, err
	}
	return out, nil
}

// uniqueNames rejects a repeated property name: the properties are a map in
// the reference implementation, which would silently keep only one.
func uniqueNames(ps []bridge.Property) error {
	if len(ps) <= 8 {
		for i := range ps {
			for j := i + 1; j < len(ps); j++ {
				if ps[i].Name == ps[j].Name {
					return malformed(opValidation, "property %.64q repeated", ps[i].Name)
				}
			}
		}
		return nil
	}
	seen := make(map[string]struct{}, len(ps))
	for _, p := range ps {
		if _, dup := seen[p.Name]; dup {
			return malformed(opValidation, "property %.64q repeated", p.Name)
		}
		seen[p.Name] = struct{}{}
	}
	return nil
}
