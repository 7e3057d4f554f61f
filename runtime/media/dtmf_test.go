package media

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/pion/rtp"
)

// eventPacket builds an RFC 4733 packet: event, end bit, duration.
func eventPacket(t testing.TB, seq uint16, ts uint32, marker bool, event uint8, end bool, duration uint16) []byte {
	t.Helper()
	flags := byte(10) // volume -10 dBm0
	if end {
		flags |= 0x80
	}
	p := rtp.Packet{
		Header: rtp.Header{Version: 2, Marker: marker, PayloadType: 101,
			SequenceNumber: seq, Timestamp: ts, SSRC: 0x0e05384e},
		Payload: []byte{event, flags, byte(duration >> 8), byte(duration)},
	}
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// keyPress is the packets a phone sends for one key: a start with the
// marker, updates, and the end three times (RFC 4733 §2.5.1.4).
func keyPress(t testing.TB, seq uint16, ts uint32, event uint8) [][]byte {
	var ps [][]byte
	for i := range 4 {
		ps = append(ps, eventPacket(t, seq+uint16(i), ts, i == 0, event, false, uint16(160*(i+1))))
	}
	for range 3 {
		ps = append(ps, eventPacket(t, seq+4, ts, false, event, true, 800))
	}
	return ps
}

func detect(packets [][]byte) string {
	var d detector
	var got []rune
	for _, p := range packets {
		d.packet(p, func(r rune) { got = append(got, r) })
	}
	return string(got)
}

func TestDetector(t *testing.T) {
	var (
		one   = keyPress(t, 100, 8000, 1)
		hash  = keyPress(t, 110, 9600, 11)
		d     = keyPress(t, 120, 11200, 15)
		again = keyPress(t, 130, 12800, 1) // the same key pressed again: a new timestamp
	)
	cat := func(pss ...[][]byte) [][]byte {
		var all [][]byte
		for _, ps := range pss {
			all = append(all, ps...)
		}
		return all
	}
	withoutEnds := func(ps [][]byte) [][]byte { return ps[:4] }
	tests := []struct {
		name    string
		packets [][]byte
		want    string
	}{
		{"one key, end sent three times", one, "1"},
		{"keys in a row", cat(one, hash, d, again), "1#D1"},
		{"end packets reordered before updates", cat(one[4:], one[:4]), "1"},
		{"every end lost: reported when the next key starts", cat(withoutEnds(one), hash), "1#"},
		{"every end of the last key lost: not reported", withoutEnds(one), ""},
		{"only an end packet", one[6:], "1"},
		{"long event continued without marker is one digit", cat(withoutEnds(one),
			[][]byte{eventPacket(t, 104, 8000+65535, false, 1, false, 160), eventPacket(t, 105, 8000+65535, false, 1, true, 320)}), "1"},
		{"non-digit event (flash) ignored", keyPress(t, 1, 1, 16), ""},
		{"short payload ignored", [][]byte{eventPacket(t, 1, 1, true, 1, true, 1)[:14]}, ""},
		{"not RTP version 2", [][]byte{append([]byte{0x40}, eventPacket(t, 1, 1, true, 1, true, 1)[1:]...)}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, detect(tt.packets)); diff != "" {
				t.Errorf("digits (-want +got):\n%s", diff)
			}
		})
	}
}

func TestDetectorPadding(t *testing.T) {
	p := rtp.Packet{
		Header:  rtp.Header{Version: 2, Padding: true, PayloadType: 101, Timestamp: 5, SSRC: 1},
		Payload: []byte{9, 0x8a, 0, 160},
	}
	p.PaddingSize = 4
	p.Header.PaddingSize = 4
	b, err := p.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if got := detect([][]byte{b}); got != "9" {
		t.Errorf("padded packet: got %q, want \"9\"", got)
	}
	b[len(b)-1] = 200 // padding longer than the packet
	if got := detect([][]byte{b}); got != "" {
		t.Errorf("bad padding: got %q, want nothing", got)
	}
}

// FuzzTelephoneEvent feeds arbitrary packets to the detector: no panics,
// only real digits, and no key reported twice.
func FuzzTelephoneEvent(f *testing.F) {
	for _, p := range keyPress(f, 1, 160, 5) {
		f.Add(p, p)
	}
	f.Add([]byte{0x80}, []byte{})
	f.Add([]byte{0xa0, 0x65, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 1, 0x80, 0, 1, 0xff}, []byte{0x90, 0xe5, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 0xbe, 0xde, 0, 1})
	f.Fuzz(func(t *testing.T, a, b []byte) {
		var d detector
		n := 0
		emit := func(r rune) {
			n++
			switch {
			case r >= '0' && r <= '9', r == '*', r == '#', r >= 'A' && r <= 'D':
			default:
				t.Fatalf("digit %q", r)
			}
		}
		for range 3 {
			d.packet(a, emit)
			d.packet(b, emit)
		}
		if n > 2 {
			t.Fatalf("%d digits from two distinct packets", n)
		}
	})
}

func TestCollector(t *testing.T) {
	now := time.Unix(1000, 0)
	c := NewCollector(3*time.Second, func() time.Time { return now })
	at := func(s float64) time.Time { return time.Unix(1000, 0).Add(time.Duration(s * float64(time.Second))) }

	for i, d := range "91234" {
		c.Add(Callee, d, at(float64(i)))
	}
	now = at(4)
	if !c.EndsWith(Callee, "1234") {
		t.Errorf("Recent = %q; want it to end with 1234", c.Recent(Callee))
	}
	if c.EndsWith(Caller, "1234") {
		t.Error("the caller's string matched the callee's digits")
	}
	if c.EndsWith(Callee, "") {
		t.Error("empty code matched")
	}

	// A pause longer than the timeout starts a new string.
	if got := c.Add(Callee, '#', at(10)); got != "#" {
		t.Errorf("after a pause Add = %q, want \"#\"", got)
	}
	// And a string goes stale when nothing follows.
	now = at(14)
	if c.EndsWith(Callee, "#") {
		t.Error("stale string still matched")
	}

	c.Add(Caller, '1', at(20))
	c.Add(Caller, 'x', at(20)) // not a digit: ignored
	c.Add(Caller, '2', at(21))
	now = at(21)
	if got := c.Recent(Caller); got != "12" {
		t.Errorf("Recent(Caller) = %q, want \"12\"", got)
	}
	c.Reset(Caller)
	if got := c.Recent(Caller); got != "" {
		t.Errorf("after Reset Recent = %q", got)
	}

	for i := range 40 {
		c.Add(Caller, '0'+rune(i%10), at(22))
	}
	if got := c.Recent(Caller); len(got) != maxCollected || got[maxCollected-1] != '9' {
		t.Errorf("Recent after 40 digits = %q; want the last %d", got, maxCollected)
	}
}

func BenchmarkDTMFParse(b *testing.B) {
	packets := keyPress(b, 1, 160, 5)
	var d detector
	emit := func(rune) {}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		// A new key every press, as a caller keying a long code.
		ts := uint32(i * 1600)
		for _, p := range packets {
			p[4], p[5], p[6], p[7] = byte(ts>>24), byte(ts>>16), byte(ts>>8), byte(ts)
			d.packet(p, emit)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(packets)), "ns/packet")
}
