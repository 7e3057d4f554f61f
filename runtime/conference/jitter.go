package conference

import "switchboard/runtime/audio"

// The jitter buffer's sizes, in samples (8 per millisecond).
const (
	// ringSize is the most audio one participant can have waiting: 256 ms.
	// It is fixed, so no sender can make the buffer grow.
	ringSize = 2048
	ringMask = ringSize - 1
	// maxPacket is the longest packet kept (128 ms); longer ones are cut.
	maxPacket = ringSize / 2
	// playoutDelay is how far behind the first packet of a stream playout
	// starts (60 ms), room for packets that arrive late or out of order.
	playoutDelay = 3 * audio.FrameSamples
	// maxDepth is how much waiting audio is tolerated before the oldest is
	// dropped to bring the delay back to playoutDelay (a sender whose clock
	// runs fast, or a burst after a network stall): 160 ms.
	maxDepth = 8 * audio.FrameSamples
	// resyncAfter is how many packets in a row may fall outside the buffer's
	// window before it follows them as a new stream (a restarted sender, a
	// new SSRC, a jump in timestamps).
	resyncAfter = 3
)

// jitter is one participant's jitter buffer. Packets are placed by RTP
// timestamp, so reordered packets fall into place, duplicates land on
// themselves, a gap (silence suppression, loss) plays as silence, and
// packets of any length fit; the mixer takes one 20 ms frame per tick.
//
// It holds a fixed ring of samples: memory does not depend on what the
// sender does. It is not safe for concurrent use (the room's lock guards
// it).
type jitter struct {
	ring    [ringSize]int16
	started bool
	next    uint32 // RTP timestamp of the next sample to play
	high    uint32 // end of the newest audio written; high-next is what waits
	bad     int    // packets in a row outside the window

	// counters, for tests and diagnosis
	late, resyncs, dropped int
}

// waiting is how many samples lie between the playout point and the newest
// audio (0 when the buffer has run dry).
func (j *jitter) waiting() int { return int(int32(j.high - j.next)) }

// push places one packet's samples at timestamp ts.
func (j *jitter) push(ts uint32, s []int16) {
	if len(s) == 0 {
		return
	}
	if len(s) > maxPacket {
		s = s[:maxPacket]
	}
	if !j.started {
		j.resync(ts)
	}
	n := int64(len(s))
	d := int64(int32(ts - j.next)) // where the packet starts, relative to playout
	ahead := int32(ts - j.high)    // and relative to the newest audio
	if d+n <= 0 || d >= ringSize && (ahead < 0 || ahead >= ringSize) {
		// Wholly late, or too far ahead to be this stream: it neither
		// fits the ring nor follows on from the newest audio. With nothing
		// waiting, nothing is lost by following it at once (a sender back
		// from silence, a restarted one); otherwise it must happen a few
		// times in a row, so one stray packet cannot derail the stream.
		j.bad++
		if j.waiting() > 0 && j.bad < resyncAfter {
			if d+n <= 0 {
				j.late++
			}
			return
		}
		j.resync(ts)
		d = int64(int32(ts - j.next))
	}
	j.bad = 0
	if d < 0 { // partly late: keep the part still to be played
		s = s[-d:]
		ts += uint32(-d)
		d, n = 0, int64(len(s))
	}
	if over := d + n - ringSize; over > 0 {
		// Too much waiting: drop the oldest to make room.
		j.skip(uint32(over))
	}
	for i, v := range s {
		j.ring[(ts+uint32(i))&ringMask] = v
	}
	if end := ts + uint32(n); int32(end-j.high) > 0 {
		j.high = end
	}
}

// pull takes the next 20 ms into dst, silence where nothing arrived. It
// reports whether any of it was audio that arrived (false on underrun, so
// the mixer can skip the participant).
func (j *jitter) pull(dst *frame) bool {
	if !j.started {
		*dst = frame{}
		return false
	}
	had := j.waiting() > 0
	for i := range dst {
		k := (j.next + uint32(i)) & ringMask
		dst[i] = j.ring[k]
		j.ring[k] = 0
	}
	j.next += audio.FrameSamples
	switch w := j.waiting(); {
	case w < 0:
		j.high = j.next // run dry: nothing waits
	case w > maxDepth:
		j.skip(uint32(w - playoutDelay))
	}
	return had
}

// skip drops n samples from the playout point on.
func (j *jitter) skip(n uint32) {
	for i := range min(n, ringSize) {
		j.ring[(j.next+i)&ringMask] = 0
	}
	j.next += n
	j.dropped += int(n)
	if int32(j.high-j.next) < 0 {
		j.high = j.next
	}
}

// resync starts a new stream whose first packet is at ts.
func (j *jitter) resync(ts uint32) {
	if j.started {
		j.resyncs++
	}
	j.ring = [ringSize]int16{}
	j.started = true
	j.next = ts - playoutDelay
	j.high = ts
	j.bad = 0
}
