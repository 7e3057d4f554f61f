package portal

import (
	"sync"

	"switchboard/runtime/events"
)

// historySize is how many recent events of interest the portal keeps: the
// site keeps no event store of its own, so the door log and the calls a
// person sees are those since the server started, this many at most.
const historySize = 2000

// History keeps the recent events the portal shows (doors opened, calls),
// read from the site's event stream.
type History struct {
	sub  *events.Subscription
	done chan struct{}

	mu   sync.Mutex
	ring []events.Event // oldest first once full: ring[next:] + ring[:next]
	next int
	full bool
	// seen is closed and replaced at every event kept: tests wait on it.
	seen chan struct{}
}

// NewHistory reads bus (nil: nothing) until Close, keeping n events.
func NewHistory(bus *events.Bus, n int) *History {
	h := &History{ring: make([]events.Event, n), done: make(chan struct{}), seen: make(chan struct{})}
	if bus == nil {
		close(h.done)
		return h
	}
	h.sub = bus.Subscribe(1024)
	go func() {
		defer close(h.done)
		for e := range h.sub.C {
			h.add(e)
		}
	}()
	return h
}

// Close stops reading.
func (h *History) Close() {
	if h.sub != nil {
		h.sub.Close()
	}
	<-h.done
}

func kept(k events.Kind) bool {
	switch k {
	case events.DoorOpened, events.DoorRefused, events.CallStarted, events.CallEnded, events.LegAnswered, events.Fallback:
		return true
	}
	return false
}

func (h *History) add(e events.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if kept(e.Kind) {
		h.ring[h.next] = e
		h.next++
		if h.next == len(h.ring) {
			h.next, h.full = 0, true
		}
	}
	close(h.seen)
	h.seen = make(chan struct{})
}

// Events returns the kept events, newest first, that keep accepts.
func (h *History) Events(keep func(events.Event) bool) []events.Event {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []events.Event
	n := h.next
	if h.full {
		n = len(h.ring)
	}
	for i := 0; i < n; i++ {
		j := (h.next - 1 - i + len(h.ring)) % len(h.ring)
		if keep(h.ring[j]) {
			out = append(out, h.ring[j])
		}
	}
	return out
}

// Changed returns a channel closed at the next event.
func (h *History) Changed() <-chan struct{} {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.seen
}
