// Package line is the contract between the SIP server and the services it
// answers calls for itself — voicemail and conference bridges. A Line is the
// server's end of one answered call: decoded audio in, audio out paced by
// the runtime clock, RFC 4733 digits, and hang-up in both directions.
//
// The services program against this interface only, so they neither know
// SIP nor RTP, and their unit tests can drive them with a Line of their own;
// end-to-end tests drive the real one over SIP.
package line

import (
	"context"

	"switchboard/runtime/audio"
	"switchboard/runtime/clock"
)

// Line is one answered call.
type Line interface {
	// Codec is the G.711 codec negotiated with the caller.
	Codec() audio.Codec
	// Clock is the runtime's clock: services time out and pace by it, so
	// the simulator's virtual clock drives them too.
	Clock() clock.Clock

	// Play sends samples (8 kHz linear) as 20 ms packets paced by the
	// clock, and returns when the last one has gone, or early with
	// ctx.Err() when ctx ends, or ErrHungUp when the call ends. A partial
	// last frame is padded with silence.
	Play(ctx context.Context, samples []int16) error
	// Send sends one frame now, for callers that pace themselves (the
	// conference mixer).
	Send(frame []int16) error

	// Frames delivers the caller's audio, decoded, one packet at a time in
	// arrival order. A service that does not keep up loses frames, never
	// stalls the call.
	Frames() <-chan Frame
	// Digits delivers the caller's DTMF digits (RFC 4733), one per key
	// press.
	Digits() <-chan rune

	// Hangup ends the call from the server's side.
	Hangup(cause string)
	// Done is closed when the call has ended, whichever side ended it.
	Done() <-chan struct{}
}

// Frame is one received packet's audio.
type Frame struct {
	Seq       uint16 // RTP sequence number
	Timestamp uint32 // RTP timestamp, in samples
	Samples   []int16
}

// ErrHungUp is returned by Play when the call ended while playing.
var ErrHungUp = hungUp{}

type hungUp struct{}

func (hungUp) Error() string { return "line: call ended" }
