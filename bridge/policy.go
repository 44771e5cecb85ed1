package bridge

// PolicyError is the draft-behera password policy error
// (1.3.6.1.4.1.42.2.27.8.5.1). PolicyErrorNone means "no error element".
type PolicyError int8

// The ppolicy errors, numbered as on the wire.
const (
	PolicyErrorNone             PolicyError = -1
	PasswordExpired             PolicyError = 0
	AccountLocked               PolicyError = 1
	ChangeAfterReset            PolicyError = 2
	PasswordModNotAllowed       PolicyError = 3
	MustSupplyOldPassword       PolicyError = 4
	InsufficientPasswordQuality PolicyError = 5
	PasswordTooShort            PolicyError = 6
	PasswordTooYoung            PolicyError = 7
	PasswordInHistory           PolicyError = 8
)

var policyErrorNames = [...]string{
	"passwordExpired", "accountLocked", "changeAfterReset", "passwordModNotAllowed",
	"mustSupplyOldPassword", "insufficientPasswordQuality", "passwordTooShort",
	"passwordTooYoung", "passwordInHistory",
}

func (e PolicyError) String() string {
	if e >= 0 && int(e) < len(policyErrorNames) {
		return policyErrorNames[e]
	}
	return "none"
}

// WarningKind selects the ppolicy warning CHOICE.
type WarningKind uint8

// The ppolicy warnings.
const (
	WarningNone WarningKind = iota
	TimeBeforeExpiration
	GraceAuthNsRemaining
)

// Policy is the content of a password policy response control. The zero
// value is "nothing to report" (value 30 00) once Error is set to
// PolicyErrorNone; use NoPolicy() to get that.
type Policy struct {
	Warning      WarningKind
	WarningValue int64 // seconds, or remaining grace logins
	Error        PolicyError
}

// NoPolicy is a Policy with neither warning nor error.
func NoPolicy() Policy { return Policy{Error: PolicyErrorNone} }

// PolicyErr is a Policy carrying only an error.
func PolicyErr(e PolicyError) *Policy { return &Policy{Error: e} }

// ValidationResponseType is the CHOICE of the Password Validation Details
// response control (1.3.6.1.4.1.30221.2.5.41).
type ValidationResponseType uint8

// The response types; the numbers are the CHOICE tags on the wire.
const (
	ValidationPerformed       ValidationResponseType = 0
	NoPasswordProvided        ValidationResponseType = 1
	MultiplePasswordsProvided ValidationResponseType = 2
	NoValidationAttempted     ValidationResponseType = 3
)

// ValidationDetails is the Password Validation Details response, in the
// shape of the UnboundID SDK's PasswordValidationDetailsResponseControl.
type ValidationDetails struct {
	ResponseType ValidationResponseType
	// Results is meaningful for ValidationPerformed only (possibly empty).
	Results                []ValidationResult
	MissingCurrentPassword bool
	MustChangePassword     bool
	// SecondsUntilExpiration is nil when absent.
	SecondsUntilExpiration *int64
}

// ValidationResult is one requirement and whether the password met it.
type ValidationResult struct {
	Requirement Requirement
	Satisfied   bool
	// AdditionalInfo is nil when absent.
	AdditionalInfo *string
}

// Requirement is a PasswordQualityRequirement. ValidationType == "" means
// the clientSideValidationInfo element is absent; Properties keep their
// order (the reference encoder writes insertion order, not DER order).
type Requirement struct {
	Description    string
	ValidationType string
	Properties     []Property
}

// Property is one client-side validation property.
type Property struct {
	Name, Value string
}
