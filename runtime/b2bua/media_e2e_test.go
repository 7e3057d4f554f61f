package b2bua_test

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"switchboard/runtime/media/mediatest"
	"switchboard/runtime/site"
	"switchboard/simulate/device"
)

func inRange(ap netip.AddrPort, lo, hi int) bool {
	return int(ap.Port()) >= lo && int(ap.Port()) <= hi
}

// The attack of issue 13 through the whole server: while the callee
// rings, a stranger sends a packet to every port of the media range (the
// caller-side port among them), before the caller's first. The callee's
// audio still reaches the caller, and none of it the stranger.
func TestMediaStrangerGetsNoAudio(t *testing.T) {
	lo := mediatest.FreeUDPRange(t, "127.0.0.1", 20)
	hi := lo + 19
	h := startSite(t, e2eSite, func(o *site.Options) { o.MediaPortMin, o.MediaPortMax = lo, hi })
	gate := h.device("device.gate")
	mary := h.device("app.mary")
	// Long enough for the stranger's packets; no test step waits on it.
	mary.SetAnswer(device.Pickup, time.Second)
	stranger, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer stranger.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type dialled struct {
		c   *device.Call
		err error
	}
	done := make(chan dialled, 1)
	go func() { c, err := gate.Dial(ctx, "1A"); done <- dialled{c, err} }()
	if _, err := mary.WaitIncoming(ctx, ringing); err != nil {
		t.Fatal(err)
	}
	pkt := []byte{0x80, 0x00, 0, 1, 0, 0, 0, 160, 0, 0, 0xbe, 0xef}
	for p := lo; p <= hi; p++ {
		if _, err := stranger.WriteToUDP(pkt, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p}); err != nil {
			t.Fatal(err)
		}
	}
	d := <-done
	if d.err != nil {
		t.Fatal(d.err)
	}
	call := d.c
	in := mary.Incoming()
	answered := mary.Answered(in[0].CallID)
	if answered == nil {
		t.Fatal("mary has no answered call")
	}
	// Relay sockets bind only within the configured range.
	for who, ap := range map[string]netip.AddrPort{"gate": call.Remote(), "mary": answered.Remote()} {
		if !inRange(ap, lo, hi) {
			t.Errorf("%s sends media to %v, outside the range %d-%d", who, ap, lo, hi)
		}
	}
	if err := answered.SendTone(1000, 8000, 10); err != nil {
		t.Fatal(err)
	}
	if err := call.WaitAudio(ctx, 10*160); err != nil {
		t.Errorf("the caller: %v", err)
	}
	// Whatever the relay sent the stranger would be queued by now: the
	// caller's audio left the same socket after it.
	stranger.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
	buf := make([]byte, 2048)
	if n, from, err := stranger.ReadFromUDP(buf); err == nil {
		t.Errorf("the stranger received %d bytes of the call from %v", n, from)
	}
	if err := call.Hangup(ctx); err != nil {
		t.Fatal(err)
	}
}

// A media range used up refuses the call cleanly, 503, and never falls
// back to ports outside it: whether the caller's side finds no port, the
// callee's, or the endpoint of a call the server answers itself.
func TestMediaPortsExhausted(t *testing.T) {
	tests := []struct {
		name  string
		taken bool   // the range's one pair is taken before the call
		dial  string // what is dialled: from the door station, else tom
	}{
		{"caller side", true, "1A"},
		{"callee side", false, "1A"},
		{"the server's own endpoint", true, "8101"}, // mary's conference room, from tom
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lo := mediatest.FreeUDPRange(t, "127.0.0.1", 2)
			if tt.taken {
				for p := lo; p <= lo+1; p++ {
					c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
					if err != nil {
						t.Fatal(err)
					}
					defer c.Close()
				}
			}
			// One pair: the caller's side takes it, and no callee leg
			// finds one.
			h := startSite(t, servicesSite, func(o *site.Options) {
				o.MediaPortMin, o.MediaPortMax = lo, lo+1
				o.Services = testServices(make(chan heard, 1), nil)
			})
			caller := h.device("device.gate")
			if tt.dial == "8101" {
				caller = h.device("app.tom")
			}
			mary := h.device("app.mary")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := caller.Dial(ctx, tt.dial)
			var se *device.StatusError
			if !errors.As(err, &se) || se.Status != 503 {
				t.Fatalf("call with the media range used up: %v, want 503", err)
			}
			if in := mary.Incoming(); len(in) != 0 {
				t.Errorf("mary rang without media ports: %+v", in)
			}
		})
	}
}
