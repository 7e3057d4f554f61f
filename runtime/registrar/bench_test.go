package registrar_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/auth"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/registrar"
	"switchboard/runtime/store/storetest"
)

// numbered gives every benchmark account the password "pw-<account>".
type numbered struct{}

func (numbered) SIPPassword(account string) (string, bool) {
	return "pw-" + account, strings.HasPrefix(account, "app.u")
}

func benchProgram(n int) *ir.Program {
	p := &ir.Program{Version: ir.Version, Site: ir.Site{Name: "bench", Domain: domain}}
	p.Accounts = make([]ir.Account, n)
	for i := range p.Accounts {
		name := fmt.Sprintf("app.u%07d", i)
		p.Accounts[i] = ir.Account{Name: name, Kind: ir.AccountApp, Username: name, AuthName: name, Owner: ir.UserRef(name[4:])}
	}
	return p
}

// benchRequest is a REGISTER as the desk phone numbered i sends it with
// CSeq cseq, parsed by sipgo.
func benchRequest(b *testing.B, account string, i int, cseq uint32) *sip.Request {
	text := fmt.Sprintf("REGISTER sip:%[1]s SIP/2.0\r\n"+
		"Via: SIP/2.0/UDP 192.168.%[3]d.%[4]d:5060;branch=z9hG4bK%08[5]x;rport\r\n"+
		"Max-Forwards: 70\r\n"+
		"From: \"Desk phone\" <sip:%[2]s@%[1]s>;tag=%08[5]x\r\n"+
		"To: <sip:%[2]s@%[1]s>\r\n"+
		"Call-ID: %08[5]x-7c1e-4f0a-9a55-0b6c0d1e2f30\r\n"+
		"CSeq: %[6]d REGISTER\r\n"+
		"Contact: <sip:%[2]s@192.168.%[3]d.%[4]d:5060;transport=udp>;+sip.instance=\"<urn:uuid:%08[5]x-0000-1000-8000-00155d000001>\"\r\n"+
		"Expires: 300\r\n"+
		"Allow: INVITE, ACK, CANCEL, BYE, NOTIFY, REFER, OPTIONS, INFO\r\n"+
		"User-Agent: Yealink SIP-T54W 96.86.0.70\r\n"+
		"Content-Length: 0\r\n\r\n", domain, account, i/250%250, i%250+1, uint32(i), cseq)
	msg, err := sip.ParseMessage([]byte(text))
	if err != nil {
		b.Fatal(err)
	}
	req := msg.(*sip.Request)
	req.SetSource(fmt.Sprintf("203.0.%d.%d:%d", i/250%250, i%250, 1024+i%60000))
	return req
}

// BenchmarkRegister measures a digest registration at the handler: the
// REGISTER answered 401, then the REGISTER with credentials answered 200
// (parsing the requests is not timed).
// "memory" registers b.N accounts once each and reports the live heap per
// binding.
//
// Each reports cpu-ns/op too: the process's CPU time (every goroutine's:
// with "-kept", the writer's and the embedded JetStream server's) per
// registration, less the benchmark's own thread's for parsing the
// requests and computing the client's digest. (ns/op and the allocations
// include the client's digest: stopping the timer around it would cost
// more CPU than the REGISTER.) The "-kept" variants keep the bindings in the store
// (registrar.Persistent on JetStream, as serve does). Without "-refresh"
// every REGISTER is a new binding (the worst case); with it, every
// account is registered before the timing starts and each REGISTER
// refreshes its binding, unchanged but for its expiry, the clock moving
// half the expiry on between two refreshes of an account: what devices
// do all day.
func BenchmarkRegister(b *testing.B) {
	for _, alg := range []auth.Algorithm{auth.SHA256, auth.MD5} {
		for _, refresh := range []bool{false, true} {
			for _, kept := range []bool{false, true} {
				name := "digest-" + string(alg)
				if kept {
					name += "-kept"
				}
				if refresh {
					name += "-refresh"
				}
				b.Run(name, func(b *testing.B) { benchRegister(b, alg, kept, refresh) })
			}
		}
	}
	b.Run("memory", func(b *testing.B) {

		p := benchProgram(b.N)
		clk := clocktest.New(epoch)
		a := auth.New(domain, numbered{}, clk)
		r := registrar.New(p, a, clk)
		defer r.Close()
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		b.ResetTimer()
		for i := range b.N {
			req := benchRequest(b, p.Accounts[i].Name, i, 1)
			res := r.Handle(req)
			authorise(b, req, res, p.Accounts[i].Name, "pw-"+p.Accounts[i].Name)
			if res := r.Handle(req); res.StatusCode != 200 {
				b.Fatalf("REGISTER: %d", res.StatusCode)
			}
		}
		b.StopTimer()
		runtime.GC()
		runtime.ReadMemStats(&after)
		if n := len(r.Lookup(p.Accounts[b.N-1].Name)); n != 1 {
			b.Fatalf("last account has %d bindings", n)
		}
		b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "heap-B/binding")
		runtime.KeepAlive(r)
		runtime.KeepAlive(p)
	})
}

var benchRuns int

// benchExpires is the Expires of benchRequest.
const benchExpires = 300 * time.Second

func benchRegister(b *testing.B, alg auth.Algorithm, kept, refresh bool) {
	accounts := 10000
	if refresh {
		// Few enough that b.N spans many rounds: with the store, one
		// round in three writes.
		accounts = 1000
	}
	p := benchProgram(accounts)
	clk := clocktest.New(epoch)
	a := auth.New(domain, numbered{}, clk, auth.WithAlgorithms(alg))
	var opts []registrar.Option
	var ps *registrar.Persistent
	if kept {
		benchRuns++ // each run a bucket of its own: a run before registered the same Call-IDs
		kv, err := storetest.Shared(b).KV(context.Background(), "registrations", fmt.Sprint(storetest.Site(b), benchRuns))
		if err != nil {
			b.Fatal(err)
		}
		ps, err = registrar.NewPersistent(kv, clk.Now, nil)
		if err != nil {
			b.Fatal(err)
		}
		opts = append(opts, registrar.WithStore(ps))
	}
	r := registrar.New(p, a, clk, opts...)
	defer r.Close()
	// register sends the REGISTER of phone i (of account i%accounts) in
	// its round: the first REGISTER of round n has CSeq 2n+1, the one with
	// credentials 2n+2.
	register := func(i, round int) {
		name := p.Accounts[i%accounts].Name
		req := benchRequest(b, name, i, uint32(2*round+1))
		res := r.Handle(req)
		authorise(b, req, res, name, "pw-"+name)
		if res := r.Handle(req); res.StatusCode != 200 {
			b.Fatalf("REGISTER of %s: %d %s", name, res.StatusCode, res.Reason)
		}
	}
	if refresh {
		for i := range accounts {
			register(i, 0)
		}
		if ps != nil {
			ps.Sync() // the first writes: not counted
		}
	}
	// phone is the phone and CSeq of the i'th timed REGISTER.
	phone := func(i int) (int, uint32) {
		if refresh {
			return i % accounts, uint32(2*(i/accounts+1) + 1)
		}
		return i, 1
	}
	// The requests are parsed a chunk at a time, the timer stopped: each
	// StopTimer and StartTimer reads the memory statistics, stopping the
	// world, which costs more CPU than a REGISTER (30 µs for a pair of
	// pairs on the 2-core test machine).
	const chunk = 1024
	reqs := make([]*sip.Request, 0, chunk)
	b.ReportAllocs()
	cpu0 := cpuTime()
	// untimed is the CPU spent on preparing requests, not counted: the
	// CPU time of this goroutine's thread (locked to it), so that the
	// writer's and the JetStream server's CPU meanwhile is counted.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var untimed time.Duration
	i := 0
	for b.Loop() {
		if i%chunk == 0 {
			u0 := threadTime()
			b.StopTimer()
			reqs = reqs[:0]
			for j := i; j < i+chunk; j++ {
				ph, cseq := phone(j)
				reqs = append(reqs, benchRequest(b, p.Accounts[ph%accounts].Name, ph, cseq))
			}
			b.StartTimer()
			untimed += threadTime() - u0
		}
		ph, _ := phone(i)
		if refresh && ph == 0 {
			clk.Advance(benchExpires / 2) // every phone refreshes at half its expiry
		}
		name := p.Accounts[ph%accounts].Name
		req := reqs[i%chunk]
		i++
		res := r.Handle(req)
		if res.StatusCode != 401 {
			b.Fatalf("first REGISTER: %d", res.StatusCode)
		}
		// The client's digest: counted in ns/op and the allocations, not
		// in cpu-ns/op (a timer toggle would cost more than it).
		u0 := threadTime()
		authorise(b, req, res, name, "pw-"+name)
		untimed += threadTime() - u0
		if res := r.Handle(req); res.StatusCode != 200 {
			b.Fatalf("second REGISTER %d of %s: %d %s\n%s", i, name, res.StatusCode, res.Reason, req)
		}
	}
	b.StopTimer()
	r.Close() // the writer stores what is pending: counted
	b.ReportMetric(float64(cpuTime()-cpu0-untimed)/float64(b.N), "cpu-ns/op")
}

// threadTime is the calling thread's CPU time so far, user and system.
func threadTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(rusageThread, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// rusageThread is Linux's RUSAGE_THREAD (elsewhere Getrusage fails, and
// the preparation is counted).
const rusageThread = 1

// cpuTime is the process's CPU time so far, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
