package conference

import (
	"testing"

	"switchboard/runtime/audio"
	"switchboard/runtime/line"
)

// A room's tick, pushes included, allocates nothing once warm.
func TestRoomTickDoesNotAllocate(t *testing.T) {
	r := newRoom(NewBridge(stillClock{}), "x")
	f := line.Frame{Samples: audio.Tone(make([]int16, audio.FrameSamples), 440, 2000, 0)}
	for range 5 {
		r.parts = append(r.parts, &participant{ln: &encodingLine{}})
	}
	r.parts[0].private.add(joinTone)
	step := func() {
		for _, p := range r.parts {
			r.push(p, f)
		}
		r.tick()
		f.Timestamp += audio.FrameSamples
	}
	for range 10 {
		step()
	}
	if n := testing.AllocsPerRun(200, func() {
		if f.Timestamp%(20*audio.FrameSamples) == 0 {
			r.tones.add(leaveTone)
		}
		step()
	}); n != 0 {
		t.Errorf("a tick allocates %v times", n)
	}
}
