package pingone

import (
	"context"
	"testing"

	"github.com/ldapbridge/ldapbridge/bridge"
)

// BenchmarkBind measures a bind with the token and the user id cached:
// one password check over HTTP to the simulator.
func BenchmarkBind(b *testing.B) {
	e := newEnv(b)
	req := bridge.BindRequest{DN: dn("alice"), Password: bridge.SecretString(alicePW)}
	if out := e.c.Bind(context.Background(), req); !out.OK() {
		b.Fatal(out.Code, out.Diagnostic)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if out := e.c.Bind(context.Background(), req); !out.OK() {
			b.Fatal(out.Code, out.Diagnostic)
		}
	}
}
