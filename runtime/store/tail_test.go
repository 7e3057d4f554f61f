package store_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/events"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// tailEvent is the i-th event (0-based) the tail tests store: at ID i+1.
func tailEvent(i int) events.Event {
	kinds := []events.Kind{events.DoorOpened, events.Registered, events.CallStarted}
	return events.Event{Kind: kinds[i%len(kinds)], Call: fmt.Sprint("c", i), Digits: "1234"}
}

// seen collects what a tail hands out and says when it reached an ID.
type seen struct {
	mu   sync.Mutex
	got  []string // "ID kind call digits"
	last uint64
	at   map[uint64]chan struct{}
}

func newSeen() *seen { return &seen{at: map[uint64]chan struct{}{}} }

func (s *seen) add(r store.Record) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, fmt.Sprint(r.Seq, " ", r.Kind, " ", r.Call, " ", r.Digits))
	s.last = r.Seq
	for id, c := range s.at {
		if id <= r.Seq {
			close(c)
			delete(s.at, id)
		}
	}
}

// wait returns once the tail handed out ID id or a later one.
func (s *seen) wait(t *testing.T, id uint64) {
	t.Helper()
	s.mu.Lock()
	if s.last >= id {
		s.mu.Unlock()
		return
	}
	c := make(chan struct{})
	s.at[id] = c
	s.mu.Unlock()
	select {
	case <-c:
	case <-time.After(30 * time.Second):
		t.Fatalf("the tail never reached ID %d", id)
	}
}

func want(from, to int, kinds ...events.Kind) []string {
	var out []string
	for i := from - 1; i < to; i++ {
		e := tailEvent(i)
		if len(kinds) == 0 || e.Kind == kinds[0] {
			out = append(out, fmt.Sprint(i+1, " ", e.Kind, " ", e.Call, " "))
		}
	}
	return out
}

// A tail started while events are being stored hands out every event
// once, in order, with its stream ID, across the seam between what it
// reads from the stream (stored before it began) and what it is handed
// from memory (stored after), with or without a kind filter, and without
// the digits keyed; one started later from an ID reads only from there.
func TestTailSeam(t *testing.T) {
	ctx := context.Background()
	l, err := storetest.Shared(t).EventLog(ctx, storetest.Site(t), storetest.Limits)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Delete(ctx) })
	const before, during = 3000, 3000
	put := func(from, to, batch int) {
		for i := from; i < to; i++ {
			if err := l.AppendAsync(tailEvent(i), 0); err != nil {
				t.Error(err)
				return
			}
			if (i+1)%batch == 0 || i == to-1 {
				if failed, err := l.Flush(ctx); failed != 0 || err != nil {
					t.Errorf("Flush: %d failed, %v", failed, err)
					return
				}
			}
		}
	}
	put(0, before, 256)

	all, doors := newSeen(), newSeen()
	half := make(chan struct{})
	stored := make(chan struct{})
	go func() {
		defer close(stored)
		put(before, before+during/2, 64)
		close(half)
		put(before+during/2, before+during, 64)
	}()
	stopAll := l.Tail(1, nil, all.add, func(err error) { t.Error(err) })
	defer stopAll()
	<-half
	stopDoors := l.Tail(1, []events.Kind{events.DoorOpened}, doors.add, func(err error) { t.Error(err) })
	defer stopDoors()
	<-stored

	all.wait(t, before+during)
	doors.wait(t, before+during-2) // the last door event: ID 5998
	if d := cmp.Diff(want(1, before+during), all.got); d != "" {
		t.Errorf("every event (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want(1, before+during, events.DoorOpened), doors.got); d != "" {
		t.Errorf("door events (-want +got):\n%s", d)
	}

	late := newSeen()
	stopLate := l.Tail(before+during-1, nil, late.add, nil)
	defer stopLate()
	if _, err := l.Append(ctx, tailEvent(before+during), 0); err != nil {
		t.Fatal(err)
	}
	late.wait(t, before+during+1)
	if d := cmp.Diff(want(before+during-1, before+during+1), late.got); d != "" {
		t.Errorf("from an ID (-want +got):\n%s", d)
	}
}

// A tail that falls far behind (its fn stalled) reads what it missed
// back from the stream; and events another writer stored between two
// batches of this EventLog, whose IDs the answers do not account for,
// are read from the stream too: every event once, in order, either way.
func TestTailBehindAndOtherWriter(t *testing.T) {
	ctx := context.Background()
	site := storetest.Site(t)
	l, err := storetest.Shared(t).EventLog(ctx, site, storetest.Limits)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Delete(ctx) })
	s := newSeen()
	release := make(chan struct{})
	stop := l.Tail(1, nil, func(r store.Record) {
		<-release
		s.add(r)
	}, func(err error) { t.Error(err) })
	defer stop()
	const behind = 20000 // more than a tail's queue holds
	for i := range behind {
		if err := l.AppendAsync(tailEvent(i), 0); err != nil {
			t.Fatal(err)
		}
		if (i+1)%256 == 0 || i == behind-1 {
			if failed, err := l.Flush(ctx); failed != 0 || err != nil {
				t.Fatalf("Flush: %d failed, %v", failed, err)
			}
		}
	}
	close(release)
	s.wait(t, behind)

	other, err := storetest.Shared(t).EventLog(ctx, site, storetest.Limits)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.Append(ctx, tailEvent(behind), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Append(ctx, tailEvent(behind+1), 0); err != nil {
		t.Fatal(err)
	}
	s.wait(t, behind+2)
	if d := cmp.Diff(want(1, behind+2), s.got); d != "" {
		t.Errorf("every event (-want +got):\n%s", d)
	}
}
