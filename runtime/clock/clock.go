// Package clock is the runtime's source of time. Everything the simulator
// must control — nonce expiry, binding expiry, throttling windows, relay
// hold — asks a Clock instead of calling time.Now or time.AfterFunc, so a
// virtual clock can replace the real one.
package clock

import "time"

// Clock tells the time and runs functions later.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f in its own goroutine once d has elapsed.
	AfterFunc(d time.Duration, f func()) Timer
}

// Timer is a pending AfterFunc call.
type Timer interface {
	// Stop prevents the call; it reports false when the call already ran
	// or was already stopped.
	Stop() bool
}

// Real is the wall clock.
var Real Clock = realClock{}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) AfterFunc(d time.Duration, f func()) Timer { return time.AfterFunc(d, f) }
