package events

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

type nowClock struct{ t time.Time }

func (c *nowClock) Now() time.Time { return c.t }

// With a clock that cannot run functions later, a window's summary goes
// out with the first event of a later window.
func TestSamplerWithoutTimer(t *testing.T) {
	clk := &nowClock{t: time.Unix(1_800_000_000, 0)}
	bus := NewBus(clk.Now)
	sub := bus.Subscribe(100)
	s := NewSampler(bus, 2, time.Minute, clk)
	for range 5 {
		s.Publish(Event{Kind: AuthFailed})
	}
	s.Publish(Event{Kind: Throttled})
	clk.t = clk.t.Add(time.Minute)
	s.Publish(Event{Kind: AuthFailed, Cause: "next window"})
	var got []string
	for len(sub.C) > 0 {
		e := <-sub.C
		got = append(got, string(e.Kind)+" "+e.Cause)
	}
	want := []string{
		"auth_failed ",
		"auth_failed ",
		"suppressed 3 auth_failed, 1 throttled events within 1m0s after the first 2 were not reported",
		"auth_failed next window",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
