package pingdirectory

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
)

// benchSim is a simulator with a small latency, as a LAN backend has.
func benchSim(b *testing.B) (*directorysim.Server, *Client) {
	b.Helper()
	s := directorysim.New(directorysim.Config{Policy: directorysim.Policy{MinLength: 1}, Admins: []string{adminDN}})
	for dn, pw := range map[string]string{adminDN: adminPW, aliceDN: alicePW} {
		if err := s.AddUser(dn, pw); err != nil {
			b.Fatal(err)
		}
	}
	s.SetLatency(200*time.Microsecond, 100*time.Microsecond)
	u, err := s.Start("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { s.Close() })
	c, err := New(Config{Name: "bench", BaseURL: u})
	if err != nil {
		b.Fatal(err)
	}
	return s, c
}

// requestsPerOp reports the HTTP requests per operation and fails unless
// it is exactly one.
func requestsPerOp(b *testing.B, s *directorysim.Server, before int64) {
	b.Helper()
	per := float64(s.Requests()-before) / float64(b.N)
	b.ReportMetric(per, "requests/op")
	if per != 1 {
		b.Fatalf("%.2f HTTP requests per operation, want 1", per)
	}
}

func BenchmarkBind(b *testing.B) {
	s, c := benchSim(b)
	req := bridge.BindRequest{DN: aliceDN, Password: secret(alicePW)}
	before := s.Requests()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if out := c.Bind(context.Background(), req); out.Code != bridge.Success {
				b.Errorf("bind: %+v", out)
				return
			}
		}
	})
	b.StopTimer()
	requestsPerOp(b, s, before)
}

func BenchmarkChangePassword(b *testing.B) {
	s, c := benchSim(b)
	before := s.Requests()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out := c.ChangePassword(context.Background(), bridge.ChangeRequest{
			Target: aliceDN, Kind: bridge.AdminReset, Actor: creds(adminDN, adminPW),
			NewPassword: secret("pw-" + strconv.Itoa(i)),
		})
		if out.Code != bridge.Success {
			b.Fatalf("change: %+v", out)
		}
	}
	b.StopTimer()
	requestsPerOp(b, s, before)
}
