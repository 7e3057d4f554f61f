package conference

import (
	"sync"
	"time"

	"switchboard/runtime/clock"
	"switchboard/runtime/line"
)

// tick is the room's frame period: one mixed frame to every participant.
const tick = 20 * time.Millisecond

// maxLag is how far behind its schedule a room may fall (a stalled machine,
// a clock jump) before it gives up catching up and restarts its schedule.
const maxLag = 5 * tick

// participant is one caller in a room. Everything but ln is guarded by the
// room's lock, except in and out, which only the room's tick touches.
type participant struct {
	ln      line.Line
	id      string // the call's Call-ID
	role    Role
	muted   bool
	jb      jitter
	private clips // prompts only this participant hears
	in, out frame
	// received counts the frames pushed into jb since the participant
	// joined, for WaitReceived.
	received int
}

// room is one conference in progress: its participants and its clock.
type room struct {
	b   *Bridge
	key string

	mu     sync.Mutex
	parts  []*participant
	locked bool
	closed bool
	tones  clips // join and leave tones, heard by everyone
	// pushed, when a WaitReceived is waiting, is closed (and cleared) at
	// the next frame pushed or participant leaving.
	pushed chan struct{}

	timer    clock.Timer
	tickFunc func()    // r.tick, made once: a method value allocates
	start    time.Time // when tick 0 was due
	ticks    int64     // ticks scheduled since start

	// The tick's working set, reused so a tick does not allocate.
	mixer   Mixer
	in, out [][]int16
	send    []*participant
	common  frame
	scratch frame
}

// schedule arms the next tick. Ticks are due at start + n×20 ms, not 20 ms
// after the previous one ran, so a room's frame rate does not drift with
// timer latency. r.mu is held.
func (r *room) schedule() {
	r.ticks++
	now := r.b.clk.Now()
	d := r.start.Add(time.Duration(r.ticks) * tick).Sub(now)
	if d < -maxLag {
		r.start = now.Add(-time.Duration(r.ticks) * tick)
		d = 0
	}
	r.timer = r.b.clk.AfterFunc(max(d, 0), r.tickFunc)
}

func newRoom(b *Bridge, key string) *room {
	r := &room{b: b, key: key}
	r.tickFunc = r.tick
	return r
}

// tick mixes one frame and sends each participant its own.
func (r *room) tick() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.in, r.out, r.send = r.in[:0], r.out[:0], r.send[:0]
	for _, p := range r.parts {
		if p.jb.pull(&p.in) && !p.muted {
			r.in = append(r.in, p.in[:])
		} else {
			r.in = append(r.in, nil)
		}
		r.out = append(r.out, p.out[:])
		r.send = append(r.send, p)
	}
	if r.tones.next(&r.common) {
		r.in = append(r.in, r.common[:])
	}
	r.mixer.Mix(r.out, r.in)
	for _, p := range r.parts {
		if p.private.next(&r.scratch) {
			addSaturated(&p.out, &r.scratch)
		}
	}
	r.mu.Unlock()

	// Send outside the lock, so a slow line holds up neither joins nor
	// the participants' frames; the next tick is armed only afterwards,
	// so it cannot overwrite an out buffer still being sent.
	for i, p := range r.send {
		_ = p.ln.Send(p.out[:]) // a line that has gone reports Done to its session
		r.send[i] = nil
	}

	r.mu.Lock()
	if !r.closed {
		r.schedule()
	}
	r.mu.Unlock()
}

// push hands one received frame to p's jitter buffer.
func (r *room) push(p *participant, f line.Frame) {
	r.mu.Lock()
	p.jb.push(f.Timestamp, f.Samples)
	if len(f.Samples) > 0 {
		p.received++
		r.wake()
	}
	r.mu.Unlock()
}

// wake wakes whoever waits in WaitReceived. r.mu is held.
func (r *room) wake() {
	if r.pushed != nil {
		close(r.pushed)
		r.pushed = nil
	}
}

// toggleMute mutes or unmutes p, tells p which, and reports whether p is
// now muted.
func (r *room) toggleMute(p *participant) bool {
	return r.toggle(p, &p.muted, PromptMuted, PromptUnmuted)
}

// toggleLock locks or unlocks the room for p, an owner, and tells p which.
func (r *room) toggleLock(p *participant) {
	r.toggle(p, &r.locked, PromptRoomLocked, PromptRoomUnlocked)
}

// toggle flips *v under the room's lock, tells p the new state and
// returns it.
func (r *room) toggle(p *participant, v *bool, on, off string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	*v = !*v
	if *v {
		p.private.add(r.b.prompt(on))
	} else {
		p.private.add(r.b.prompt(off))
	}
	return *v
}
