package b2bua

import (
	"context"
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/sipdns"
	"switchboard/runtime/sipdns/sipdnstest"
)

// inFlight is a Locator counting the lookups in flight at once: when two
// are, both is closed; closing release ends every lookup (their contexts
// are cancelled), as a timeout would.
type inFlight struct {
	inner   sipdns.Locator
	release chan struct{}
	both    chan struct{}

	mu sync.Mutex
	n  int
}

func (l *inFlight) Locate(ctx context.Context, t sipdns.Target) ([]netip.AddrPort, error) {
	l.mu.Lock()
	l.n++
	if l.n == 2 {
		close(l.both)
	}
	l.mu.Unlock()
	defer func() {
		l.mu.Lock()
		l.n--
		l.mu.Unlock()
	}()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-l.release:
			cancel()
		case <-ctx.Done():
		}
	}()
	return l.inner.Locate(ctx, t)
}

// TestPrepareLocatesTrunksAtOnce: a reload with the name servers silent
// looks every trunk's carrier up at the same time, so that it waits one
// lookup timeout, not one per trunk: both trunks' lookups are in flight
// together (one after the other, Prepare waited locateTimeout for each,
// 20 s here, and never had two).
func TestPrepareLocatesTrunksAtOnce(t *testing.T) {
	dns := sipdnstest.Start(t)
	dns.Silent(true)
	loc := &inFlight{
		inner:   sipdns.New(sipdns.Config{DNS: dns.Resolver(), Timeout: time.Hour}),
		release: make(chan struct{}),
		both:    make(chan struct{}),
	}
	p := irtest.Generate(irtest.Options{Residences: 1, UsersPerResidence: 1, Seed: 1})
	p.Trunks = []ir.Trunk{{Name: "trunk.a", Host: "a.carrier.test"}, {Name: "trunk.b", Host: "b.carrier.test"}}
	done := make(chan *Prepared, 1)
	go func() { done <- Prepare(State{Program: p, Locator: loc}) }()
	select {
	case <-loc.both:
	case <-done:
		t.Fatal("Prepare returned without ever having both trunks' lookups in flight: they ran one after the other")
	}
	// Both questions reach the name server while both lookups wait.
	for {
		asked := dns.Question()
		if dns.Asked("_sip._udp.a.carrier.test", "SRV") > 0 && dns.Asked("_sip._udp.b.carrier.test", "SRV") > 0 {
			break
		}
		select {
		case <-asked:
		case <-done:
			t.Fatal("Prepare returned before both trunks' SRV questions reached the name server")
		}
	}
	close(loc.release)
	if pr := <-done; len(pr.st.trunks) != 0 {
		t.Errorf("carriers recognised with DNS silent: %v", pr.st.trunks)
	}
}

// TestPrepareRecognisesEveryTrunk: looked up at once, every trunk's
// servers are recognised as its own, a server two trunks share as both
// (in program order).
func TestPrepareRecognisesEveryTrunk(t *testing.T) {
	dns := sipdnstest.Start(t)
	p := irtest.Generate(irtest.Options{Residences: 1, UsersPerResidence: 1, Seed: 1})
	want := map[netip.Addr][]string{}
	for i := range 40 {
		host := "c" + string(rune('a'+i%26)) + string(rune('a'+i/26)) + ".carrier.test"
		a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 30)})
		dns.Addrs(host, 300, a)
		name := "trunk." + host
		p.Trunks = append(p.Trunks, ir.Trunk{Name: name, Host: host, Port: 5060})
		want[a] = append(want[a], name)
	}
	pr := Prepare(State{Program: p, Locator: sipdns.New(sipdns.Config{DNS: dns.Resolver()})})
	if len(pr.st.trunks) != len(want) {
		t.Errorf("%d carrier addresses recognised, want %d", len(pr.st.trunks), len(want))
	}
	for a, names := range want {
		if got := pr.st.trunks[a]; !slices.Equal(got, names) {
			t.Errorf("%s is %v, want %v", a, got, names)
		}
	}
}
