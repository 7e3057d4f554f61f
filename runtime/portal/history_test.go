package portal

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/events"
	"switchboard/runtime/store"
)

// The door log and the calls the portal shows come from the event stream:
// after a restart of the store on the same directory they are still
// there, newest first, the last n of them however many other events came
// between, and without the digits keyed.
func TestHistorySurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	s, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	log, err := s.EventLog(ctx, "harbour", store.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	appendAll := func(es ...events.Event) {
		t.Helper()
		for _, e := range es {
			if _, err := log.Append(ctx, e, 0); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := range 5 {
		appendAll(
			events.Event{Time: at.Add(time.Duration(i) * time.Minute), Kind: events.DoorOpened, Device: "gate", Relay: "door", Digits: "#", Call: fmt.Sprint("c", i)},
			events.Event{Time: at, Kind: events.Registered, Account: "user.mary"},
			events.Event{Time: at, Kind: events.Registered, Account: "user.bob"},
		)
	}
	s.Close()

	s, err = store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if log, err = s.EventLog(ctx, "harbour", store.Limits{}); err != nil {
		t.Fatal(err)
	}
	h := NewHistoryFrom(log, 3, slog.New(slog.DiscardHandler))
	defer h.Close()
	doors := func() []string {
		var out []string
		for _, e := range h.Events(func(e events.Event) bool { return e.Kind == events.DoorOpened }) {
			out = append(out, e.Call+" "+e.Digits)
		}
		return out
	}
	// Follow delivers the stored events asynchronously: wait for the
	// newest.
	for {
		changed := h.Changed()
		if len(doors()) == 3 {
			break
		}
		<-changed
	}
	if d := cmp.Diff([]string{"c4 ", "c3 ", "c2 "}, doors()); d != "" {
		t.Errorf("door log after restart (-want +got):\n%s", d)
	}
	// And what comes next is added.
	changed := h.Changed()
	if _, err := log.Append(ctx, events.Event{Kind: events.DoorRefused, Device: "gate", Call: "c5"}, 0); err != nil {
		t.Fatal(err)
	}
	<-changed
	if got := h.Events(func(events.Event) bool { return true }); len(got) != 3 || got[0].Call != "c5" {
		t.Errorf("after a new event: %+v", got)
	}
}

// Events stored while the history reads the stream at start (the last n
// kept ones) are shown once each, in order, whether it read them from the
// stream or was handed them from memory.
func TestHistorySeam(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	log, err := s.EventLog(ctx, "seam", store.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	// Two of every three events are kept.
	event := func(i int) events.Event {
		kinds := []events.Kind{events.DoorOpened, events.Registered, events.CallStarted}
		return events.Event{Kind: kinds[i%3], Call: fmt.Sprint("c", i), Digits: "1234"}
	}
	put := func(from, to int) {
		for i := from; i < to; i++ {
			if err := log.AppendAsync(event(i), 0); err != nil {
				t.Error(err)
				return
			}
			if (i+1)%64 == 0 || i == to-1 {
				if failed, err := log.Flush(ctx); failed != 0 || err != nil {
					t.Errorf("Flush: %d failed, %v", failed, err)
					return
				}
			}
		}
	}
	const before, during, n = 3000, 3000, 2000
	put(0, before)
	stored := make(chan struct{})
	go func() {
		defer close(stored)
		put(before, before+during)
	}()
	h := NewHistoryFrom(log, n, slog.New(slog.DiscardHandler))
	defer h.Close()
	<-stored
	calls := func() []string {
		var out []string
		for _, e := range h.Events(func(events.Event) bool { return true }) {
			out = append(out, e.Call+" "+e.Digits)
		}
		return out
	}
	var want []string
	for i := before + during - 1; len(want) < n; i-- {
		if i%3 != 1 {
			want = append(want, fmt.Sprint("c", i, " "))
		}
	}
	for {
		changed := h.Changed()
		if got := calls(); len(got) > 0 && got[0] == want[0] {
			break
		}
		<-changed
	}
	if d := cmp.Diff(want, calls()); d != "" {
		t.Errorf("the history (-want +got):\n%s", d)
	}
}
