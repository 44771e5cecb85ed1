package hotpath

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http/httptest"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/ldapbridge/ldapbridge/bench/simenv"
	"github.com/ldapbridge/ldapbridge/bench/users"
	"github.com/ldapbridge/ldapbridge/bridge"
	"github.com/ldapbridge/ldapbridge/ldapfront"
	"github.com/ldapbridge/ldapbridge/restback/pingdirectory"
	"github.com/ldapbridge/ldapbridge/restback/pingone"
	"github.com/ldapbridge/ldapbridge/restback/sim/directorysim"
	"github.com/ldapbridge/ldapbridge/restback/sim/pingonesim"
)

// nUsers binds cycle through (each backend client caches per-user
// lookups: PingOne's user id; the cycle keeps those warm, as in steady
// state).
const nUsers = 16

// rig is the bridge wired in-process as cmd/ldapbridge wires it (the
// demo's two routes), in front of both simulators on httptest servers,
// with one LDAP connection to it.
type rig struct {
	conn net.Conn
	br   *bufio.Reader
	buf  []byte
	// binds[backend][i] is a pre-encoded bind request for user i.
	binds map[string][][]byte
}

func newRig(tb testing.TB) *rig {
	tb.Helper()
	pdSim := directorysim.New(directorysim.Config{Policy: directorysim.Policy{MinLength: 8}})
	p1Sim := pingonesim.New(pingonesim.Config{EnvironmentID: simenv.EnvironmentID, ClientID: simenv.ClientID, ClientSecret: simenv.ClientSecret})
	r := &rig{binds: map[string][][]byte{}, buf: make([]byte, 0, 512)}
	for i := range nUsers {
		dn := users.DN(users.PingDirectoryDN, i)
		if err := pdSim.AddUser(dn, users.Password(i, 0)); err != nil {
			tb.Fatal(err)
		}
		r.binds["pingdirectory"] = append(r.binds["pingdirectory"], bindRequest(1, dn, users.Password(i, 0)))
		name := users.PingOneUsername(i)
		if _, err := p1Sim.AddUser(name, name+"@example.com", users.Password(i, 0)); err != nil {
			tb.Fatal(err)
		}
		r.binds["pingone"] = append(r.binds["pingone"], bindRequest(1, users.DN(users.PingOneDN, i), users.Password(i, 0)))
	}
	pdSrv := httptest.NewServer(pdSim)
	tb.Cleanup(pdSrv.Close)
	p1Srv := httptest.NewServer(p1Sim)
	tb.Cleanup(p1Srv.Close)

	pd, err := pingdirectory.New(pingdirectory.Config{Name: "pingdirectory", BaseURL: pdSrv.URL})
	if err != nil {
		tb.Fatal(err)
	}
	p1, err := pingone.New(pingone.Config{
		Name: "pingone", EnvironmentID: simenv.EnvironmentID, AuthURL: p1Srv.URL, APIURL: p1Srv.URL + "/v1",
		ClientID: simenv.ClientID, ClientSecret: bridge.SecretString(simenv.ClientSecret),
	})
	if err != nil {
		tb.Fatal(err)
	}
	st, err := bridge.NewState([]bridge.Route{
		{Base: users.PingDirectoryBase, Backend: "pingdirectory", BackendAuthorizes: true},
		{Base: users.PingOneBase, Backend: "pingone"},
	}, map[string]bridge.Backend{"pingdirectory": pd, "pingone": p1}, nil)
	if err != nil {
		tb.Fatal(err)
	}
	srv := ldapfront.NewServer(bridge.New(st, nil), ldapfront.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	go func() { _ = srv.Serve(ln, ldapfront.Listener{Name: "ldap", Mode: ldapfront.Plain}) }()
	tb.Cleanup(func() { srv.Close() })
	r.conn, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.conn.Close() })
	r.br = bufio.NewReaderSize(r.conn, 512)
	return r
}

// bindRequest encodes a simple bind (RFC 4511 4.2) as BER.
func bindRequest(id int, dn, password string) []byte {
	op := tlv(0x02, []byte{3}) // version
	op = append(op, tlv(0x04, []byte(dn))...)
	op = append(op, tlv(0x80, []byte(password))...)
	msg := tlv(0x02, []byte{byte(id)})
	msg = append(msg, tlv(0x60, op)...)
	return tlv(0x30, msg)
}

func tlv(tag byte, v []byte) []byte {
	out := []byte{tag}
	switch n := len(v); {
	case n < 0x80:
		out = append(out, byte(n))
	case n < 0x100:
		out = append(out, 0x81, byte(n))
	default:
		out = append(out, 0x82, byte(n>>8), byte(n))
	}
	return append(out, v...)
}

// bind sends a pre-encoded request and reads the response's result code.
// It does not allocate: the benchmark's allocations are the bridge's (and
// the simulator's).
func (r *rig) bind(req []byte) error {
	if _, err := r.conn.Write(req); err != nil {
		return err
	}
	hdr, err := r.br.Peek(2)
	if err != nil {
		return err
	}
	if hdr[0] != 0x30 {
		return errors.New("response is not a SEQUENCE")
	}
	n, skip := int(hdr[1]), 2
	if n >= 0x80 {
		k := n & 0x7f
		if k < 1 || k > 2 {
			return errors.New("bad response length")
		}
		h, err := r.br.Peek(2 + k)
		if err != nil {
			return err
		}
		n = 0
		for _, c := range h[2:] {
			n = n<<8 | int(c)
		}
		skip += k
	}
	r.buf = r.buf[:skip+n]
	if cap(r.buf) < skip+n {
		return errors.New("response too long")
	}
	if _, err := io.ReadFull(r.br, r.buf); err != nil {
		return err
	}
	// 30 L 02 01 id 61 L 0a 01 code: the short forms the bridge sends.
	m := r.buf[skip:]
	if len(m) < 8 || m[0] != 0x02 {
		return errors.New("bad message id")
	}
	m = m[2+int(m[1]):]
	if m[0] != 0x61 || len(m) < 5 || m[2] != 0x0a || m[3] != 1 {
		return fmt.Errorf("not a bind response: % x", r.buf)
	}
	if m[4] != 0 {
		return fmt.Errorf("bind result %d", m[4])
	}
	return nil
}

// BenchmarkBindHotPath is one simple bind, per backend: the LDAP request
// read and decoded by ldapfront, routed by the core, verified by the
// backend client over HTTP/1.1 keep-alive against the simulator, and the
// response written back. allocs/op and B/op count the whole process:
// the simulator's HTTP server and handler as well as the bridge; the
// bridge-allocs/op metric is the bridge's share (see allocShares).
func BenchmarkBindHotPath(b *testing.B) {
	r := newRig(b)
	for _, backend := range []string{"pingdirectory", "pingone"} {
		b.Run(backend, func(b *testing.B) {
			reqs := r.binds[backend]
			// First binds: PingOne's token and user ids, connections.
			for _, q := range reqs {
				if err := r.bind(q); err != nil {
					b.Fatal(err)
				}
			}
			shares := startShares()
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if err := r.bind(reqs[i%nUsers]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			b.StopTimer()
			if shares != nil {
				s := shares.stop()
				for _, k := range []string{"bridge", "simulator", "client"} {
					b.ReportMetric(float64(s.objects[k])/float64(i), k+"-allocs/op")
				}
				b.ReportMetric(float64(s.bytes["bridge"])/float64(i), "bridge-B/op")
				b.Logf("top bridge allocation sites per bind (%d binds):\n%s", i, s.top("bridge", i, 15))
				b.Logf("client allocation sites per bind:\n%s", s.top("client", i, 5))
			}
		})
	}
}

// Allocation shares. With -test.memprofilerate=1 (every allocation
// recorded) the benchmark splits its allocations by the goroutine's
// role, from the allocating stack: the simulator's HTTP server and
// handler, this package's client, or else the bridge (ldapfront, the
// core, the backend clients, net/http's client transport).
type shareRun struct {
	base []runtime.MemProfileRecord // the profile before the loop
}

type shareResult struct {
	objects map[string]int64
	bytes   map[string]int64
	sites   map[string]int64 // bridge: allocating frame → objects
}

func startShares() *shareRun {
	if runtime.MemProfileRate != 1 {
		return nil
	}
	return &shareRun{base: snapshot()}
}

// snapshot is the heap profile after a GC (the runtime publishes a
// cycle's allocations at the next one).
func snapshot() []runtime.MemProfileRecord {
	runtime.GC()
	runtime.GC()
	var recs []runtime.MemProfileRecord
	n, _ := runtime.MemProfile(nil, true)
	for {
		recs = make([]runtime.MemProfileRecord, n+64)
		var ok bool
		n, ok = runtime.MemProfile(recs, true)
		if ok {
			return recs[:n]
		}
	}
}

func key(r *runtime.MemProfileRecord) string {
	var sb strings.Builder
	for _, pc := range r.Stack() {
		fmt.Fprintf(&sb, "%x,", pc)
	}
	return sb.String()
}

func (s *shareRun) stop() shareResult {
	// The profile first: what follows allocates.
	after := snapshot()
	type counts struct{ objs, bytes int64 }
	base := map[string]counts{}
	for i := range s.base {
		c := base[key(&s.base[i])]
		base[key(&s.base[i])] = counts{c.objs + s.base[i].AllocObjects, c.bytes + s.base[i].AllocBytes}
	}
	res := shareResult{objects: map[string]int64{}, bytes: map[string]int64{}, sites: map[string]int64{}}
	for _, r := range after {
		b := base[key(&r)]
		n := r.AllocObjects - b.objs
		if n <= 0 {
			continue
		}
		role, site := classify(r.Stack())
		res.objects[role] += n
		res.bytes[role] += r.AllocBytes - b.bytes
		res.sites[role+"\x00"+site] += n
	}
	return res
}

// serverMarks are frames only the simulators' side runs.
var serverMarks = []string{
	"net/http.(*conn).", "net/http.(*response).", "net/http.(*chunkWriter).", "net/http.(*connReader).",
	"net/http.serverHandler.", "net/http.(*Server).", "net/http.readRequest", "net/http/httptest.",
	"/restback/sim/",
}

// classify names the role of an allocating stack and the allocation's
// site: the innermost frame of this module, or else the innermost frame
// outside the runtime.
func classify(stack []uintptr) (role, site string) {
	frames := runtime.CallersFrames(stack)
	role = "bridge"
	var first, mod string
	for {
		f, more := frames.Next()
		fn := f.Function
		for _, m := range serverMarks {
			if strings.Contains(fn, m) {
				role = "simulator"
			}
		}
		if strings.HasPrefix(fn, "github.com/ldapbridge/ldapbridge/bench/hotpath.") {
			role = "client"
		}
		if first == "" && !strings.HasPrefix(fn, "runtime.") && fn != "" {
			first = fmt.Sprintf("%s (%s:%d)", shortFn(fn), shortFile(f.File), f.Line)
		}
		if mod == "" && strings.HasPrefix(fn, "github.com/ldapbridge/ldapbridge/") {
			mod = fmt.Sprintf("%s (%s:%d)", shortFn(fn), shortFile(f.File), f.Line)
		}
		if !more {
			break
		}
	}
	// Grouped by the innermost frame of this module (the line a change
	// would touch); net/http's transport goroutines have none.
	site = first
	if mod != "" {
		site = mod
	}
	return role, site
}

func shortFn(fn string) string { return strings.TrimPrefix(fn, "github.com/ldapbridge/ldapbridge/") }

func shortFile(f string) string {
	if i := strings.LastIndex(f, "/ldapbridge/"); i >= 0 {
		return f[i+len("/ldapbridge/"):]
	}
	if i := strings.Index(f, "/src/"); i >= 0 {
		return f[i+len("/src/"):]
	}
	return f
}

func (s shareResult) top(role string, ops, n int) string {
	type site struct {
		name string
		objs int64
	}
	var sites []site
	for k, v := range s.sites {
		if r, name, _ := strings.Cut(k, "\x00"); r == role {
			sites = append(sites, site{name, v})
		}
	}
	sort.Slice(sites, func(i, j int) bool { return sites[i].objs > sites[j].objs })
	var sb strings.Builder
	for i, st := range sites {
		if i == n {
			break
		}
		fmt.Fprintf(&sb, "%6.2f  %s\n", float64(st.objs)/float64(ops), st.name)
	}
	return sb.String()
}
