package bridge

// ResultCode is an LDAP result code (RFC 4511 §4.1.9). The core speaks the
// LDAP vocabulary because every backend's answer must be expressed in it.
type ResultCode uint16

// The result codes the bridge produces.
const (
	Success                      ResultCode = 0
	OperationsError              ResultCode = 1
	ProtocolError                ResultCode = 2
	TimeLimitExceeded            ResultCode = 3
	SizeLimitExceeded            ResultCode = 4
	AuthMethodNotSupported       ResultCode = 7
	StrongerAuthRequired         ResultCode = 8
	AdminLimitExceeded           ResultCode = 11
	UnavailableCriticalExtension ResultCode = 12
	ConfidentialityRequired      ResultCode = 13
	NoSuchAttribute              ResultCode = 16
	ConstraintViolation          ResultCode = 19
	NoSuchObject                 ResultCode = 32
	InvalidDNSyntax              ResultCode = 34
	InvalidCredentials           ResultCode = 49
	InsufficientAccessRights     ResultCode = 50
	Busy                         ResultCode = 51
	Unavailable                  ResultCode = 52
	UnwillingToPerform           ResultCode = 53
	Other                        ResultCode = 80
	Canceled                     ResultCode = 118
)

var resultNames = map[ResultCode]string{
	Success: "success", OperationsError: "operationsError", ProtocolError: "protocolError",
	TimeLimitExceeded: "timeLimitExceeded", SizeLimitExceeded: "sizeLimitExceeded", AuthMethodNotSupported: "authMethodNotSupported",
	StrongerAuthRequired: "strongerAuthRequired", AdminLimitExceeded: "adminLimitExceeded",
	UnavailableCriticalExtension: "unavailableCriticalExtension",
	ConfidentialityRequired:      "confidentialityRequired", NoSuchAttribute: "noSuchAttribute",
	ConstraintViolation: "constraintViolation", NoSuchObject: "noSuchObject",
	InvalidDNSyntax: "invalidDNSyntax", InvalidCredentials: "invalidCredentials",
	InsufficientAccessRights: "insufficientAccessRights", Busy: "busy", Unavailable: "unavailable",
	UnwillingToPerform: "unwillingToPerform", Other: "other", Canceled: "canceled",
}

// String is the RFC 4511 name, or the number for codes the bridge never makes.
func (c ResultCode) String() string {
	if n, ok := resultNames[c]; ok {
		return n
	}
	return "resultCode" + itoa(int(c))
}

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	neg := n < 0
	if neg {
		n = -n
	}
	var b [20]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	if neg {
		i--
		b[i] = '-'
	}
	return string(b[i:])
}
