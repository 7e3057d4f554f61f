package sipdns_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/sipdns"
	"switchboard/runtime/sipdns/sipdnstest"
)

func addr(s string) netip.Addr         { return netip.MustParseAddr(s) }
func ap(s string) netip.AddrPort       { return netip.MustParseAddrPort(s) }
func start() *clocktest.Fake           { return clocktest.New(time.Unix(1_800_000_000, 0)) }
func target(host string) sipdns.Target { return sipdns.Target{Host: host, Transport: "UDP"} }

func newResolver(dns *sipdnstest.Server, clk *clocktest.Fake, seed uint64) *sipdns.Resolver {
	return sipdns.New(sipdns.Config{DNS: dns.Resolver(), Clock: clk, Rand: rand.New(rand.NewPCG(seed, 7))})
}

func locate(t *testing.T, r *sipdns.Resolver, tg sipdns.Target) []netip.AddrPort {
	t.Helper()
	got, err := r.Locate(context.Background(), tg)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// TestSRVOrder: the lower priority first; within one priority each target
// comes first in proportion to its weight (RFC 2782, a number drawn in
// [0, sum]: 61/101, 30/101 and 10/101 of the time); the draw comes from the
// injected source alone, so one seed gives one sequence. The answer is
// asked for once and served from the cache after.
func TestSRVOrder(t *testing.T) {
	dns := sipdnstest.Start(t)
	dns.SRV("_sip._udp.carrier.test", 300,
		net.SRV{Target: "a.carrier.test", Port: 5070, Priority: 10, Weight: 60},
		net.SRV{Target: "b.carrier.test", Port: 5071, Priority: 10, Weight: 30},
		net.SRV{Target: "c.carrier.test", Port: 5072, Priority: 10, Weight: 10},
		net.SRV{Target: "backup.carrier.test", Port: 5073, Priority: 20, Weight: 0})
	dns.Addrs("a.carrier.test", 300, addr("192.0.2.1"))
	dns.Addrs("b.carrier.test", 300, addr("192.0.2.2"))
	dns.Addrs("c.carrier.test", 300, addr("192.0.2.3"), addr("2001:db8::3"))
	dns.Addrs("backup.carrier.test", 300, addr("192.0.2.9"))
	r := newResolver(dns, start(), 1)
	again := newResolver(dns, start(), 1)
	first := map[netip.AddrPort]int{}
	const n = 2000
	for range n {
		got := locate(t, r, target("carrier.test"))
		if len(got) != 5 {
			t.Fatalf("got %v, want the 5 addresses of the 4 targets", got)
		}
		if got[4] != ap("192.0.2.9:5073") {
			t.Fatalf("got %v: the priority-20 target is not last", got)
		}
		if other := locate(t, again, target("carrier.test")); !slices.Equal(got, other) {
			t.Fatalf("the same seed gave another order: %v and %v", got, other)
		}
		first[got[0]]++
	}
	for a, want := range map[netip.AddrPort]float64{ap("192.0.2.1:5070"): 61.0 / 101, ap("192.0.2.2:5071"): 30.0 / 101, ap("192.0.2.3:5072"): 10.0 / 101} {
		if got := float64(first[a]) / n; got < want-0.04 || got > want+0.04 {
			t.Errorf("%s first in %.3f of the lookups, want %.3f", a, got, want)
		}
	}
	if got := dns.Asked("_sip._udp.carrier.test", "SRV"); got != 2 {
		t.Errorf("the SRV name was asked %d times by two resolvers, want 2 (the rest cached)", got)
	}
}

// TestSRVWeightZeroFirst: among records of one priority those of weight
// 0 are placed first, and are taken first only when the draw is 0 (RFC
// 2782): 1/11 of the time against a weight of 10.
func TestSRVWeightZeroFirst(t *testing.T) {
	dns := sipdnstest.Start(t)
	dns.SRV("_sip._udp.carrier.test", 300,
		net.SRV{Target: "zero.carrier.test", Port: 5060, Priority: 1, Weight: 0},
		net.SRV{Target: "ten.carrier.test", Port: 5060, Priority: 1, Weight: 10})
	dns.Addrs("zero.carrier.test", 300, addr("192.0.2.10"))
	dns.Addrs("ten.carrier.test", 300, addr("192.0.2.11"))
	r := newResolver(dns, start(), 2)
	zero := 0
	const n = 2000
	for range n {
		if locate(t, r, target("carrier.test"))[0].Addr() == addr("192.0.2.10") {
			zero++
		}
	}
	if got := float64(zero) / n; got < 1.0/11-0.03 || got > 1.0/11+0.03 {
		t.Errorf("the weight-0 record first in %.3f of the lookups, want %.3f", got, 1.0/11)
	}
}

// TestNoSRVFallsBackToAddresses: a name without SRV records is reached at
// its own addresses, at the transport's default port (5061 over TLS).
func TestNoSRVFallsBackToAddresses(t *testing.T) {
	dns := sipdnstest.Start(t)
	dns.Addrs("carrier.test", 300, addr("192.0.2.20"))
	r := newResolver(dns, start(), 1)
	if want, got := []netip.AddrPort{ap("192.0.2.20:5060")}, locate(t, r, target("carrier.test")); !slices.Equal(want, got) {
		t.Errorf("UDP: got %v, want %v", got, want)
	}
	tls := sipdns.Target{Host: "carrier.test", Transport: "TLS"}
	if want, got := []netip.AddrPort{ap("192.0.2.20:5061")}, locate(t, r, tls); !slices.Equal(want, got) {
		t.Errorf("TLS: got %v, want %v", got, want)
	}
	if dns.Asked("_sip._udp.carrier.test", "SRV") != 1 || dns.Asked("_sips._tcp.carrier.test", "SRV") != 1 {
		t.Errorf("want one SRV question per transport's service")
	}
	_, err := r.Locate(context.Background(), target("nowhere.test"))
	if err == nil || !strings.Contains(err.Error(), "nowhere.test") {
		t.Errorf("a name with neither SRV nor address records: err = %v, want one naming it", err)
	}
}

// TestPortOrIPSkipsSRV: a port written in the site, or a numeric IP,
// means no SRV question (RFC 3263 §4.2).
func TestPortOrIPSkipsSRV(t *testing.T) {
	dns := sipdnstest.Start(t)
	dns.SRV("_sip._udp.carrier.test", 300, net.SRV{Target: "a.carrier.test", Port: 5070, Priority: 1, Weight: 1})
	dns.Addrs("a.carrier.test", 300, addr("192.0.2.1"))
	dns.Addrs("carrier.test", 300, addr("192.0.2.30"))
	r := newResolver(dns, start(), 1)
	got := locate(t, r, sipdns.Target{Host: "carrier.test", Port: 5080, Transport: "UDP"})
	if want, got := []netip.AddrPort{ap("192.0.2.30:5080")}, got; !slices.Equal(want, got) {
		t.Errorf("explicit port: got %v, want %v", got, want)
	}
	got = locate(t, r, target("198.51.100.7"))
	if want, got := []netip.AddrPort{ap("198.51.100.7:5060")}, got; !slices.Equal(want, got) {
		t.Errorf("numeric IP: got %v, want %v", got, want)
	}
	got = locate(t, r, sipdns.Target{Host: "[2001:db8::7]", Port: 5090, Transport: "TCP"})
	if want, got := []netip.AddrPort{ap("[2001:db8::7]:5090")}, got; !slices.Equal(want, got) {
		t.Errorf("numeric IPv6: got %v, want %v", got, want)
	}
	if n := dns.Asked("_sip._udp.carrier.test", "SRV"); n != 0 {
		t.Errorf("SRV asked %d times, want never", n)
	}
}

// TestTTL: each answer is kept for its own TTL on the runtime clock, then
// asked again (and a changed record is seen); a name without SRV records
// is remembered for the SOA's negative TTL (RFC 2308).
func TestTTL(t *testing.T) {
	for _, overTCP := range []bool{false, true} {
		name := "udp"
		if overTCP {
			name = "tcp after a truncated answer"
		}
		t.Run(name, func(t *testing.T) {
			dns := sipdnstest.Start(t)
			dns.Truncate(overTCP)
			per := 1 // questions per lookup: the UDP one, then the TCP one after it was truncated
			if overTCP {
				per = 2
			}
			dns.SRV("_sip._udp.carrier.test", 120, net.SRV{Target: "a.carrier.test", Port: 5070, Priority: 1, Weight: 1})
			dns.Addrs("a.carrier.test", 30, addr("192.0.2.1"))
			dns.Addrs("plain.test", 300, addr("192.0.2.40"))
			dns.NegativeTTL(10)
			clk := start()
			r := newResolver(dns, clk, 1)
			asked := func(srv, a, plainSRV int) {
				t.Helper()
				got := [3]int{dns.Asked("_sip._udp.carrier.test", "SRV"), dns.Asked("a.carrier.test", "A"), dns.Asked("_sip._udp.plain.test", "SRV")}
				if want := [3]int{srv * per, a * per, plainSRV * per}; got != want {
					t.Fatalf("asked (SRV, A, SRV of plain.test) %v times, want %v", got, want)
				}
			}
			locate(t, r, target("carrier.test"))
			locate(t, r, target("plain.test"))
			asked(1, 1, 1)
			clk.Advance(9 * time.Second)
			locate(t, r, target("carrier.test"))
			locate(t, r, target("plain.test"))
			asked(1, 1, 1)
			clk.Advance(2 * time.Second) // 11 s: the negative answer is gone
			locate(t, r, target("plain.test"))
			asked(1, 1, 2)
			dns.Addrs("a.carrier.test", 30, addr("192.0.2.2"))
			clk.Advance(20 * time.Second) // 31 s: the A record is gone
			if got := locate(t, r, target("carrier.test")); got[0] != ap("192.0.2.2:5070") {
				t.Errorf("after the A record's TTL: %v, want the new address", got)
			}
			asked(1, 2, 2)
			clk.Advance(90 * time.Second) // 121 s: the SRV record too
			locate(t, r, target("carrier.test"))
			asked(2, 3, 2)
		})
	}
}

// TestLookupTimeout: a name server that never answers gives, within the
// lookup's timeout, an error saying so; once an answer is known, a server
// that stops answering leaves it in use (RFC 8767).
func TestLookupTimeout(t *testing.T) {
	dns := sipdnstest.Start(t)
	dns.Silent(true)
	clk := start()
	r := sipdns.New(sipdns.Config{DNS: dns.Resolver(), Clock: clk, Timeout: 300 * time.Millisecond})
	done := make(chan error, 1)
	go func() {
		_, err := r.Locate(context.Background(), target("carrier.test"))
		done <- err
	}()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "_sip._udp.carrier.test: no answer within 300ms") {
			t.Errorf("err = %v, want the SRV lookup's timeout named", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Locate did not return a minute after its 300 ms lookup timeout")
	}

	dns.Silent(false)
	dns.Addrs("carrier.test", 60, addr("192.0.2.50"))
	want := locate(t, r, target("carrier.test"))
	dns.Silent(true)
	clk.Advance(2 * time.Hour)
	got, err := r.Locate(context.Background(), target("carrier.test"))
	if err != nil || !slices.Equal(got, want) {
		t.Errorf("with the name server silent after the TTL: %v, %v; want the last answer %v", got, err, want)
	}
}

// TestCacheBounded: the cache holds at most MaxEntries answers.
func TestCacheBounded(t *testing.T) {
	dns := sipdnstest.Start(t)
	r := sipdns.New(sipdns.Config{DNS: dns.Resolver(), Clock: start(), MaxEntries: 3})
	for _, h := range []string{"a.test", "b.test", "c.test", "d.test"} {
		dns.Addrs(h, 300, addr("192.0.2.60"))
		locate(t, r, sipdns.Target{Host: h, Port: 5060})
	}
	if r.Len() != 3 {
		t.Errorf("the cache holds %d answers, want at most 3", r.Len())
	}
}

// TestContextEnds: a caller's context ending is its error, not a
// timeout's.
func TestContextEnds(t *testing.T) {
	dns := sipdnstest.Start(t)
	dns.Silent(true)
	r := sipdns.New(sipdns.Config{DNS: dns.Resolver(), Clock: start(), Timeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	asked := dns.Question()
	done := make(chan error, 1)
	go func() {
		_, err := r.Locate(ctx, target("carrier.test"))
		done <- err
	}()
	<-asked
	cancel()
	if err := <-done; err == nil || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "canceled") {
		t.Errorf("err = %v, want the cancellation", err)
	}
}

// BenchmarkLocateCached is what a call out pays to find its carrier once
// the answers are cached: four SRV records ordered, their addresses
// gathered.
func BenchmarkLocateCached(b *testing.B) {
	dns := sipdnstest.Start(b)
	var recs []net.SRV
	for i, n := range []string{"a", "b", "c", "d"} {
		recs = append(recs, net.SRV{Target: n + ".carrier.test", Port: 5060, Priority: uint16(i / 2), Weight: 10})
		dns.Addrs(n+".carrier.test", 300, netip.AddrFrom4([4]byte{192, 0, 2, byte(i + 1)}))
	}
	dns.SRV("_sip._udp.carrier.test", 300, recs...)
	r := sipdns.New(sipdns.Config{DNS: dns.Resolver(), Clock: start(), Rand: rand.New(rand.NewPCG(1, 2))})
	if _, err := r.Locate(context.Background(), target("carrier.test")); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Locate(context.Background(), target("carrier.test")); err != nil {
			b.Fatal(err)
		}
	}
}

// TestConcurrentLookupsMerged: a burst of Locates of a name nobody has
// looked up yet (a carrier whose answer just expired) asks the name
// server once per record type, not once per caller; a caller whose
// context ends gets its error while the lookup it started goes on for
// the others.
func TestConcurrentLookupsMerged(t *testing.T) {
	const n = 8
	dns := sipdnstest.Start(t)
	dns.SRV("_sip._udp.carrier.test", 300, net.SRV{Target: "a.carrier.test", Port: 5070, Priority: 1, Weight: 10})
	dns.Addrs("a.carrier.test", 300, addr("192.0.2.70"))
	r := sipdns.New(sipdns.Config{DNS: dns.Resolver(), Clock: start(), Timeout: time.Hour})
	waiting := make(chan struct{}, 4*n)
	r.OnWaiting(func() { waiting <- struct{}{} })
	release := dns.Hold()
	defer release()

	// The first caller asks; its context ends while the answer is held.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, err := r.Locate(ctx, target("carrier.test"))
		first <- err
	}()
	<-waiting
	type result struct {
		got []netip.AddrPort
		err error
	}
	others := make(chan result, n)
	for range n {
		go func() {
			got, err := r.Locate(context.Background(), target("carrier.test"))
			others <- result{got, err}
		}()
	}
	for range n {
		<-waiting
	}
	cancel()
	if err := <-first; !errors.Is(err, context.Canceled) {
		t.Errorf("the caller whose context ended: %v, want its cancellation", err)
	}
	release()
	want := []netip.AddrPort{ap("192.0.2.70:5070")}
	for range n {
		if res := <-others; res.err != nil || !slices.Equal(res.got, want) {
			t.Errorf("a caller waiting with the one whose context ended: %v, %v; want %v", res.got, res.err, want)
		}
	}
	for _, q := range []struct{ name, qtype string }{
		{"_sip._udp.carrier.test", "SRV"}, {"a.carrier.test", "A"}, {"a.carrier.test", "AAAA"},
	} {
		if got := dns.Asked(q.name, q.qtype); got != 1 {
			t.Errorf("%s %s asked %d times by %d concurrent callers, want once", q.name, q.qtype, got, n+1)
		}
	}
}
