package ldapfront

import (
	"bufio"
	"bytes"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/pwcontrol"
)

// Raw BER builders for messages asn1-ber would take too long (or too
// much memory) to build.

// header is the identifier and the shortest definite length of an
// element of n content bytes.
func header(tag byte, n int) []byte {
	switch {
	case n < 0x80:
		return []byte{tag, byte(n)}
	case n < 0x100:
		return []byte{tag, 0x81, byte(n)}
	case n < 0x10000:
		return []byte{tag, 0x82, byte(n >> 8), byte(n)}
	}
	return []byte{tag, 0x83, byte(n >> 16), byte(n >> 8), byte(n)}
}

// tlv encodes one element.
func tlv(tag byte, content ...[]byte) []byte {
	n := 0
	for _, c := range content {
		n += len(c)
	}
	b := slices.Grow(header(tag, n), n)
	for _, c := range content {
		b = append(b, c...)
	}
	return b
}

func str(tag byte, s string) []byte { return tlv(tag, []byte(s)) }

// rawMessage is an LDAPMessage of id, op and, when ctls is not nil, the
// [0] Controls holding ctls' bytes.
func rawMessage(id byte, op []byte, ctls []byte) []byte {
	if ctls == nil {
		return tlv(tagSequence, []byte{tagInteger, 1, id}, op)
	}
	return tlv(tagSequence, []byte{tagInteger, 1, id}, op, tlv(tagControls, ctls))
}

func rawWhoAmI() []byte { return tlv(appExtendedRequest, str(0x80, oidWhoAmI)) }

// emptyElementsWhoAmI is a WhoAmI of about size bytes whose controls hold
// nothing but empty SEQUENCEs: the review's hostile message.
func emptyElementsWhoAmI(size int) []byte {
	return rawMessage(1, rawWhoAmI(), bytes.Repeat([]byte{0x30, 0x00}, size/2))
}

// control encodes one request control.
func control(oid string, critical bool, value []byte) []byte {
	parts := [][]byte{str(tagOctetString, oid)}
	if critical {
		parts = append(parts, []byte{tagBoolean, 1, 0xff})
	}
	if value != nil {
		parts = append(parts, tlv(tagOctetString, value))
	}
	return tlv(tagSequence, parts...)
}

// manyControls is a WhoAmI with n non-critical controls.
func manyControls(n int) []byte {
	c := control("1.2.3.4", false, nil)
	return rawMessage(1, rawWhoAmI(), bytes.Repeat(c, n))
}

// deepControls is a WhoAmI whose controls hold an empty SEQUENCE inside
// depth more: the innermost is at depth+2 (the envelope is at 0).
func deepControls(depth int) []byte {
	// Headers from the inside out, then joined once: linear in depth.
	inner := []byte{0x30, 0x00}
	hdrs := make([][]byte, depth)
	n := len(inner)
	for i := range depth {
		hdrs[depth-1-i] = header(tagSequence, n)
		n += len(hdrs[depth-1-i])
	}
	b := make([]byte, 0, n)
	for _, h := range hdrs {
		b = append(b, h...)
	}
	return rawMessage(1, rawWhoAmI(), append(b, inner...))
}

func rawBind(name string, password []byte) []byte {
	return tlv(appBindRequest, []byte{tagInteger, 1, 3}, str(tagOctetString, name), tlv(0x80, password))
}

func rawSearch(attrs ...string) []byte {
	var sel [][]byte
	for _, a := range attrs {
		sel = append(sel, str(tagOctetString, a))
	}
	return tlv(appSearchRequest, str(tagOctetString, ""), []byte{tagEnumerated, 1, 0}, []byte{tagEnumerated, 1, 0},
		[]byte{tagInteger, 1, 0}, []byte{tagInteger, 1, 0}, []byte{tagBoolean, 1, 0}, str(0x87, "objectClass"), tlv(tagSequence, sel...))
}

func rawPasswordModify(newPass []byte) []byte {
	v := tlv(tagSequence, str(0x80, "dn:"+userDN), str(0x81, userPass), tlv(0x82, newPass))
	return tlv(appExtendedRequest, str(0x80, oidPasswordModify), tlv(0x81, v))
}

func rawModifyPassword(values ...[]byte) []byte {
	var vals [][]byte
	for _, v := range values {
		vals = append(vals, tlv(tagOctetString, v))
	}
	change := tlv(tagSequence, []byte{tagEnumerated, 1, modReplace}, tlv(tagSequence, str(tagOctetString, "userPassword"), tlv(tagSet, vals...)))
	return tlv(appModifyRequest, str(tagOctetString, userDN), tlv(tagSequence, change))
}

// readRequest is what the reader goroutine does with one message, up to
// the handler: frame it, decode the envelope and the protocolOp. It
// returns the first error.
func readRequest(msg []byte, max int) error {
	r := bufio.NewReader(bytes.NewReader(msg))
	tag, err := r.ReadByte()
	if err != nil {
		return err
	}
	frame, err := readFrame(r, tag, max)
	if err != nil {
		return err
	}
	defer clear(frame)
	m, err := decodeMessage(frame)
	if err != nil {
		return err
	}
	interpretControls(m.controls)
	switch m.tag {
	case appBindRequest:
		req, err := decodeBind(m.op)
		req.password.Wipe()
		return err
	case appSearchRequest:
		req, err := decodeSearch(m.op)
		if err != nil {
			return err
		}
		_, err = matchFilter(req.filter, rootDSE(&Options{Vendor: "v"}, []string{"dc=example,dc=com"}, true))
		return err
	case appExtendedRequest:
		req, err := decodeExtended(m.op)
		if err != nil {
			return err
		}
		if req.oid == oidPasswordModify {
			pm, err := decodePasswordModify(req.value, req.hasValue)
			pm.OldPassword.Wipe()
			pm.NewPassword.Wipe()
			return err
		}
	case appModifyRequest:
		req, err := decodeModify(m.op)
		req.wipe()
		return err
	}
	return nil
}

func TestDecodeMessageLimits(t *testing.T) {
	padCtl := func(n int) []byte { return bytes.Repeat([]byte{0x30, 0x00}, n) }
	cases := []struct {
		name string
		msg  []byte
		want error // nil, errMalformed, errTooComplex
	}{
		{"WhoAmI", rawMessage(1, rawWhoAmI(), nil), nil},
		{"32 controls", manyControls(maxControls), nil},
		{"33 controls", manyControls(maxControls + 1), errTooComplex},
		{"40,000 controls", manyControls(40000), errTooComplex},
		// A search is 11 elements and its attribute selectors.
		{"most elements allowed", rawMessage(1, rawSearch(make([]string, maxElements-11)...), nil), nil},
		{"one element too many", rawMessage(1, rawSearch(make([]string, maxElements-10)...), nil), errTooComplex},
		{"one element too many in the controls", rawMessage(1, rawWhoAmI(), padCtl(maxElements-4)), errTooComplex},
		{"500,000 empty elements", emptyElementsWhoAmI(1 << 20), errTooComplex},
		{"deepest allowed", deepControls(maxDepth - 2), errMalformed}, // not a Control, but within the limits
		{"one level too deep", deepControls(maxDepth - 1), errTooComplex},
		{"a control with a value and criticality", rawMessage(1, rawWhoAmI(), control(pwcontrol.OIDPasswordPolicy, true, []byte("v"))), nil},
		{"a control with two values", rawMessage(1, rawWhoAmI(), tlv(tagSequence, str(tagOctetString, "1.2"), str(tagOctetString, "a"), str(tagOctetString, "b"))), errMalformed},
		{"a control with a two-octet criticality", rawMessage(1, rawWhoAmI(), tlv(tagSequence, str(tagOctetString, "1.2"), []byte{tagBoolean, 2, 0, 0})), errMalformed},
		{"a control that is an OCTET STRING", rawMessage(1, rawWhoAmI(), str(tagOctetString, "1.2")), errMalformed},
		{"an empty control", rawMessage(1, rawWhoAmI(), []byte{0x30, 0}), errMalformed},
		{"four elements", tlv(tagSequence, []byte{tagInteger, 1, 1}, rawWhoAmI(), tlv(tagControls), []byte{5, 0}), errMalformed},
		{"trailing bytes", append(rawMessage(1, rawWhoAmI(), nil), 0), errMalformed},
		{"indefinite length inside", tlv(tagSequence, []byte{tagInteger, 1, 1}, []byte{0x77, 0x80, 0, 0}), errMalformed},
		{"nine-octet messageID", tlv(tagSequence, []byte{tagInteger, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1}, rawWhoAmI()), errMalformed},
		{"messageID 2^31", tlv(tagSequence, []byte{tagInteger, 5, 0, 0x80, 0, 0, 0}, rawWhoAmI()), errMalformed},
		{"context-class protocolOp", tlv(tagSequence, []byte{tagInteger, 1, 1}, str(0x80, "x")), errMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m, err := decodeMessage(tc.msg)
			switch {
			case tc.want == nil && err != nil:
				t.Fatalf("decodeMessage: %v", err)
			case tc.want == nil:
				if m.id != 1 {
					t.Fatalf("message %+v", m)
				}
			case !errors.Is(err, tc.want):
				t.Fatalf("decodeMessage = %v, want %v", err, tc.want)
			case tc.want == errMalformed && errors.Is(err, errTooComplex):
				t.Fatalf("decodeMessage = %v: within the limits", err)
			}
		})
	}
	m, err := decodeMessage(manyControls(maxControls))
	if err != nil || len(m.controls) != maxControls || cap(m.controls) != maxControls {
		t.Fatalf("32 controls: %d (cap %d), %v", len(m.controls), cap(m.controls), err)
	}
}

// TestDecodeCostsWhatItWeighs: reading a request, whatever it holds,
// allocates at most a small multiple of its size (the frame itself, and
// copies of what is kept), and a refused one next to nothing beyond its
// frame. A count of bytes allocated, not a timing.
func TestDecodeCostsWhatItWeighs(t *testing.T) {
	const size = 1 << 20
	big := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	attrs := make([]string, 4000)
	for i := range attrs {
		attrs[i] = strings.Repeat("a", 250)
	}
	vals := make([][]byte, 4000)
	for i := range vals {
		vals[i] = big(250)
	}
	var ctls []byte
	for range maxControls {
		ctls = append(ctls, control("1.2.3.4", false, big(size/maxControls-20))...)
	}
	cases := []struct {
		name    string
		msg     []byte
		refused bool
	}{
		{"500,000 empty elements in a WhoAmI's controls", emptyElementsWhoAmI(size), true},
		{"40,000 controls", manyControls(size / 12), true},
		{"elements nested 100,000 deep", deepControls(size / 8), true},
		{"32 controls with 32 KiB values", rawMessage(1, rawWhoAmI(), ctls), false},
		{"bind with a 1 MB name", rawMessage(1, rawBind(strings.Repeat("x", size), []byte("p")), nil), false},
		{"bind with a 1 MB password", rawMessage(1, rawBind(userDN, big(size)), nil), false},
		{"search for 4,000 attributes", rawMessage(1, rawSearch(attrs...), nil), false},
		{"Password Modify with a 1 MB password", rawMessage(1, rawPasswordModify(big(size)), nil), false},
		{"modify with 4,000 userPassword values", rawMessage(1, rawModifyPassword(vals...), nil), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if err := readRequest(tc.msg, 2*size); (err != nil) != tc.refused || tc.refused && !errors.Is(err, errMalformed) {
				t.Fatalf("readRequest: %v", err)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_ = readRequest(tc.msg, 2*size)
			runtime.ReadMemStats(&after)
			got := after.TotalAlloc - before.TotalAlloc
			limit := uint64(4 * len(tc.msg))
			if tc.refused {
				// The frame, and little else.
				limit = uint64(len(tc.msg)) + 64<<10
			}
			t.Logf("%d-byte message: %d bytes allocated (%.2f×)", len(tc.msg), got, float64(got)/float64(len(tc.msg)))
			if got > limit {
				t.Fatalf("%d bytes allocated for a %d-byte message, over %d", got, len(tc.msg), limit)
			}
			if tc.refused {
				// A handful (the frame, the reader, the error; more under
				// -race), not one per element.
				if n := testing.AllocsPerRun(3, func() { _ = readRequest(tc.msg, 2*size) }); n > 64 {
					t.Fatalf("%v allocations to refuse it", n)
				}
			}
		})
	}
}

// TestHostileMessagesRefused: the review's messages, and the other ways
// over the structure and size limits, end the connection with a Notice of
// Disconnection (protocolError), reported as the limit they hit; what is
// within the limits is answered.
func TestHostileMessagesRefused(t *testing.T) {
	core, _ := testCore(t)
	lim := testLimits()
	lim.MaxMessageBytes = 2 << 20 // MaxMessageBytesAnonymous stays 256 KiB
	ts := startServer(t, core, Options{Limits: lim}, Listener{Name: "t", Cleartext: CleartextAllow})

	refused := []struct {
		name  string
		bound bool
		msg   []byte
		limit string
	}{
		{"1 MB of empty elements in a WhoAmI's controls", true, emptyElementsWhoAmI(1 << 20), "message_structure"},
		{"480 KB with 40,000 controls", true, manyControls(40000), "message_structure"},
		{"33 controls", false, manyControls(maxControls + 1), "message_structure"},
		{"a control 65 levels deep", false, deepControls(maxDepth - 1), "message_structure"},
		{"1 MB before a bind", false, emptyElementsWhoAmI(1 << 20), "max_message_bytes_anonymous"},
		{"257 KiB before a bind", false, rawMessage(2, rawWhoAmI(), control("1.2.3", false, make([]byte, 257<<10))), "max_message_bytes_anonymous"},
		{"over the limit after a bind", true, rawMessage(2, rawWhoAmI(), control("1.2.3", false, make([]byte, 2<<20))), "max_message_bytes"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, ts.addr)
			if tc.bound {
				r.bind(1, userDN, userPass)
			}
			// The server may stop reading at the length: write from the
			// side and ignore a reset.
			go func() { _, _ = r.c.Write(tc.msg) }()
			r.expectNotice(bridge.ProtocolError)
			waitFor(t, "limit "+tc.limit, func() bool { return slices.Contains(ts.ev.limitHits(), tc.limit) })
			stillServing(t, ts.addr)
		})
	}

	answered := []struct {
		name  string
		bound bool
		msg   []byte
	}{
		{"32 controls", false, manyControls(maxControls)},
		{"255 KiB before a bind", false, rawMessage(2, rawWhoAmI(), control("1.2.3", false, make([]byte, 255<<10)))},
		{"1 MB after a bind", true, rawMessage(2, rawWhoAmI(), control("1.2.3", false, make([]byte, 1<<20)))},
	}
	for _, tc := range answered {
		t.Run(tc.name, func(t *testing.T) {
			r := dialRaw(t, ts.addr)
			if tc.bound {
				r.bind(1, userDN, userPass)
			}
			r.send(tc.msg)
			if rs := parseResponse(t, r.read()); rs.opTag != appExtendedResp || rs.code != bridge.Success {
				t.Fatalf("got %+v", rs)
			}
		})
	}
}

// TestHostileMessagesMemory: four bound clients each send a 1 MB message
// of empty elements at once; the server's allocations stay far below
// what a tree of them would take (~170 MB each before the TLV reader).
// Bytes allocated, not a timing.
func TestHostileMessagesMemory(t *testing.T) {
	core, _ := testCore(t)
	lim := testLimits()
	lim.MaxMessageBytes = 1<<20 + 64
	ts := startServer(t, core, Options{Limits: lim}, Listener{Name: "t", Cleartext: CleartextAllow})
	msg := emptyElementsWhoAmI(1 << 20)
	const clients = 4
	rs := make([]*rawClient, clients)
	for i := range rs {
		rs[i] = dialRaw(t, ts.addr)
		rs[i].bind(1, userDN, userPass)
	}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _ = r.c.Write(msg)
		}()
	}
	wg.Wait()
	for _, r := range rs {
		r.expectNotice(bridge.ProtocolError)
	}
	runtime.ReadMemStats(&after)
	grew := after.TotalAlloc - before.TotalAlloc
	t.Logf("%d × %d-byte messages: %d bytes allocated, heap in use %+d", clients, len(msg), grew, int64(after.HeapInuse)-int64(before.HeapInuse))
	if grew >= 64<<20 {
		t.Fatalf("%d bytes allocated for %d hostile messages of %d bytes", grew, clients, len(msg))
	}
}
