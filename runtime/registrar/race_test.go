package registrar_test

import (
	"testing"
	"time"

	"switchboard/runtime/auth"
	"switchboard/runtime/clock"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/registrar"
)

// eagerClock runs its first AfterFunc at once, in its own goroutine, and
// reports the second (the one the first sweep schedules); later timers
// never fire.
type eagerClock struct {
	calls    int
	rescheds chan struct{}
}

func (c *eagerClock) Now() time.Time { return epoch }

func (c *eagerClock) AfterFunc(_ time.Duration, f func()) clock.Timer {
	c.calls++ // the registrar calls AfterFunc under its lock
	switch c.calls {
	case 1:
		go f()
	case 2:
		close(c.rescheds)
	}
	return stopped{}
}

type stopped struct{}

func (stopped) Stop() bool { return false }

// The first sweep may run before New has stored its timer: New must take
// the lock the sweep stores the next timer under (go test -race shows the
// race otherwise).
func TestNewRacesFirstSweep(t *testing.T) {
	clk := &eagerClock{rescheds: make(chan struct{})}
	a := auth.New(domain, passwords, clocktest.New(epoch))
	r := registrar.New(program(), a, clk)
	<-clk.rescheds
	r.Close()
}
