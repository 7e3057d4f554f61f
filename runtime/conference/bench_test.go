package conference

import (
	"context"
	"fmt"
	"testing"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/clock"
	"switchboard/runtime/line"
)

var benchSizes = []int{3, 10, 50, 200}

// reportParticipants reports how many participants one core keeps mixed
// in real time: frames mixed per second over the 50 frames a second each
// participant needs.
func reportParticipants(b *testing.B, participants int) {
	frames := float64(participants) * float64(b.N)
	b.ReportMetric(frames/b.Elapsed().Seconds()/50, "participants/core")
}

// BenchmarkMix is the mixer alone: one op mixes one 20 ms frame of a room.
func BenchmarkMix(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("participants=%d", n), func(b *testing.B) {
			in, out := make([][]int16, n), make([][]int16, n)
			for i := range in {
				in[i] = audio.Tone(make([]int16, audio.FrameSamples), float64(200+37*i), 2000, 0)
				out[i] = make([]int16, audio.FrameSamples)
			}
			var m Mixer
			b.ReportAllocs()
			for b.Loop() {
				m.Mix(out, in)
			}
			reportParticipants(b, n)
		})
	}
}

// BenchmarkMixG711 is one frame of everything a room's audio costs per
// participant, network aside: µ-law decode, jitter buffer in and out, mix,
// µ-law encode.
func BenchmarkMixG711(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("participants=%d", n), func(b *testing.B) {
			payloads := make([][]byte, n)
			jbs := make([]jitter, n)
			dec := make([]int16, 0, audio.FrameSamples)
			enc := make([]byte, 0, audio.FrameSamples)
			ins := make([]frame, n)
			in, out := make([][]int16, n), make([][]int16, n)
			for i := range payloads {
				payloads[i] = audio.PCMU.Encode(nil, audio.Tone(make([]int16, audio.FrameSamples), float64(200+37*i), 2000, 0))
				out[i] = make([]int16, audio.FrameSamples)
			}
			var m Mixer
			var ts uint32
			b.ReportAllocs()
			for b.Loop() {
				for i := range jbs {
					dec = audio.PCMU.Decode(dec[:0], payloads[i])
					jbs[i].push(ts, dec)
					in[i] = nil
					if jbs[i].pull(&ins[i]) {
						in[i] = ins[i][:]
					}
				}
				m.Mix(out, in)
				for i := range out {
					enc = audio.PCMU.Encode(enc[:0], out[i])
				}
				ts += audio.FrameSamples
			}
			reportParticipants(b, n)
		})
	}
}

// BenchmarkRoomTick is a room as Serve runs it: each participant's frame
// pushed through the room's lock, and one tick (pull, mix, tones, Send,
// which µ-law encodes as the real line does). One op is one 20 ms frame.
func BenchmarkRoomTick(b *testing.B) {
	for _, n := range benchSizes {
		b.Run(fmt.Sprintf("participants=%d", n), func(b *testing.B) {
			br := NewBridge(stillClock{})
			r := newRoom(br, "bench")
			frames := make([]line.Frame, n)
			for i := range n {
				r.parts = append(r.parts, &participant{ln: &encodingLine{}})
				frames[i] = line.Frame{Samples: audio.Tone(make([]int16, audio.FrameSamples), float64(200+37*i), 2000, 0)}
			}
			b.ReportAllocs()
			var ts uint32
			for b.Loop() {
				for i, p := range r.parts {
					frames[i].Timestamp = ts
					r.push(p, frames[i])
				}
				if ts%(50*audio.FrameSamples) == 0 {
					r.mu.Lock()
					r.tones.add(joinTone) // a join a second
					r.mu.Unlock()
				}
				r.tick()
				ts += audio.FrameSamples
			}
			reportParticipants(b, n)
		})
	}
}

// stillClock never fires: the benchmark calls tick itself.
type stillClock struct{}

func (stillClock) Now() time.Time                              { return time.Time{} }
func (stillClock) AfterFunc(time.Duration, func()) clock.Timer { return stillTimer{} }

type stillTimer struct{}

func (stillTimer) Stop() bool { return true }

// encodingLine encodes what it is sent, as the RTP endpoint does, and
// drops it.
type encodingLine struct{ buf []byte }

func (l *encodingLine) Send(f []int16) error {
	l.buf = audio.PCMU.Encode(l.buf[:0], f)
	return nil
}
func (l *encodingLine) Codec() audio.Codec                  { return audio.PCMU }
func (l *encodingLine) Clock() clock.Clock                  { return stillClock{} }
func (l *encodingLine) Play(context.Context, []int16) error { return nil }
func (l *encodingLine) Frames() <-chan line.Frame           { return nil }
func (l *encodingLine) Digits() <-chan rune                 { return nil }
func (l *encodingLine) Hangup(string)                       {}
func (l *encodingLine) Done() <-chan struct{}               { return nil }
