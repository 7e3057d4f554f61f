package conference

import (
	"switchboard/runtime/audio"
)

// Prompts supplies recorded announcements: 8 kHz 16-bit linear samples, or
// nil when it has none by that name, in which case the bridge plays a tone
// instead (see the Prompt* names).
type Prompts interface {
	Prompt(name string) []int16
}

// PromptFunc adapts a function to Prompts.
type PromptFunc func(name string) []int16

// Prompt calls f.
func (f PromptFunc) Prompt(name string) []int16 { return f(name) }

// The prompts the bridge asks for, and what it plays when one is missing.
const (
	// PromptEnterPIN asks for the room's PIN followed by #. When the room
	// has only an owner PIN, members just press # ("Enter the conference
	// PIN, then hash. Without one, press hash."). Tone: two short 1 kHz
	// beeps.
	PromptEnterPIN = "conf-enter-pin"
	// PromptWrongPIN follows a wrong PIN. Tone: a low 400 Hz note.
	PromptWrongPIN = "conf-wrong-pin"
	// PromptFull is played before hanging up on a caller when the room is
	// at its participant limit. Tone: busy tone (480+620 Hz).
	PromptFull = "conf-full"
	// PromptLocked is played before hanging up on a caller when the room's
	// owner has locked it. Tone: busy tone.
	PromptLocked = "conf-locked"
	// PromptTryLater is played before hanging up on a caller throttled for
	// too many wrong PINs. Tone: busy tone.
	PromptTryLater = "conf-try-later"
	// PromptAlone greets a caller who enters an empty room. No tone.
	PromptAlone = "conf-alone"
	// PromptMuted and PromptUnmuted confirm *6 to the participant alone.
	// Tones: a falling (700, 500 Hz) and a rising (500, 700 Hz) pair.
	PromptMuted   = "conf-muted"
	PromptUnmuted = "conf-unmuted"
	// PromptRoomLocked and PromptRoomUnlocked confirm an owner's *7.
	// Tones: three short 1400 Hz beeps; one long one.
	PromptRoomLocked   = "conf-room-locked"
	PromptRoomUnlocked = "conf-room-unlocked"
)

// Tone frequencies of the join and leave signals everyone in a room hears.
const (
	joinLow, joinHigh = 600, 900 // rising: someone joined
)

// toneAmp is the level of every generated tone: about -18 dBFS, loud enough
// to hear over speech and far from clipping when mixed with it.
const toneAmp = 4000

// note is one step of a tone sequence: a frequency pair (0 for none) for ms
// milliseconds; all zero is a pause.
type note struct {
	f1, f2 float64
	ms     int
}

// tones renders a sequence of notes.
func tones(notes ...note) []int16 {
	var out []int16
	for _, n := range notes {
		s := make([]int16, n.ms*audio.Rate/1000)
		if n.f1 != 0 {
			audio.Tone(s, n.f1, toneAmp, 0)
		}
		if n.f2 != 0 {
			second := audio.Tone(make([]int16, len(s)), n.f2, toneAmp, 0)
			for i := range s {
				s[i] = saturate(int32(s[i]) + int32(second[i]))
			}
		}
		out = append(out, s...)
	}
	return out
}

var (
	joinTone  = tones(note{joinLow, 0, 120}, note{joinHigh, 0, 120})
	leaveTone = tones(note{joinHigh, 0, 120}, note{joinLow, 0, 120})
	busyTone  = tones(note{480, 620, 500}, note{0, 0, 500}, note{480, 620, 500}, note{0, 0, 500})

	fallbackTones = map[string][]int16{
		PromptEnterPIN:     tones(note{1000, 0, 100}, note{0, 0, 100}, note{1000, 0, 100}),
		PromptWrongPIN:     tones(note{400, 0, 600}, note{0, 0, 200}),
		PromptFull:         busyTone,
		PromptLocked:       busyTone,
		PromptTryLater:     busyTone,
		PromptMuted:        tones(note{700, 0, 100}, note{500, 0, 100}),
		PromptUnmuted:      tones(note{500, 0, 100}, note{700, 0, 100}),
		PromptRoomLocked:   tones(note{1400, 0, 80}, note{0, 0, 60}, note{1400, 0, 80}, note{0, 0, 60}, note{1400, 0, 80}),
		PromptRoomUnlocked: tones(note{1400, 0, 300}),
	}
)

// prompt returns the recording of name, or its fallback tone (nil for none).
func (b *Bridge) prompt(name string) []int16 {
	if b.prompts != nil {
		if s := b.prompts.Prompt(name); len(s) > 0 {
			return s
		}
	}
	return fallbackTones[name]
}

// clips is a queue of audio played one after another, a frame per tick. It
// allocates only when a clip is queued, never when one is played.
type clips struct {
	q    [][]int16
	head int
	pos  int
}

// maxClips caps the queue, so a burst of joins cannot queue unbounded tones.
const maxClips = 8

// add queues s (not copied: clips are never written).
func (c *clips) add(s []int16) {
	if len(s) == 0 || len(c.q)-c.head >= maxClips {
		return
	}
	if c.head > 0 && len(c.q) == cap(c.q) { // reuse the played slots
		n := copy(c.q, c.q[c.head:])
		clear(c.q[n:])
		c.q, c.head = c.q[:n], 0
	}
	c.q = append(c.q, s)
}

// next puts the next frame into dst and reports whether there was one.
func (c *clips) next(dst *frame) bool {
	if c.head == len(c.q) {
		return false
	}
	cur := c.q[c.head]
	n := copy(dst[:], cur[c.pos:])
	clear(dst[n:])
	c.pos += n
	if c.pos >= len(cur) {
		c.q[c.head] = nil
		c.head++
		c.pos = 0
		if c.head == len(c.q) {
			c.q, c.head = c.q[:0], 0
		}
	}
	return true
}
