package interop

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/events"
	"switchboard/runtime/registrar"
	"switchboard/runtime/site"
)

// startNode serves the tests' site as one node of a cluster on ip (a
// loopback address), its registrations in store, which the other nodes
// share.
func startNode(t *testing.T, ip string, store registrar.Store) *server {
	t.Helper()
	p := compileSite(t)
	key, err := credentials.KeyFromBytes(siteKey)
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, prog: p, secrets: credentials.NewLookup(key, p),
		clock: clocktest.New(time.Unix(1_800_000_000, 0)), cond: make(chan struct{}, 1)}
	bus := events.NewBus(s.clock.Now)
	sub := bus.Subscribe(1 << 14)
	go func() {
		for e := range sub.C {
			s.mu.Lock()
			s.seen = append(s.seen, e)
			s.mu.Unlock()
			select {
			case s.cond <- struct{}{}:
			default:
			}
		}
	}()
	conn, err := net.ListenPacket("udp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	s.addr = conn.LocalAddr().String()
	s.port = conn.LocalAddr().(*net.UDPAddr).Port
	o := site.Options{Events: bus, Clock: s.clock, MediaIP: netip.MustParseAddr(ip), Services: &b2bua.Services{},
		NodeOptions: site.NodeOptions{Node: "sip:" + s.addr, Registrations: store}}
	st, err := site.New(site.Config{Program: p, Secrets: s.secrets}, o)
	if err != nil {
		conn.Close()
		t.Fatal(err)
	}
	s.site = st
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() { defer close(served); st.ServeUDP(ctx, conn) }()
	var once sync.Once
	s.stop = func() { once.Do(func() { st.Close() }) }
	t.Cleanup(func() {
		s.stop()
		cancel()
		<-served
		sub.Close()
		if t.Failed() {
			t.Logf("node %s events:\n%s", s.addr, s.eventLog())
		}
	})
	return s
}

// baresip, registered with node B of two, answers a door station's call
// placed on node A: the call rings through B (B's own leg to baresip,
// answered there), media and the door code cross both nodes' relays, and
// the door station's hang-up ends baresip's call.
func TestNodeRouteBaresipThroughHoldingNode(t *testing.T) {
	baresipPath(t)
	store := registrar.NewMemory()
	a := startNode(t, "127.0.0.1", store)
	b := startNode(t, "127.0.0.2", store)
	bob := b.baresip(t, "app.bob", "auto")
	gate := a.device("device.gate")

	ctx, cancel := context.WithTimeout(context.Background(), eventTimeout)
	defer cancel()
	call, err := gate.Dial(ctx, "1A")
	if err != nil {
		t.Fatal(err)
	}
	bob.waitEvent(t, "CALL_ESTABLISHED")
	b.waitEvent("B's leg to bob answered", func(e events.Event) bool {
		return e.Kind == events.LegAnswered && e.Leg == "app.bob" && strings.HasPrefix(e.From, "node:127.0.0.1:")
	})
	a.waitEvent("A's leg to bob answered", legEvent(events.LegAnswered, "app.bob"))
	if err := call.WaitAudio(ctx, 10*160); err != nil {
		t.Errorf("the door station heard nothing of baresip: %v", err)
	}
	bob.command(t, "sndcode", "#")
	opened := a.waitEvent("door_opened", kind(events.DoorOpened))
	if opened.Account != "app.bob" || opened.Device != "gate" || opened.Relay != "door" {
		t.Errorf("door_opened = %+v", opened)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	bob.waitEvent(t, "CALL_CLOSED")
	a.waitEvent("A's call_ended", kind(events.CallEnded))
	b.waitEvent("B's call_ended", kind(events.CallEnded))
}
