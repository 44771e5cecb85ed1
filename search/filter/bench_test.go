package filter

import "testing"

// BenchmarkDecodeEvaluate measures the work per candidate entry of the
// commonest search-then-bind filter.
func BenchmarkDecodeEvaluate(b *testing.B) {
	ber := compile(b, "(&(objectClass=person)(uid=jdoe))")
	s := DefaultSchema()
	b.ReportAllocs()
	for b.Loop() {
		f, err := Decode(ber)
		if err != nil {
			b.Fatal(err)
		}
		if Evaluate(f, jdoe, s) != True {
			b.Fatal("no match")
		}
	}
}
