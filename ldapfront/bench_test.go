package ldapfront

import (
	"bufio"
	"bytes"
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
