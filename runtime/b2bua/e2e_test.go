package b2bua_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/lang"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/events"
	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

// e2eSite is a small building: a gate that calls flat 1A (a monitor and
// two residents, rung at once) and flat 2B (two residents, rung in turn),
// a keypad, and a trunk.
const e2eSite = `
site "e2e" {
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "e2e.example"
  installer {
    company = "Doors Ltd"
    email   = "i@doors.example"
  }
}
residence "apt-1a" {
  label        = "1A"
  ring_timeout = "20s"
}
residence "apt-2b" {
  label        = "2B"
  ring         = "sequential"
  ring_timeout = "40s"
  no_answer    = "hangup"
}
user "mary" {
  email     = "mary@x.example"
  residence = residence.apt-1a
  role      = "owner"
  extension = 101
  app       = true
}
user "tom" {
  email     = "tom@x.example"
  residence = residence.apt-1a
  extension = 102
  app       = true
}
user "ann" {
  email     = "ann@x.example"
  residence = residence.apt-2b
  extension = 201
  app       = true
}
user "bob" {
  email     = "bob@x.example"
  residence = residence.apt-2b
  extension = 202
  app       = true
}
device "gate" {
  model  = "akuvox-r29c"
  mac    = "0C:11:05:00:00:01"
  keypad = true
  button "1" { calls = residence.apt-1a }
  relay "door" {
    dtmf = "#"
    hold = "3s"
  }
}
device "monitor-1a" {
  model     = "akuvox-c315"
  mac       = "0C:11:05:00:00:02"
  residence = residence.apt-1a
}
`

type secrets = *credentials.Lookup

type harness struct {
	t       testing.TB
	site    *site.Site
	clock   *clocktest.Fake
	addr    string
	secrets secrets
	sub     *events.Subscription
	mu      sync.Mutex
	seen    []events.Event
	more    chan struct{} // closed and replaced when an event is seen
	devices map[string]*device.Device
}

func compile(t testing.TB, src string) *ir.Program {
	t.Helper()
	cfg, diags := lang.LoadSources(t.TempDir(), map[string][]byte{"site.pbx.hcl": []byte(src)}, lang.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	checked, diags := compiler.Check(cfg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, diags := compiler.Lower(checked, compiler.LowerOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

func start(t testing.TB) *harness {
	t.Helper()
	return startSite(t, e2eSite, nil)
}

// startSite serves src; opts, when set, adjusts the site's options.
func startSite(t testing.TB, src string, opts func(*site.Options)) *harness {
	t.Helper()
	return startSiteOn(t, src, "127.0.0.1:0", opts)
}

// startSiteOn serves src on the UDP address listen; devices reach it on
// loopback.
func startSiteOn(t testing.TB, src, listen string, opts func(*site.Options)) *harness {
	t.Helper()
	return startSiteWrapped(t, src, listen, opts, nil)
}

// startSiteWrapped is startSiteOn with the server's socket wrapped by
// wrap, when set: a test that must see (or hold) what the server writes.
func startSiteWrapped(t testing.TB, src, listen string, opts func(*site.Options), wrap func(net.PacketConn) net.PacketConn) *harness {
	t.Helper()
	p := compile(t, src)
	key, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, clock: clocktest.New(time.Unix(1_800_000_000, 0)), secrets: credentials.NewLookup(key, p), more: make(chan struct{}), devices: map[string]*device.Device{}}
	bus := events.NewBus(nil)
	h.sub = bus.Subscribe(4096)
	go func() {
		for e := range h.sub.C {
			h.mu.Lock()
			h.seen = append(h.seen, e)
			close(h.more)
			h.more = make(chan struct{})
			h.mu.Unlock()
		}
	}()
	// No services unless a test gives some: their calls are refused.
	o := site.Options{Events: bus, Clock: h.clock, MediaIP: netip.MustParseAddr("127.0.0.1"), Services: &b2bua.Services{}}
	if opts != nil {
		opts(&o)
	}
	st, err := site.New(site.Config{Program: p, Secrets: h.secrets}, o)
	if err != nil {
		t.Fatal(err)
	}
	h.site = st
	conn, err := net.ListenPacket("udp", listen)
	if err != nil {
		t.Fatal(err)
	}
	h.addr = conn.LocalAddr().String()
	if ap := netip.MustParseAddrPort(h.addr); ap.Addr().IsUnspecified() {
		h.addr = netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), ap.Port()).String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	if wrap != nil {
		conn = wrap(conn)
	}
	go st.ServeUDP(ctx, conn)
	t.Cleanup(func() {
		for _, d := range h.devices {
			d.Close()
		}
		cancel()
		st.Close()
		h.sub.Close()
	})
	return h
}

// device starts and registers the simulated device of an account.
func (h *harness) device(account string) *device.Device {
	h.t.Helper()
	pw, _ := h.secrets.SIPPassword(account)
	d, err := device.New(device.Config{Account: account, Password: pw, Domain: "e2e.example", Server: h.addr})
	if err != nil {
		h.t.Fatal(err)
	}
	h.devices[account] = d
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	status, err := d.Register(ctx, time.Hour)
	if err != nil || status != 200 {
		h.t.Fatalf("register %s: %d, %v", account, status, err)
	}
	return d
}

// waitEvent waits for an event matching f.
func (h *harness) waitEvent(what string, f func(events.Event) bool) events.Event {
	h.t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		for _, e := range h.seen {
			if f(e) {
				h.mu.Unlock()
				return e
			}
		}
		more := h.more
		h.mu.Unlock()
		select {
		case <-more:
		case <-deadline.C:
			h.t.Fatalf("no %s event; saw %v", what, h.kinds())
		}
	}
}

func (h *harness) kinds() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []string
	for _, e := range h.seen {
		out = append(out, string(e.Kind)+":"+e.Leg+e.Account+e.Cause)
	}
	return out
}

func ringing(in []device.Incoming) bool { return len(in) > 0 }

func TestRegister(t *testing.T) {
	h := start(t)
	h.device("app.mary")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	wrong, err := device.New(device.Config{Account: "app.tom", Password: "not-the-password", Domain: "e2e.example", Server: h.addr})
	if err != nil {
		t.Fatal(err)
	}
	defer wrong.Close()
	status, err := wrong.Register(ctx, time.Hour)
	if err != nil || status < 400 {
		t.Errorf("wrong password: %d, %v; want a 4xx", status, err)
	}
	unknown, err := device.New(device.Config{Account: "app.nobody", Password: "x", Domain: "e2e.example", Server: h.addr})
	if err != nil {
		t.Fatal(err)
	}
	defer unknown.Close()
	ustatus, err := unknown.Register(ctx, time.Hour)
	if err != nil || ustatus != status {
		t.Errorf("unknown user answered %d, wrong password %d: they must be indistinguishable", ustatus, status)
	}
}

func TestDoorCallForksAndOpens(t *testing.T) {
	h := start(t)
	gate := h.device("device.gate")
	monitor := h.device("device.monitor-1a")
	mary := h.device("app.mary")
	tom := h.device("app.tom")
	outsider := h.device("app.ann")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Mary answers once the monitor and tom ring too.
	othersRing := make(chan struct{})
	mary.SetPickupWhen(othersRing)
	go func() {
		defer close(othersRing)
		for _, d := range []*device.Device{monitor, tom} {
			if _, err := d.WaitIncoming(ctx, ringing); err != nil {
				return // the checks below say what went wrong
			}
		}
	}()
	call, err := gate.Dial(ctx, "1A")
	if err != nil {
		t.Fatal(err)
	}
	// The monitor and tom rang, and were cancelled because mary answered.
	for _, d := range []*device.Device{monitor, tom} {
		in, err := d.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Status == 487 })
		if err != nil {
			t.Fatalf("%s: %v (%+v)", d.Account(), err, in)
		}
		if !strings.Contains(in[0].Reason, "Call completed elsewhere") {
			t.Errorf("%s cancelled with Reason %q, want cause=200 \"Call completed elsewhere\"", d.Account(), in[0].Reason)
		}
	}
	if in := outsider.Incoming(); len(in) != 0 {
		t.Errorf("ann (another flat) rang: %+v", in)
	}
	h.waitEvent("leg_answered by mary", func(e events.Event) bool { return e.Kind == events.LegAnswered && e.Leg == "app.mary" })

	// Mary keys the relay code: the door opens, and the door station
	// receives the digits intact (real hardware fires its relay on them).
	in := mary.Incoming()
	answered := mary.Answered(in[0].CallID)
	if answered == nil {
		t.Fatal("mary has no answered call")
	}
	if err := answered.SendDTMF("#"); err != nil {
		t.Fatal(err)
	}
	opened := h.waitEvent("door_opened", func(e events.Event) bool { return e.Kind == events.DoorOpened })
	if opened.Account != "app.mary" || opened.Device != "gate" || opened.Relay != "door" {
		t.Errorf("door_opened = %+v", opened)
	}
	if opened.Origin.IsZero() {
		t.Error("door_opened carries no origin")
	}
	if err := call.WaitDigits(ctx, "#"); err != nil {
		t.Errorf("door station: %v", err)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitEvent("call_ended", func(e events.Event) bool { return e.Kind == events.CallEnded })
}

// Served on every interface (-listen 0.0.0.0:5060), the server must not
// give 0.0.0.0 as its Contact: a device sends its ACK, BYE and re-INVITEs
// there. It gives the address the device reaches it on.
func TestContactWhenListeningOnAllInterfaces(t *testing.T) {
	h := startSiteOn(t, e2eSite, "0.0.0.0:0", nil)
	gate := h.device("device.gate")
	mary := h.device("app.mary")
	h.device("device.monitor-1a")
	h.device("app.tom")
	mary.SetAnswer(device.Pickup, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	call, err := gate.Dial(ctx, "1A")
	if err != nil {
		t.Fatal(err)
	}
	in, err := mary.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Answered })
	if err != nil {
		t.Fatal(err)
	}
	answered := mary.Answered(in[0].CallID)
	port := netip.MustParseAddrPort(h.addr).Port()
	want := fmt.Sprintf("127.0.0.1:%d", port)
	for who, got := range map[string]string{"the door station (in the 200)": call.RemoteContact(), "mary (in the INVITE)": answered.RemoteContact()} {
		if !strings.Contains(got, want) {
			t.Errorf("Contact given to %s = %q, want the server at %s", who, got, want)
		}
	}
	// Our Via names a real address too (the default route's), not 0.0.0.0
	// — where this machine has a default route to name.
	if c, err := net.Dial("udp", "203.0.113.1:9"); err != nil {
		t.Logf("no default route here (%v): the Via sent-by is not checked", err)
	} else {
		c.Close()
		if sentBy, err := netip.ParseAddrPort(in[0].SentBy); err != nil || sentBy.Addr().IsUnspecified() || sentBy.Port() != port {
			t.Errorf("the INVITE to mary has Via sent-by %q, want an address of ours, port %d", in[0].SentBy, port)
		}
	}
	if err := answered.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
	h.waitEvent("call_ended", func(e events.Event) bool { return e.Kind == events.CallEnded })
}

func TestSequentialHunt(t *testing.T) {
	h := start(t)
	gate := h.device("device.gate")
	ann := h.device("app.ann")
	bob := h.device("app.bob")
	bob.SetAnswer(device.Pickup, 0)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		c   *device.Call
		err error
	}
	done := make(chan result, 1)
	go func() { c, err := gate.Dial(ctx, "2B"); done <- result{c, err} }()

	// Ann rings first, alone; bob only after her leg times out.
	if _, err := ann.WaitIncoming(ctx, ringing); err != nil {
		t.Fatal(err)
	}
	if in := bob.Incoming(); len(in) != 0 {
		t.Fatalf("bob rang before ann's turn was over: %+v", in)
	}
	h.clock.Advance(20 * time.Second) // ann's share of 40s
	r := <-done
	if r.err != nil {
		t.Fatal(r.err)
	}
	defer r.c.Hangup(ctx)
	in, _ := ann.WaitIncoming(ctx, func(in []device.Incoming) bool { return len(in) == 1 && in[0].Status == 487 })
	if !strings.Contains(in[0].Reason, "No answer") {
		t.Errorf("ann cancelled with %q, want No answer", in[0].Reason)
	}
	if in := bob.Incoming(); len(in) != 1 || !in[0].Answered {
		t.Errorf("bob: %+v", in)
	}
}

func TestNoAnswerFallback(t *testing.T) {
	h := start(t)
	gate := h.device("device.gate")
	ann := h.device("app.ann")
	bob := h.device("app.bob")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { _, err := gate.Dial(ctx, "2B"); errc <- err }()
	ann.WaitIncoming(ctx, ringing)
	h.clock.Advance(20 * time.Second)
	bob.WaitIncoming(ctx, ringing)
	h.clock.Advance(20 * time.Second)
	err := <-errc
	var se *device.StatusError
	if !errors.As(err, &se) || se.Status != 480 {
		t.Fatalf("no-answer call ended with %v, want 480", err)
	}
	fb := h.waitEvent("fallback", func(e events.Event) bool { return e.Kind == events.Fallback })
	if !strings.Contains(fb.Cause, "no answer") || !strings.Contains(fb.Cause, "hangup") {
		t.Errorf("fallback cause %q", fb.Cause)
	}
}

func TestRefusals(t *testing.T) {
	h := start(t)
	gate := h.device("device.gate")
	mary := h.device("app.mary")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, tc := range []struct {
		name   string
		from   *device.Device
		number string
		status int
	}{
		{"unknown number", mary, "555", 404},
		{"door station to the outside world", gate, "+35315550100", 404},
		{"door station to an extension", gate, "101", 404},
	} {
		_, err := tc.from.Dial(ctx, tc.number)
		var se *device.StatusError
		if !errors.As(err, &se) || se.Status != tc.status {
			t.Errorf("%s: got %v, want %d", tc.name, err, tc.status)
		}
	}

	// A caller without valid credentials cannot place calls.
	pw := "wrong"
	intruder, err := device.New(device.Config{Account: "app.mary", Password: pw, Domain: "e2e.example", Server: h.addr})
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()
	_, err = intruder.Dial(ctx, "102")
	var se *device.StatusError
	if !errors.As(err, &se) || (se.Status != 407 && se.Status != 403) {
		t.Errorf("unauthenticated INVITE: %v, want 407 or 403", err)
	}
}

// doorAnsweredAtOnce registers flat 1A's devices (a monitor and two
// apps, mary picking up as soon as she rings) and returns the gate that
// calls it: the door call the benchmark and the order test repeat.
func (h *harness) doorAnsweredAtOnce() *device.Device {
	gate := h.device("device.gate")
	h.device("device.monitor-1a")
	mary := h.device("app.mary")
	h.device("app.tom")
	answer := make(chan struct{})
	close(answer)
	mary.SetPickupWhen(answer)
	return gate
}
