package ldapfront

import (
	"bufio"
	"bytes"
	"errors"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

// BenchmarkReadBindRequest frames and decodes a simple bind with the
// ppolicy request control, as the reader does for every bind.
func BenchmarkReadBindRequest(b *testing.B) {
	msg := envelope(1, bindOp(3, userDN, userPass), reqControlPacket(pwcontrol.OIDPasswordPolicy, false))
	src := bytes.NewReader(msg)
	r := bufio.NewReader(src)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(msg)
		r.Reset(src)
		tag, err := r.ReadByte()
		if err != nil {
			b.Fatal(err)
		}
		frame, err := readFrame(r, tag, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		m, err := decodeMessage(frame)
		if err != nil {
			b.Fatal(err)
		}
		req, err := decodeBind(m.op)
		if err != nil || !req.simple {
			b.Fatal(err)
		}
		req.password.Wipe()
		clear(frame)
	}
}

// BenchmarkEncodeBindResponse encodes a failed bind with a ppolicy
// control into a reused buffer.
func BenchmarkEncodeBindResponse(b *testing.B) {
	ctls := []respControl{policyControl(bridge.PolicyErr(bridge.AccountLocked))}
	r := result{code: bridge.InvalidCredentials, diag: "invalid credentials"}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = appendMessage(buf[:0], 1, appBindResponse, r, nil, ctls)
	}
	b.SetBytes(int64(len(buf)))
}

// BenchmarkReadPasswordModifyRequest frames and decodes an RFC 3062
// Password Modify with userIdentity, oldPasswd and newPasswd and the
// ppolicy request control, as the reader does before starting it.
func BenchmarkReadPasswordModifyRequest(b *testing.B) {
	v := tlv(tagSequence, str(0x80, "dn:"+userDN), str(0x81, userPass), str(0x82, "N3w-Passw0rd"))
	op := tlv(appExtendedRequest, str(0x80, oidPasswordModify), tlv(0x81, v))
	msg := rawMessage(2, op, control(pwcontrol.OIDPasswordPolicy, false, nil))
	src := bytes.NewReader(msg)
	r := bufio.NewReader(src)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		src.Reset(msg)
		r.Reset(src)
		tag, err := r.ReadByte()
		if err != nil {
			b.Fatal(err)
		}
		frame, err := readFrame(r, tag, 1<<20)
		if err != nil {
			b.Fatal(err)
		}
		m, err := decodeMessage(frame)
		if err != nil {
			b.Fatal(err)
		}
		req, err := decodeExtended(m.op)
		if err != nil || req.oid != oidPasswordModify {
			b.Fatal(err)
		}
		pm, err := decodePasswordModify(req.value, req.hasValue)
		if err != nil || pm.NewPassword.IsZero() {
			b.Fatal(err)
		}
		pm.OldPassword.Wipe()
		pm.NewPassword.Wipe()
		clear(frame)
	}
}

// BenchmarkRefuseHostileMessage decodes (and refuses) a 1 MB WhoAmI whose
// controls are 500,000 empty elements: the cost of the review's attack,
// once the frame is read.
func BenchmarkRefuseHostileMessage(b *testing.B) {
	msg := emptyElementsWhoAmI(1 << 20)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeMessage(msg); !errors.Is(err, errTooComplex) {
			b.Fatal(err)
		}
	}
}
