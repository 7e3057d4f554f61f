package portal

import (
	"context"
	"log/slog"
	"sync"

	"switchboard/runtime/events"
	"switchboard/runtime/store"
)

// historySize is how many recent events of interest the portal keeps in
// memory: the door log and the calls a person sees are the last this many
// of the site's event stream (across restarts of the server when the
// stream is kept on disk).
const historySize = 2000

// History keeps the recent events the portal shows (doors opened, calls),
// read from the site's event stream.
type History struct {
	sub  *events.Subscription
	stop func() // stops following a store.EventLog (NewHistoryFrom)
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

// keptKinds are the kinds of events History keeps.
var keptKinds = []events.Kind{events.DoorOpened, events.DoorRefused, events.CallStarted, events.CallEnded, events.LegAnswered, events.Fallback}

// NewHistoryFrom reads log until Close, from the last n events of the
// kinds it keeps: what happened before this run of the server is shown
// too. Finding where those begin in a long stream takes a while (some
// twenty questions to the store), so it is done in the background, not
// at start; a failure is logged and leaves the history empty. Only those
// stored before are read from the stream: the new ones, which this
// process's recorder stores through log, come from memory
// (store.EventLog.Tail), each once.
func NewHistoryFrom(log *store.EventLog, n int, logger *slog.Logger) *History {
	h := &History{ring: make([]events.Event, n), done: make(chan struct{}), seen: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	go func() {
		defer close(h.done)
		from, err := log.TailStart(ctx, keptKinds, uint64(n))
		if err != nil {
			if ctx.Err() == nil {
				logger.Error("portal: the door log and the calls cannot be read from the event stream", "error", err)
			}
			return
		}
		stop := log.Tail(from, keptKinds, func(r store.Record) { h.add(r.Event) }, func(err error) {
			logger.Error("portal: part of the door log and the calls cannot be read from the event stream", "error", err)
		})
		<-ctx.Done()
		stop()
	}()
	return h
}

// Close stops reading.
func (h *History) Close() {
	if h.sub != nil {
		h.sub.Close()
	}
	if h.stop != nil {
		h.stop()
	}
	<-h.done
}

func kept(k events.Kind) bool {
	for _, x := range keptKinds {
		if k == x {
			return true
		}
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
