// Package clocktest provides a manual clock for tests: time stands still
// until the test advances it, and timers fire, in order, as it passes them.
package clocktest

import (
	"context"
	"sort"
	"sync"
	"time"

	"switchboard/runtime/clock"
)

// Fake is a clock.Clock moved only by Advance.
type Fake struct {
	mu     sync.Mutex
	now    time.Time
	seq    int
	timers []*timer
	// armed, when someone waits in WaitPending, is closed (and cleared)
	// at the next AfterFunc.
	armed chan struct{}
}

// New returns a fake clock reading start.
func New(start time.Time) *Fake { return &Fake{now: start} }

type timer struct {
	c    *Fake
	when time.Time
	seq  int
	f    func()
	done bool
}

// Now returns the fake time.
func (c *Fake) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d. Unlike the real clock, f runs
// synchronously inside Advance, so a test sees its effects on return.
func (c *Fake) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &timer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	c.timers = append(c.timers, t)
	if c.armed != nil {
		close(c.armed)
		c.armed = nil
	}
	return t
}

// WaitPending waits until at least n timers are pending: the code under
// test has armed its timer and waits on the clock, so Advance will reach
// it. It returns ctx's error when ctx ends first.
func (c *Fake) WaitPending(ctx context.Context, n int) error {
	for {
		c.mu.Lock()
		if c.pendingLocked() >= n {
			c.mu.Unlock()
			return nil
		}
		if c.armed == nil {
			c.armed = make(chan struct{})
		}
		armed := c.armed
		c.mu.Unlock()
		select {
		case <-armed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Stop cancels the timer.
func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	return true
}

// Advance moves the clock forward by d, running every timer that falls due,
// earliest first, with Now reading the timer's own deadline while it runs.
func (c *Fake) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for {
		sort.Slice(c.timers, func(i, j int) bool {
			a, b := c.timers[i], c.timers[j]
			if !a.when.Equal(b.when) {
				return a.when.Before(b.when)
			}
			return a.seq < b.seq
		})
		var next *timer
		for len(c.timers) > 0 {
			t := c.timers[0]
			if t.done {
				c.timers = c.timers[1:]
				continue
			}
			if t.when.After(end) {
				break
			}
			next = t
			c.timers = c.timers[1:]
			break
		}
		if next == nil {
			break
		}
		next.done = true
		if next.when.After(c.now) {
			c.now = next.when
		}
		c.mu.Unlock()
		next.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// Pending reports how many timers have not fired or been stopped.
func (c *Fake) Pending() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pendingLocked()
}

func (c *Fake) pendingLocked() int {
	n := 0
	for _, t := range c.timers {
		if !t.done {
			n++
		}
	}
	return n
}
