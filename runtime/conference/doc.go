// Package conference runs conference bridges: the personal rooms of the IR
// (ir.Conference) and any site-level ones. It mixes real audio — every
// participant hears everyone but themselves — and talks to callers only
// through line.Line, so it knows neither SIP nor RTP.
//
// # Wiring it into the server
//
// The server makes one Bridge, with the runtime's clock (the same one its
// lines use, so the simulator's virtual clock paces the mixing too):
//
//	bridge := conference.NewBridge(clk,
//		conference.WithEvents(bus),       // joins, leaves, PIN failures, refusals
//		conference.WithPrompts(prompts),  // optional; tones stand in for missing prompts
//	)
//
// For an INVITE that routing sends to a room, it builds the Call and may ask
// first, before answering, whether the caller can get in:
//
//	c := conference.Call{
//		Room:    conference.RoomConfig{Conference: conf, MemberPIN: m, OwnerPIN: o, Limit: n},
//		ID:      callID,   // for events
//		Account: account,  // the authenticated caller ("" for none)
//		Source:  source,   // the caller's address; PIN guessing is throttled per host
//		Owner:   isOwner,  // the caller is authenticated as conf.Owner: no PIN asked
//	}
//	switch err := bridge.Admit(c); err {
//	case conference.ErrFull, conference.ErrLocked: // 486 Busy Here
//	case conference.ErrThrottled: // 403 Forbidden
//	}
//
// Then it answers, builds the Line over the call's RTP endpoint, and runs
//
//	err := bridge.Serve(ctx, ln, c) // blocks until the call is over
//
// in the call's goroutine. Serve hangs up itself whenever it ends the call
// (refusal, wrong PINs, ctx done), and returns nil when the caller hung up.
// A room full by the time the caller has keyed the PIN gets PromptFull and
// a hang-up rather than a SIP status, since the call is answered by then.
// Cancelling ctx (server shutdown) ends every call it was given.
//
// # What a caller meets
//
//   - PIN entry, when the room has a member or an owner PIN and the caller
//     is not the authenticated owner: PromptEnterPIN, the PIN, then # (or a
//     pause of the PIN timeout); * starts again. A room with only an owner
//     PIN takes # alone as a member. MaxTries wrong entries hang up. Wrong
//     PINs count per account and per source host across calls (Throttle);
//     past the limit, callers are refused (ErrThrottled) until the window
//     closes.
//   - In the room: a rising two-tone (600, 900 Hz) to everyone when someone
//     joins, a falling one when someone leaves; the first in an empty room
//     hears the rising tone and PromptAlone. *6 mutes and unmutes oneself
//     (a muted participant still hears everyone); an owner's *7 locks and
//     unlocks the room to new members (it unlocks when the last owner
//     leaves).
//   - The participant limit (RoomConfig.Limit, DefaultLimit when 0)
//     refuses the next caller with PromptFull and a hang-up.
//
// # Audio
//
// A room exists while someone is in it. Every 20 ms of the clock (an
// AfterFunc chain, due at fixed times so it does not drift) it takes one
// frame from each participant's jitter buffer, mixes them with Mixer
// (int32 sum, minus one's own frame, saturated to int16), adds the tones,
// and hands each participant its frame with Line.Send. The jitter buffer
// places packets by RTP timestamp in a fixed 256 ms ring, playing 60 ms
// behind the first packet: reordered packets fall into place, duplicates
// and late ones do no harm, gaps play as silence, a burst or a fast sender
// drops the oldest audio past 160 ms, and a restarted stream is followed.
//
// Events (events.Conference*) name the room's number (To), its IR node
// (Target "conference.<name>", Origin), the call, account and source.
package conference
