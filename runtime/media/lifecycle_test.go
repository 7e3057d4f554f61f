package media

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"
)

// doorCallOffer is the door station's offer in bench/sip's door.xml: audio
// alone, PCMU and telephone-event, RTCP on the port above.
func doorCallOffer(at netip.AddrPort) []byte {
	return []byte(sdpText(
		"v=0",
		"o=door 1 1 IN IP4 "+at.Addr().String(),
		"s=-",
		"c=IN IP4 "+at.Addr().String(),
		"t=0 0",
		fmt.Sprintf("m=audio %d RTP/AVP 0 101", at.Port()),
		"a=rtpmap:0 PCMU/8000",
		"a=rtpmap:101 telephone-event/8000",
		"a=fmtp:101 0-16",
		"a=sendrecv",
	))
}

// BenchmarkRelayCall is a door call's relay from start to end, as serve
// runs it over loopback: the caller's offer, three forked legs (a
// residence's three apps), one answers, two packets each way, the two
// losers closed, then the relay. Eight sockets open and close per call
// (caller and three legs, RTP and RTCP): what it costs to set them up and
// tear them down, beside the packets (four sendto a call here).
func BenchmarkRelayCall(b *testing.B) {
	for _, bc := range []struct {
		name     string
		min, max int
		pool     bool
	}{
		{"kernel-ports", 0, 0, false},
		{"range", 10000, 20000, false}, // serve's default -rtp-ports
		{"kernel-ports/pool", 0, 0, true},
		{"range/pool", 10000, 20000, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			cfg := Config{IP: loopback, PortMin: bc.min, PortMax: bc.max}
			if bc.pool {
				// A quarantine shorter than a call here: every call after
				// the first takes the last one's sockets, as a server
				// taking calls for longer than the quarantine does.
				cfg.Pool = NewPool(PoolConfig{Quarantine: time.Nanosecond})
				defer cfg.Pool.Close()
			}
			benchmarkRelayCall(b, cfg)
		})
	}
}

func benchmarkRelayCall(b *testing.B, cfg Config) {
	caller, phones := newEndpoint(b), []*endpoint{newEndpoint(b), newEndpoint(b), newEndpoint(b)}
	offer := doorCallOffer(caller.addr())
	answers := make([][]byte, len(phones))
	for i, p := range phones {
		answers[i] = sdpFor(p.addr(), netip.AddrPort{})
	}
	up := rtpPacket(b, 0, 1, bytes.Repeat([]byte{0xff}, 160))
	down := rtpPacket(b, 0, 2, bytes.Repeat([]byte{0x7f}, 160))
	legs := make([]*Leg, len(phones))
	toPhone := make([]netip.AddrPort, len(phones))
	b.ReportAllocs()
	cpu := processCPU()
	b.ResetTimer()
	for range b.N {
		r, err := NewRelay(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.SetOffer(offer, loopback); err != nil {
			b.Fatal(err)
		}
		for i := range phones {
			l, legOffer, err := r.NewLeg(loopback)
			if err != nil {
				b.Fatal(err)
			}
			legs[i] = l
			toPhone[i] = relayAddrs(b, legOffer)[0].rtp
		}
		answer, err := legs[0].Answer(answers[0])
		if err != nil {
			b.Fatal(err)
		}
		toCaller := relayAddrs(b, answer)[0].rtp
		for range 2 {
			caller.send(toCaller, up)
			phones[0].expect(up)
			phones[0].send(toPhone[0], down)
			caller.expect(down)
		}
		for _, l := range legs[1:] {
			if err := l.Close(); err != nil {
				b.Fatal(err)
			}
		}
		if err := r.Close(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if used := processCPU() - cpu; used > 0 {
		// The whole process's CPU, the fake endpoints' sends and reads too.
		b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/call")
	}
}
