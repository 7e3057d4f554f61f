package clocktest_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/clock/clocktest"
)

func TestFake(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	c := clocktest.New(start)
	var got []string
	at := func(name string) func() {
		return func() { got = append(got, name+" at "+c.Now().Sub(start).String()) }
	}
	c.AfterFunc(3*time.Second, at("c"))
	c.AfterFunc(time.Second, at("a"))
	stopped := c.AfterFunc(2*time.Second, at("stopped"))
	c.AfterFunc(time.Second, func() {
		at("b")()
		c.AfterFunc(500*time.Millisecond, at("b+0.5s")) // scheduled from a timer
	})
	if !stopped.Stop() || stopped.Stop() {
		t.Errorf("Stop: want true, then false")
	}
	c.Advance(2 * time.Second)
	if c.Now() != start.Add(2*time.Second) {
		t.Errorf("Now = %v", c.Now())
	}
	c.Advance(time.Second)
	want := []string{"a at 1s", "b at 1s", "b+0.5s at 1.5s", "c at 3s"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n := c.Pending(); n != 0 {
		t.Errorf("%d timers pending", n)
	}
}

// WaitPending returns once the timers are armed, from another goroutine.
func TestWaitPending(t *testing.T) {
	c := clocktest.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() {
		c.AfterFunc(time.Second, func() {})
		c.AfterFunc(time.Second, func() {})
	}()
	if err := c.WaitPending(ctx, 2); err != nil {
		t.Fatalf("WaitPending(2): %v with %d pending", err, c.Pending())
	}
	short, stop := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer stop()
	if err := c.WaitPending(short, 3); err == nil {
		t.Error("WaitPending(3) returned with 2 timers pending")
	}
}
