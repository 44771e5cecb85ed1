package pwcontrol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/internal/ber"
)

func ptr[T any](v T) *T { return &v }

func TestGoldenValidationBER(t *testing.T) {
	vec := loadVectors(t)
	for _, tc := range vec.ValidationDetails {
		t.Run(tc.Name, func(t *testing.T) {
			in := unhex(t, tc.ValueHex)
			v, err := DecodeValidation(in)
			if err != nil {
				t.Fatalf("DecodeValidation: %v", err)
			}
			if got := AppendValidation(nil, v); !bytes.Equal(got, in) {
				t.Fatalf("re-encoded\n got %x\nwant %x", got, in)
			}
		})
	}
	t.Run("decode_check", func(t *testing.T) {
		in := unhex(t, vec.DecodeCheck.InputHex)
		v, err := DecodeValidation(in)
		if err != nil {
			t.Fatalf("DecodeValidation: %v", err)
		}
		want := unhex(t, vec.DecodeCheck.ReencodedHex)
		if got := AppendValidation(nil, v); !bytes.Equal(got, want) {
			t.Fatalf("re-encoded\n got %x\nwant %x", got, want)
		}
		if !v.MustChangePassword || len(v.Results) != 1 || v.Results[0].Requirement.ValidationType != "length" {
			t.Fatalf("decoded %+v", v)
		}
	})
	for _, tc := range vec.Variants {
		t.Run(tc.Label, func(t *testing.T) {
			if v, err := DecodeValidation(unhex(t, tc.InputHex)); err == nil {
				t.Fatalf("accepted the javadoc tag variant: %+v", v)
			} else if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
		})
	}
}

func TestGoldenPolicyBER(t *testing.T) {
	vec := loadVectors(t)
	for _, tc := range vec.Ppolicy {
		t.Run(tc.Name, func(t *testing.T) {
			want := bridge.NoPolicy()
			if tc.Input.WarningType != nil {
				switch *tc.Input.WarningType {
				case "TIME_BEFORE_EXPIRATION":
					want.Warning = bridge.TimeBeforeExpiration
				case "GRACE_LOGINS_REMAINING":
					want.Warning = bridge.GraceAuthNsRemaining
				default:
					t.Fatalf("unknown warning type %q in vectors", *tc.Input.WarningType)
				}
				want.WarningValue = *tc.Input.WarningValue
			}
			if tc.Input.ErrorCode != nil {
				want.Error = bridge.PolicyError(*tc.Input.ErrorCode)
			}
			in := unhex(t, tc.ValueHex)
			if !bytes.Equal(in, unhex(t, tc.ExperimentalValueHex)) {
				t.Fatalf("vectors disagree between the two SDK classes")
			}
			if got := AppendPolicy(nil, want); !bytes.Equal(got, in) {
				t.Fatalf("AppendPolicy(%+v)\n got %x\nwant %x", want, got, in)
			}
			got, err := DecodePolicy(in)
			if err != nil {
				t.Fatalf("DecodePolicy: %v", err)
			}
			if got != want {
				t.Fatalf("DecodePolicy = %+v, want %+v", got, want)
			}
		})
	}
}

// The examples DESIGN.md gives.
func TestDesignExamples(t *testing.T) {
	if got, want := AppendPolicy(nil, *bridge.PolicyErr(bridge.InsufficientPasswordQuality)), unhex(t, "3003810105"); !bytes.Equal(got, want) {
		t.Errorf("error 5: got %x, want %x", got, want)
	}
	warn := bridge.Policy{Warning: bridge.TimeBeforeExpiration, WarningValue: 3600, Error: bridge.PolicyErrorNone}
	if got, want := AppendPolicy(nil, warn), unhex(t, "3006a00480020e10"); !bytes.Equal(got, want) {
		t.Errorf("warning 3600: got %x, want %x", got, want)
	}
	if got, want := AppendPolicy(nil, bridge.NoPolicy()), unhex(t, "3000"); !bytes.Equal(got, want) {
		t.Errorf("empty: got %x, want %x", got, want)
	}
	npp := &bridge.ValidationDetails{ResponseType: bridge.NoPasswordProvided}
	if got, want := AppendValidation(nil, npp), unhex(t, "30028100"); !bytes.Equal(got, want) {
		t.Errorf("no-password-provided: got %x, want %x", got, want)
	}
	v, err := DecodeValidation(unhex(t, "30028100"))
	if err != nil || !reflect.DeepEqual(v, npp) {
		t.Errorf("decode no-password-provided = %+v, %v", v, err)
	}
}

// A hand-built value pins the field mapping, not only the round trip.
func TestValidationFieldMapping(t *testing.T) {
	v := &bridge.ValidationDetails{
		ResponseType: bridge.ValidationPerformed,
		Results: []bridge.ValidationResult{{
			Requirement: bridge.Requirement{
				Description:    "The password must contain at least 8 characters.",
				ValidationType: "length",
				Properties:     []bridge.Property{{Name: "minimum-length", Value: "8"}},
			},
			Satisfied: true,
		}},
		MissingCurrentPassword: true,
		MustChangePassword:     true,
		SecondsUntilExpiration: ptr(int64(2147483647)),
	}
	// vp_all_flags from the vectors.
	want := unhex(t, "3068a05a3058305304305468652070617373776f7264206d75737420636f6e7461696e206174206c65617374203820636861726163746572732ea11f04066c656e677468a1153013040e6d696e696d756d2d6c656e6774680401380101ff8301ff8401ff85047fffffff")
	if got := AppendValidation(nil, v); !bytes.Equal(got, want) {
		t.Fatalf("got  %x\nwant %x", got, want)
	}
	got, err := DecodeValidation(want)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("decoded %+v\nwant %+v", got, v)
	}
}

func TestAppendKeepsPrefix(t *testing.T) {
	prefix := []byte{0xde, 0xad}
	p := AppendPolicy(append([]byte(nil), prefix...), *bridge.PolicyErr(bridge.AccountLocked))
	if !bytes.Equal(p, unhex(t, "dead3003810101")) {
		t.Errorf("AppendPolicy: %x", p)
	}
	v := AppendValidation(append([]byte(nil), prefix...), &bridge.ValidationDetails{ResponseType: bridge.MultiplePasswordsProvided})
	if !bytes.Equal(v, unhex(t, "dead30028200")) {
		t.Errorf("AppendValidation: %x", v)
	}
}

func TestAppendPolicyNormalises(t *testing.T) {
	tests := []struct {
		name string
		in   bridge.Policy
		want string
	}{
		{"zero value is passwordExpired", bridge.Policy{}, "3003810100"},
		{"grace 0", bridge.Policy{Warning: bridge.GraceAuthNsRemaining, Error: bridge.PolicyErrorNone}, "3005a003810100"},
		{"negative clamps to 0", bridge.Policy{Warning: bridge.TimeBeforeExpiration, WarningValue: -5, Error: bridge.PolicyErrorNone}, "3005a003800100"},
		{"huge clamps to maxInt", bridge.Policy{Warning: bridge.TimeBeforeExpiration, WarningValue: 1 << 40, Error: bridge.PolicyErrorNone}, "3008a00680047fffffff"},
		{"255 needs a leading zero", bridge.Policy{Warning: bridge.TimeBeforeExpiration, WarningValue: 255, Error: bridge.PolicyErrorNone}, "3006a004800200ff"},
		{"65536", bridge.Policy{Warning: bridge.TimeBeforeExpiration, WarningValue: 65536, Error: bridge.PolicyErrorNone}, "3007a0058003010000"},
		{"unknown warning kind left out", bridge.Policy{Warning: 9, WarningValue: 3, Error: bridge.PasswordTooShort}, "3003810106"},
		{"error 9 left out", bridge.Policy{Error: 9}, "3000"},
		{"error -7 left out", bridge.Policy{Error: -7}, "3000"},
		{"both", bridge.Policy{Warning: bridge.GraceAuthNsRemaining, WarningValue: 2, Error: bridge.PasswordExpired}, "3008a003810102810100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendPolicy(nil, tc.in)
			if !bytes.Equal(got, unhex(t, tc.want)) {
				t.Fatalf("got %x, want %s", got, tc.want)
			}
			if _, err := DecodePolicy(got); err != nil {
				t.Fatalf("own output does not decode: %v", err)
			}
		})
	}
}

func TestAppendValidationNormalises(t *testing.T) {
	tests := []struct {
		name string
		in   *bridge.ValidationDetails
		want string
	}{
		{"nil", nil, "30028300"},
		{"unknown response type", &bridge.ValidationDetails{ResponseType: 7, MustChangePassword: true}, "300583008401ff"},
		{"results ignored unless performed", &bridge.ValidationDetails{
			ResponseType: bridge.NoPasswordProvided,
			Results:      []bridge.ValidationResult{{Requirement: bridge.Requirement{Description: "x"}}},
		}, "30028100"},
		{"properties need a type", &bridge.ValidationDetails{
			Results: []bridge.ValidationResult{{Requirement: bridge.Requirement{
				Description: "d", Properties: []bridge.Property{{Name: "n", Value: "v"}},
			}}},
		}, "300ca00a30083003040164010100"},
		{"negative seconds clamp", &bridge.ValidationDetails{
			ResponseType: bridge.NoPasswordProvided, SecondsUntilExpiration: ptr(int64(-1)),
		}, "3005810085010" + "0"},
		{"empty additional info is present", &bridge.ValidationDetails{
			Results: []bridge.ValidationResult{{Requirement: bridge.Requirement{Description: ""}, Satisfied: true, AdditionalInfo: ptr("")}},
		}, "300da00b3009300204000101ff8000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendValidation(nil, tc.in)
			if !bytes.Equal(got, unhex(t, tc.want)) {
				t.Fatalf("got %x, want %s", got, tc.want)
			}
			if _, err := DecodeValidation(got); err != nil {
				t.Fatalf("own output does not decode: %v", err)
			}
		})
	}
}

// Long descriptions need the one-, two- and three-octet long length forms,
// at every level of nesting.
func TestValidationLongForms(t *testing.T) {
	for _, n := range []int{127, 128, 255, 256, 65535, 65536, 70000} {
		v := &bridge.ValidationDetails{
			Results: []bridge.ValidationResult{{
				Requirement: bridge.Requirement{
					Description:    strings.Repeat("d", n),
					ValidationType: "t",
					Properties:     []bridge.Property{{Name: "a", Value: strings.Repeat("v", n)}, {Name: "b", Value: "1"}},
				},
				AdditionalInfo: ptr(strings.Repeat("i", n)),
			}},
			SecondsUntilExpiration: ptr(int64(128)),
		}
		enc := AppendValidation(nil, v)
		if len(enc) != ber.TLVSize(validationSize(v)) {
			t.Fatalf("n=%d: wrote %d octets, sized %d", n, len(enc), ber.TLVSize(validationSize(v)))
		}
		got, err := DecodeValidation(enc)
		if err != nil {
			t.Fatalf("n=%d: %v", n, err)
		}
		if !reflect.DeepEqual(got, v) {
			t.Fatalf("n=%d: round trip changed the value", n)
		}
	}
	// The length octets themselves, checked by hand once.
	enc := AppendValidation(nil, &bridge.ValidationDetails{Results: []bridge.ValidationResult{{Requirement: bridge.Requirement{Description: strings.Repeat("x", 300)}}}})
	if want := unhex(t, "3082013fa082013b30820137308201300482012c"); !bytes.HasPrefix(enc, want) {
		t.Fatalf("prefix %x, want %x", enc[:len(want)], want)
	}
}

// tlv builds a BER element for the tests, with a minimal definite length.
func tlv(tag byte, parts ...[]byte) []byte {
	content := bytes.Join(parts, nil)
	return append(ber.AppendHeader(nil, tag, len(content)), content...)
}

func str(tag byte, s string) []byte { return tlv(tag, []byte(s)) }

func raw(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

func TestDecodePolicyRejects(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		why  string // a part of the error message
	}{
		{"empty input", nil, "truncated"},
		{"not a sequence", raw("3100"), "want 0x30"},
		{"trailing bytes", raw("300000"), "after value"},
		{"truncated", raw("30038101"), "claims 3 octets, 2 remain"},
		{"indefinite length", raw("30800000"), "indefinite"},
		{"non-minimal short length", raw("308100"), "non-minimal length"},
		{"non-minimal long length", raw("30820003810101"), "non-minimal length"},
		{"too many length octets", raw("3085000000000300"), "too large"},
		{"huge length field", raw("3084ffffffff"), "claims 4294967295 octets"},
		{"truncated length octets", raw("3082"), "truncated length"},
		{"multi-octet tag", raw("1f0100"), "multi-octet"},
		{"unknown element", raw("3003820101"), "want 0x81"},
		{"error before warning", raw("3008810100a003810104"), "after the error"},
		{"two errors", raw("3006810101810102"), "after the error"},
		{"two warnings", raw("300aa003810104a003810104"), "want 0x81"},
		{"error 9", raw("3003810109"), "0..8"},
		{"error negative", raw("30038101ff"), "0..8"},
		{"error two octets", raw("300481020001"), "0..8"},
		{"error empty", raw("30028100"), "0..8"},
		{"warning empty", raw("3002a000"), "truncated"},
		{"warning unknown choice", raw("3005a003820101"), "unknown warning type"},
		{"warning two elements", raw("3008a006800101810101"), "more than one"},
		{"warning empty integer", raw("3004a0028000"), "empty INTEGER"},
		{"warning non-minimal integer", raw("3006a00480020001"), "non-minimal INTEGER"},
		{"warning negative", raw("3005a0038001ff"), "out of range"},
		{"warning beyond maxInt", raw("3009a00780050080000000"), "out of range"},
		{"warning primitive [0]", raw("3005800380010a"), "want 0x81"},
		{"warning length beyond input", raw("3004a0058001"), "claims 5 octets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := DecodePolicy(tc.in)
			if err == nil {
				t.Fatalf("accepted %x as %+v", tc.in, p)
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %q: want ErrMalformed about %q", err, tc.why)
			}
			if p != bridge.NoPolicy() {
				t.Fatalf("returned %+v with the error", p)
			}
		})
	}
}

func TestDecodeValidationRejects(t *testing.T) {
	seq := func(parts ...[]byte) []byte { return tlv(tagSequence, parts...) }
	// performed wraps one result in a complete value.
	performed := func(result []byte, rest ...[]byte) []byte {
		return seq(append([][]byte{tlv(ctxCons0, result)}, rest...)...)
	}
	desc := str(tagOctetString, "d")
	no := raw("010100")
	prop := func(n, v string) []byte { return seq(str(tagOctetString, n), str(tagOctetString, v)) }
	csv := func(parts ...[]byte) []byte { return tlv(ctxCons1, parts...) }
	typ := str(tagOctetString, "t")
	tests := []struct {
		name string
		in   []byte
		why  string
	}{
		{"empty input", nil, "truncated"},
		{"empty sequence", raw("3000"), "truncated"},
		{"trailing bytes", raw("3002810000"), "after value"},
		{"response type [4]", raw("30028400"), "unknown response type"},
		{"response type [0] primitive", raw("30028000"), "unknown response type"},
		{"NULL with content", raw("3003810100"), "NULL with content"},
		{"missingCurrentPassword explicit FALSE", raw("300581008301" + "00"), "must be TRUE"},
		{"mustChangePassword explicit FALSE", raw("300581008401" + "00"), "must be TRUE"},
		{"BOOLEAN TRUE not 0xff", raw("300581008301" + "01"), "must be TRUE"},
		{"BOOLEAN two octets", raw("30068100830200ff"), "must be TRUE"},
		{"flags out of order", raw("300881008401ff8301ff"), "out of order"},
		{"flag repeated", raw("300881008301ff8301ff"), "out of order"},
		{"seconds before flag", raw("30088100850101" + "8301ff"), "out of order"},
		{"seconds negative", raw("3005810085" + "01ff"), "out of range"},
		{"seconds non-minimal", raw("300681008502" + "0001"), "non-minimal INTEGER"},
		{"seconds beyond maxInt", raw("30098100850500" + "80000000"), "out of range"},
		{"seconds empty", raw("300481008500"), "empty INTEGER"},
		{"unknown trailing element", raw("30058100860100"), "unknown element"},
		{"result not a sequence", performed(tlv(0x31)), "validation result"},
		{"result missing satisfied", performed(seq(seq(desc))), "truncated"},
		{"satisfied bad octet", performed(seq(seq(desc), raw("010101"))), "neither"},
		{"satisfied wrong tag", performed(seq(seq(desc), raw("020100"))), "requirementSatisfied"},
		{"additional info wrong tag", performed(seq(seq(desc), no, str(ctx1, "i"))), "additionalInfo"},
		{"element after additional info", performed(seq(seq(desc), no, str(ctx0, "i"), str(ctx0, "j"))), "after additionalInfo"},
		{"description wrong tag", performed(seq(seq(str(ctx0, "d")), no)), "description"},
		{"description invalid UTF-8", performed(seq(seq(raw("0401ff")), no)), "not UTF-8"},
		{"additional info invalid UTF-8", performed(seq(seq(desc), no, raw("8001c3"))), "not UTF-8"},
		{"client-side info [0] (javadoc)", performed(seq(seq(desc, tlv(ctxCons0, typ)), no)), "clientSideValidationInfo"},
		{"client-side info twice", performed(seq(seq(desc, csv(typ), csv(typ)), no)), "after clientSideValidationInfo"},
		{"empty validation type", performed(seq(seq(desc, csv(raw("0400"))), no)), "empty validationType"},
		{"validation type invalid UTF-8", performed(seq(seq(desc, csv(raw("0401ff"))), no)), "not UTF-8"},
		{"validation type missing", performed(seq(seq(desc, csv()), no)), "truncated"},
		{"empty properties set", performed(seq(seq(desc, csv(typ, tlv(ctxCons1))), no)), "empty properties"},
		{"properties [0] (javadoc)", performed(seq(seq(desc, csv(typ, tlv(ctxCons0, prop("a", "b")))), no)), "properties"},
		{"property missing value", performed(seq(seq(desc, csv(typ, tlv(ctxCons1, seq(str(tagOctetString, "a"))))), no)), "truncated"},
		{"property extra element", performed(seq(seq(desc, csv(typ, tlv(ctxCons1, seq(str(tagOctetString, "a"), str(tagOctetString, "b"), str(tagOctetString, "c"))))), no)), "in property"},
		{"property invalid UTF-8", performed(seq(seq(desc, csv(typ, tlv(ctxCons1, seq(str(tagOctetString, "a"), raw("0401ff"))))), no)), "not UTF-8"},
		{"property name repeated", performed(seq(seq(desc, csv(typ, tlv(ctxCons1, prop("a", "b"), prop("a", "c")))), no)), "repeated"},
		{"element after properties", performed(seq(seq(desc, csv(typ, tlv(ctxCons1, prop("a", "b")), raw("0500"))), no)), "after properties"},
		{"inner length beyond outer", raw("3004a0023005"), "claims 5 octets"},
		{"huge inner length", raw("300aa0083084ffffffff0000"), "claims 4294967295 octets"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			v, err := DecodeValidation(tc.in)
			if err == nil {
				t.Fatalf("accepted %x as %+v", tc.in, v)
			}
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("error %q: want ErrMalformed about %q", err, tc.why)
			}
			if v != nil {
				t.Fatalf("returned %+v with the error", v)
			}
		})
	}
}

// Many repeated property names take the map path of the duplicate check.
func TestDecodeValidationManyProperties(t *testing.T) {
	props := make([]bridge.Property, 20)
	for i := range props {
		props[i] = bridge.Property{Name: string(rune('a' + i)), Value: "v"}
	}
	v := &bridge.ValidationDetails{Results: []bridge.ValidationResult{{Requirement: bridge.Requirement{Description: "d", ValidationType: "t", Properties: props}}}}
	enc := AppendValidation(nil, v)
	got, err := DecodeValidation(enc)
	if err != nil || !reflect.DeepEqual(got, v) {
		t.Fatalf("20 distinct properties: %+v, %v", got, err)
	}
	props[19].Name = "c"
	if _, err := DecodeValidation(AppendValidation(nil, v)); err == nil {
		t.Fatal("accepted a repeated name among 20 properties")
	}
}

// The bridge encodes these on every response that asks, so a caller with a
// buffer must not pay an allocation.
func TestAppendDoesNotAllocate(t *testing.T) {
	p := bridge.Policy{Warning: bridge.TimeBeforeExpiration, WarningValue: 3600, Error: bridge.ChangeAfterReset}
	v := benchValidation()
	buf := make([]byte, 0, 1024)
	if n := testing.AllocsPerRun(100, func() { buf = AppendPolicy(buf[:0], p) }); n != 0 {
		t.Errorf("AppendPolicy: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { buf = AppendValidation(buf[:0], v) }); n != 0 {
		t.Errorf("AppendValidation: %v allocations", n)
	}
	if n := testing.AllocsPerRun(100, func() { _ = AppendValidation(nil, v) }); n != 1 {
		t.Errorf("AppendValidation into nil: %v allocations, want exactly 1", n)
	}
}

func benchValidation() *bridge.ValidationDetails {
	return &bridge.ValidationDetails{
		Results: []bridge.ValidationResult{
			{Requirement: bridge.Requirement{Description: "The password must contain between 8 and 20 characters.", ValidationType: "length",
				Properties: []bridge.Property{{Name: "minimum-length", Value: "8"}, {Name: "maximum-length", Value: "20"}}}, Satisfied: true},
			{Requirement: bridge.Requirement{Description: "The password must contain at least one digit.", ValidationType: "character-set",
				Properties: []bridge.Property{{Name: "set-characters", Value: "0123456789"}, {Name: "minimum-count", Value: "1"}}}},
			{Requirement: bridge.Requirement{Description: "The password must not be a dictionary word."},
				AdditionalInfo: ptr("The proposed password was found in the dictionary.")},
		},
		SecondsUntilExpiration: ptr(int64(86400)),
	}
}

func BenchmarkAppendPolicy(b *testing.B) {
	p := bridge.Policy{Warning: bridge.TimeBeforeExpiration, WarningValue: 3600, Error: bridge.ChangeAfterReset}
	buf := make([]byte, 0, 64)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendPolicy(buf[:0], p)
	}
}

func BenchmarkAppendValidation(b *testing.B) {
	v := benchValidation()
	buf := make([]byte, 0, 1024)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendValidation(buf[:0], v)
	}
}

func BenchmarkDecodeValidation(b *testing.B) {
	enc := AppendValidation(nil, benchValidation())
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeValidation(enc); err != nil {
			b.Fatal(err)
		}
	}
}
