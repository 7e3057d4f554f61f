package events

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"switchboard/runtime/clock"
)

// Sampler bounds the events a flood can write: of the events published
// through it, the first N in each window go to the bus and the rest are
// only counted, then reported in one Suppressed event when the window
// ends. Failures an attacker provokes (authentication, PINs, provisioning
// logins) go through one, so that a spray of them from spoofed addresses
// costs the events file a few lines per window, not a line per datagram.
type Sampler struct {
	bus    *Bus
	n      int
	window time.Duration
	clk    Clock

	mu         sync.Mutex
	start      time.Time
	sent       int
	suppressed map[Kind]int
	timer      clock.Timer
}

// Clock is what a Sampler needs of a clock. When it is also a clock.Clock,
// a window's Suppressed event goes out when the window ends; otherwise
// with the first event of a later window.
type Clock interface{ Now() time.Time }

// NewSampler returns a Sampler passing n events per window to bus, with
// time from clk. A nil bus publishes nothing.
func NewSampler(bus *Bus, n int, window time.Duration, clk Clock) *Sampler {
	return &Sampler{bus: bus, n: n, window: window, clk: clk, suppressed: map[Kind]int{}}
}

// Publish sends e, or counts it when the window's share is spent.
func (s *Sampler) Publish(e Event) {
	if s == nil || s.bus == nil {
		return
	}
	now := s.clk.Now()
	s.mu.Lock()
	var summary *Event
	if s.start.IsZero() || now.Sub(s.start) >= s.window {
		summary = s.summaryLocked()
		s.start, s.sent = now, 0
	}
	send := s.sent < s.n
	if send {
		s.sent++
	} else {
		if c, ok := s.clk.(clock.Clock); ok && len(s.suppressed) == 0 {
			// The report goes out when the window ends even if nothing
			// more is published; a later window's first Publish would
			// send it otherwise.
			start := s.start
			s.timer = c.AfterFunc(s.start.Add(s.window).Sub(now), func() { s.flush(start) })
		}
		s.suppressed[e.Kind]++
	}
	s.mu.Unlock()
	if summary != nil {
		s.bus.Publish(*summary)
	}
	if send {
		s.bus.Publish(e)
	}
}

// flush reports what the window that began at start suppressed, unless
// Publish reported it already.
func (s *Sampler) flush(start time.Time) {
	s.mu.Lock()
	var summary *Event
	if s.start.Equal(start) {
		summary = s.summaryLocked()
	}
	s.mu.Unlock()
	if summary != nil {
		s.bus.Publish(*summary)
	}
}

// summaryLocked returns the Suppressed event of the current window, if it
// suppressed any, and forgets the counts.
func (s *Sampler) summaryLocked() *Event {
	if len(s.suppressed) == 0 {
		return nil
	}
	if s.timer != nil {
		s.timer.Stop()
		s.timer = nil
	}
	kinds := make([]Kind, 0, len(s.suppressed))
	for k := range s.suppressed {
		kinds = append(kinds, k)
	}
	slices.Sort(kinds)
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%d %s", s.suppressed[k], k)
	}
	clear(s.suppressed)
	return &Event{Kind: Suppressed, Cause: fmt.Sprintf("%s events within %s after the first %d were not reported", strings.Join(parts, ", "), s.window, s.n)}
}
