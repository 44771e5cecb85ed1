package pwcontrol

import (
	"bytes"
	"reflect"
	"testing"
)

// The decoders accept canonical encodings only, so whatever decodes must
// re-encode to the very same bytes, and those must decode to an equal value.

func FuzzDecodePolicy(f *testing.F) {
	vec := loadVectors(f)
	for _, tc := range vec.Ppolicy {
		f.Add(unhex(f, tc.ValueHex))
	}
	for _, s := range []string{"3000", "3003810105", "3006a00480020e10", "3009a00780050080000000", "30800000", "3084ffffffff"} {
		f.Add(unhex(f, s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := DecodePolicy(in)
		if err != nil {
			return
		}
		out := AppendPolicy(nil, p)
		if !bytes.Equal(out, in) {
			t.Fatalf("decoded %x as %+v, re-encoded as %x", in, p, out)
		}
		q, err := DecodePolicy(out)
		if err != nil || q != p {
			t.Fatalf("re-encoding of %+v decodes to %+v, %v", p, q, err)
		}
	})
}

func FuzzDecodeValidation(f *testing.F) {
	vec := loadVectors(f)
	for _, tc := range vec.ValidationDetails {
		f.Add(unhex(f, tc.ValueHex))
	}
	f.Add(unhex(f, vec.DecodeCheck.InputHex))
	for _, tc := range vec.Variants {
		f.Add(unhex(f, tc.InputHex))
	}
	f.Add(AppendValidation(nil, benchValidation()))
	f.Fuzz(func(t *testing.T, in []byte) {
		v, err := DecodeValidation(in)
		if err != nil {
			if v != nil {
				t.Fatalf("value %+v returned with error %v", v, err)
			}
			return
		}
		out := AppendValidation(nil, v)
		if !bytes.Equal(out, in) {
			t.Fatalf("decoded %x as %+v, re-encoded as %x", in, v, out)
		}
		w, err := DecodeValidation(out)
		if err != nil || !reflect.DeepEqual(w, v) {
			t.Fatalf("re-encoding of %+v decodes to %+v, %v", v, w, err)
		}
	})
}
