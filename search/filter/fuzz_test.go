package filter

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecode: no input makes Decode panic, hang or return anything but a
// filter or an error wrapping ErrMalformed or ErrTooComplex; a decoded
// filter is within the limits, round-trips through Encode, has a String
// and evaluates.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"(uid=jdoe)", "(&(objectClass=person)(uid=jdoe))", "(|(uid=a)(!(cn=b*c*d)))",
		"(cn>=m)", "(cn<=m)", "(mail=*)", "(cn~=x)", "(cn:dn:2.5.13.5:=J)", "(:caseIgnoreMatch:=x)",
		`(cn=\00\28\29\2a\5c)`,
	} {
		f.Add(compile(f, s))
	}
	f.Add(nest(MaxDepth + 1))
	f.Add([]byte{0x87, 0x84, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		flt, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooComplex) {
				t.Fatalf("Decode error %v wraps neither sentinel", err)
			}
			return
		}
		if n := flt.Size(); n > MaxNodes {
			t.Fatalf("decoded %d nodes", n)
		}
		_ = flt.String()
		_ = Evaluate(flt, jdoe, nil)
		again, err := Decode(Encode(flt))
		if err != nil {
			t.Fatalf("re-decoding Encode(%s): %v", flt, err)
		}
		if !bytes.Equal(Encode(again), Encode(flt)) || again.String() != flt.String() {
			t.Fatalf("round trip changed %s into %s", flt, again)
		}
	})
}
