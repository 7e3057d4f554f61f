package conference

import (
	"encoding/binary"
	"testing"

	"switchboard/runtime/audio"
)

// ramp is a signal whose every sample says where it is (1, 2, 3, …,
// wrapping inside int16's positive range), so a test can see exactly
// which samples played, in which order.
func ramp(start, n int) []int16 {
	s := make([]int16, n)
	for i := range s {
		s[i] = int16((start+i)%32000 + 1)
	}
	return s
}

// packet is one packet of the ramp: n samples from sample off of the
// stream, whose RTP timestamps begin at base.
type packet struct{ off, n int }

// playout pushes packets, pulling one frame after each tick's packets
// (perTick[i] packets before pull i), and returns everything pulled.
func playout(j *jitter, base uint32, perTick [][]packet) []int16 {
	var out []int16
	var f frame
	for _, pkts := range perTick {
		for _, p := range pkts {
			j.push(base+uint32(p.off), ramp(p.off, p.n))
		}
		j.pull(&f)
		out = append(out, f[:]...)
	}
	return out
}

// inOrder is n 20 ms packets, one per tick.
func inOrder(n int) [][]packet {
	t := make([][]packet, n)
	for i := range t {
		t[i] = []packet{{i * audio.FrameSamples, audio.FrameSamples}}
	}
	return t
}

// checkContinuous checks that out is silence for the playout delay, then
// the ramp from its start, without a gap, for want samples.
func checkContinuous(t *testing.T, out []int16, want int) {
	t.Helper()
	for i, v := range out[:playoutDelay] {
		if v != 0 {
			t.Fatalf("sample %d = %d during the playout delay", i, v)
		}
	}
	got := out[playoutDelay:]
	if len(got) < want {
		t.Fatalf("only %d samples after the delay, want %d", len(got), want)
	}
	r := ramp(0, want)
	for i := range want {
		if got[i] != r[i] {
			t.Fatalf("sample %d after the delay = %d, want %d", i, got[i], r[i])
		}
	}
}

func TestJitterInOrder(t *testing.T) {
	var j jitter
	out := playout(&j, 4000000000, inOrder(60)) // timestamps wrap past 2³²
	checkContinuous(t, out, 57*audio.FrameSamples)
	if j.late+j.resyncs+j.dropped != 0 {
		t.Errorf("late %d, resyncs %d, dropped %d", j.late, j.resyncs, j.dropped)
	}
}

// Packets swapped in pairs, and each sent twice, play as if in order.
func TestJitterReorderAndDuplicates(t *testing.T) {
	ticks := inOrder(60)
	for i := 1; i+1 < len(ticks); i += 2 {
		ticks[i], ticks[i+1] = ticks[i+1], ticks[i]
	}
	for i := range ticks {
		ticks[i] = append(ticks[i], ticks[i]...)
	}
	var j jitter
	checkContinuous(t, playout(&j, 77, ticks), 56*audio.FrameSamples)
	if j.resyncs != 0 {
		t.Errorf("%d resyncs", j.resyncs)
	}
}

// Packets of 10, 30 and 60 ms fit as well as 20 ms ones.
func TestJitterPacketSizes(t *testing.T) {
	for _, n := range []int{80, 240, 480} {
		var ticks [][]packet
		off := 0
		for tk := range 80 {
			var pkts []packet
			for off+n <= (tk+1)*audio.FrameSamples {
				pkts = append(pkts, packet{off, n})
				off += n
			}
			ticks = append(ticks, pkts)
		}
		var j jitter
		out := playout(&j, 5, ticks)
		// The delay runs from the first packet, which a long one is
		// late to be.
		lead := 0
		for len(ticks[lead]) == 0 {
			lead++
		}
		checkContinuous(t, out[lead*audio.FrameSamples:], 70*audio.FrameSamples)
		if j.resyncs+j.dropped != 0 {
			t.Errorf("%d-sample packets: %d resyncs, %d dropped", n, j.resyncs, j.dropped)
		}
	}
}

// A packet that comes after its time has played is dropped; the stream
// goes on without a resync.
func TestJitterLatePacket(t *testing.T) {
	ticks := inOrder(40)
	late := ticks[10]
	ticks[10] = nil
	ticks[20] = append(ticks[20], late...) // 200 ms late: past the 60 ms delay
	var j jitter
	out := playout(&j, 0, ticks)
	gap := out[playoutDelay+10*audio.FrameSamples:][:audio.FrameSamples]
	for _, v := range gap {
		if v != 0 {
			t.Fatal("the lost packet's time is not silence")
		}
	}
	if j.late != 1 || j.resyncs != 0 {
		t.Errorf("late %d, resyncs %d; want 1, 0", j.late, j.resyncs)
	}
	after := out[playoutDelay+11*audio.FrameSamples:][:audio.FrameSamples]
	if after[0] != ramp(11*audio.FrameSamples, 1)[0] {
		t.Errorf("the stream did not go on after the loss")
	}
}

// A gap in the timestamps (silence suppression) plays as silence of the
// same length, and the audio after it keeps its place.
func TestJitterGap(t *testing.T) {
	ticks := inOrder(60)
	for i := 10; i < 30; i++ {
		ticks[i] = nil
	}
	var j jitter
	out := playout(&j, 9, ticks)
	for i := 10; i < 57; i++ {
		f := out[playoutDelay+i*audio.FrameSamples:][:audio.FrameSamples]
		if silent := f[0] == 0; silent != (i < 30) {
			t.Errorf("frame %d: silent %v", i, silent)
		}
		if i >= 30 && f[0] != ramp(i*audio.FrameSamples, 1)[0] {
			t.Errorf("frame %d out of place", i)
		}
	}
	if j.resyncs != 0 {
		t.Errorf("%d resyncs", j.resyncs)
	}
}

// A sender that restarts (a new SSRC: timestamps somewhere else) while the
// old stream still had audio waiting is followed after resyncAfter packets.
func TestJitterRestart(t *testing.T) {
	var j jitter
	var f frame
	for i := range 20 {
		j.push(uint32(i*audio.FrameSamples), ramp(i*audio.FrameSamples, audio.FrameSamples))
		if i >= 2 {
			j.pull(&f)
		}
	}
	base := uint32(3_000_000_000)
	for i := range 30 {
		j.push(base+uint32(i*audio.FrameSamples), ramp(100000+i*audio.FrameSamples, audio.FrameSamples))
		j.pull(&f)
	}
	if j.resyncs != 1 {
		t.Errorf("%d resyncs, want 1", j.resyncs)
	}
	if want := ramp(100000+26*audio.FrameSamples, 1)[0]; f[0] != want {
		t.Errorf("after the restart: %d, want %d (the new stream, 60 ms behind)", f[0], want)
	}
}

// One stray packet far from the stream does not derail it.
func TestJitterStrayPacket(t *testing.T) {
	ticks := inOrder(40)
	var j jitter
	var f frame
	for i, pkts := range ticks {
		for _, p := range pkts {
			j.push(uint32(p.off), ramp(p.off, p.n))
		}
		if i == 15 {
			j.push(1<<31, ramp(0, audio.FrameSamples))
		}
		j.pull(&f)
	}
	if j.resyncs != 0 {
		t.Errorf("%d resyncs for one stray packet", j.resyncs)
	}
}

// A sender flooding packets cannot grow the buffer or the delay: what
// waits stays within the ring, and after a pull within maxDepth.
func TestJitterFlood(t *testing.T) {
	var j jitter
	for i := range 100000 {
		j.push(uint32(i*audio.FrameSamples), ramp(i*audio.FrameSamples, audio.FrameSamples))
		if w := j.waiting(); w < 0 || w > ringSize {
			t.Fatalf("after packet %d: %d samples waiting", i, w)
		}
	}
	var f frame
	j.pull(&f)
	if w := j.waiting(); w > maxDepth {
		t.Errorf("after a pull: %d samples waiting, want at most %d", w, maxDepth)
	}
	// What plays is the newest audio.
	if newest := 100000 * audio.FrameSamples; f[0] != ramp(newest-ringSize, 1)[0] {
		t.Errorf("played %d, want the oldest sample still held", f[0])
	}
}

// A sender whose clock runs 2% fast or slow (51 or 49 packets per second of
// ours) plays on with its delay bounded and little lost.
func TestJitterClockDrift(t *testing.T) {
	for _, rate := range []int{49, 51} {
		var j jitter
		var f frame
		sent, silent := 0, 0
		for tk := range 50 * 60 { // a minute
			for sent*50 < (tk+1)*rate {
				j.push(uint32(sent*audio.FrameSamples), ramp(sent*audio.FrameSamples, audio.FrameSamples))
				sent++
			}
			if !j.pull(&f) && tk > 3 {
				silent++
			}
			if w := j.waiting(); w > maxDepth {
				t.Fatalf("%d/s: %d samples waiting", rate, w)
			}
		}
		if silent > 100 {
			t.Errorf("%d/s: %d silent frames in a minute", rate, silent)
		}
	}
}

// A stream that stops leaves nothing behind to replay: the ring is wiped
// as it plays.
func TestJitterNoStaleAudio(t *testing.T) {
	var j jitter
	var f frame
	for i := range 10 {
		j.push(uint32(i*audio.FrameSamples), ramp(0, audio.FrameSamples))
	}
	for range ringSize/audio.FrameSamples + 2 {
		j.pull(&f)
	}
	for range 1000 {
		if j.pull(&f) || f != (frame{}) {
			t.Fatal("a stopped stream played audio")
		}
	}
}

func TestJitterDoesNotAllocate(t *testing.T) {
	var j jitter
	var f frame
	s := ramp(0, audio.FrameSamples)
	ts := uint32(0)
	n := testing.AllocsPerRun(1000, func() {
		j.push(ts, s)
		j.pull(&f)
		ts += audio.FrameSamples
	})
	if n != 0 {
		t.Errorf("push and pull allocate %v times", n)
	}
}

// FuzzJitter drives a jitter buffer with arbitrary packets — any sequence
// numbers, timestamps, sizes and G.711 payloads — and pulls: it must never
// panic, never hold more than its ring, and, once the packets stop, run
// dry to silence.
func FuzzJitter(f *testing.F) {
	// Each op is 6 bytes: kind, timestamp step (int16), size (uint16), and
	// a payload byte; kind&3 == 0 pulls.
	seed := func(ops ...[6]byte) []byte {
		var b []byte
		for _, o := range ops {
			b = append(b, o[:]...)
		}
		return b
	}
	op := func(kind byte, step int16, size uint16, payload byte) [6]byte {
		var o [6]byte
		o[0] = kind
		binary.BigEndian.PutUint16(o[1:], uint16(step))
		binary.BigEndian.PutUint16(o[3:], size)
		o[5] = payload
		return o
	}
	f.Add(seed(op(1, 160, 160, 0x10), op(0, 0, 0, 0), op(1, 160, 160, 0x20), op(0, 0, 0, 0)))
	f.Add(seed(op(1, -32768, 65535, 0x80), op(1, 32767, 1, 0), op(0, 0, 0, 0)))
	f.Add(seed(op(1, 0, 160, 1), op(1, 0, 160, 1), op(1, -160, 160, 2), op(0, 0, 0, 0)))
	f.Fuzz(func(t *testing.T, data []byte) {
		var j jitter
		var fr frame
		var ts uint32
		payload := make([]byte, 0, 2*maxPacket)
		samples := make([]int16, 0, 2*maxPacket)
		for len(data) >= 6 {
			kind := data[0]
			step := int16(binary.BigEndian.Uint16(data[1:]))
			size := int(binary.BigEndian.Uint16(data[3:])) % (2*maxPacket + 1)
			b := data[5]
			data = data[6:]
			if kind&3 == 0 {
				j.pull(&fr)
			} else {
				ts += uint32(int32(step)) * uint32(kind>>2|1)
				payload = payload[:0]
				for i := range size {
					payload = append(payload, b+byte(i))
				}
				codec := audio.Codec(kind >> 7)
				samples = codec.Decode(samples[:0], payload)
				j.push(ts, samples)
			}
			if w := j.waiting(); w < 0 || w > ringSize {
				t.Fatalf("%d samples waiting", w)
			}
		}
		for range ringSize/audio.FrameSamples + 2 {
			j.pull(&fr)
		}
		if j.pull(&fr) || fr != (frame{}) || j.waiting() != 0 {
			t.Fatal("audio still playing long after the last packet")
		}
	})
}
