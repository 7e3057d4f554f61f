package store_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/events"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }

// The event stream keeps events across a restart of the store, numbered by
// sequence, under the same epoch, without keyed digits.
func TestEventLogSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := []events.Event{
		{Time: at, Kind: events.CallStarted, Call: "c1", From: "device.gate", To: "101"},
		{Time: at, Kind: events.DTMF, Call: "c1", Digits: "4711"},
		{Time: at, Kind: events.DoorOpened, Call: "c1", Device: "gate", Relay: "door", Digits: "#"},
		{Time: at, Kind: events.DTMF, Call: "r1", Target: "user.mary", Digits: "5"},
	}
	s, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	l, err := s.EventLog(ctx, "harbour", store.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	epoch := l.Epoch()
	for i, e := range in {
		lost := uint64(0)
		if i == 2 {
			lost = 3
		}
		if seq, err := l.Append(ctx, e, lost); err != nil || seq != uint64(i+1) {
			t.Fatalf("Append %d: %d, %v", i, seq, err)
		}
	}
	s.Close()

	s, err = store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err = s.EventLog(ctx, "harbour", store.Limits{MaxAge: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if l.Epoch() != epoch {
		t.Errorf("epoch after restart %q, want %q", l.Epoch(), epoch)
	}
	got, err := l.Read(ctx, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Record{
		{Seq: 1, Event: in[0]},
		{Seq: 2, Event: events.Event{Time: at, Kind: events.DTMF, Call: "c1"}},
		{Seq: 3, Lost: 3, Event: events.Event{Time: at, Kind: events.DoorOpened, Call: "c1", Device: "gate", Relay: "door"}},
		{Seq: 4, Event: in[3]},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("read after restart (-want +got):\n%s", d)
	}
	if _, err := os.Stat(dir + "/jetstream"); err != nil {
		t.Errorf("no JetStream directory under the data directory: %v", err)
	}

	// Follow from an ID, with a kind filter, sees what is there and what
	// comes.
	seen := make(chan store.Record, 10)
	stop, err := l.Follow(ctx, 2, []events.Kind{events.DoorOpened, events.CallEnded}, func(r store.Record) { seen <- r })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if r := <-seen; r.Seq != 3 {
		t.Errorf("first followed %d, want 3", r.Seq)
	}
	if _, err := l.Append(ctx, events.Event{Kind: events.CallEnded, Call: "c1"}, 0); err != nil {
		t.Fatal(err)
	}
	if r := <-seen; r.Seq != 5 || r.Kind != events.CallEnded {
		t.Errorf("then %d %s, want 5 call_ended", r.Seq, r.Kind)
	}
}

// TailStart finds where the last n events of some kinds begin.
func TestTailStart(t *testing.T) {
	ctx := context.Background()
	l, err := storetest.Shared(t).EventLog(ctx, storetest.Site(t), storetest.Limits)
	if err != nil {
		t.Fatal(err)
	}
	// 1..30: every third a door opening (3, 6, …, 30), the rest registrations.
	for i := 1; i <= 30; i++ {
		k := events.Registered
		if i%3 == 0 {
			k = events.DoorOpened
		}
		if _, err := l.Append(ctx, events.Event{Kind: k}, 0); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		kinds []events.Kind
		n     uint64
		want  uint64
	}{
		{[]events.Kind{events.DoorOpened}, 2, 27}, // 27 and 30
		{[]events.Kind{events.DoorOpened}, 100, 1},
		{nil, 5, 26},
	} {
		got, err := l.TailStart(ctx, tc.kinds, tc.n)
		if err != nil {
			t.Fatal(err)
		}
		if got != tc.want {
			t.Errorf("TailStart(%v, %d) = %d, want %d", tc.kinds, tc.n, got, tc.want)
		}
	}
}

// A key put with a time to live is gone after it; without one it stays;
// any string is a key.
func TestKVTTL(t *testing.T) {
	ctx := context.Background()
	kv, err := storetest.Shared(t).KV(ctx, "bindings", storetest.Site(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Put(ctx, "user.mary\x00instance <urn:uuid:1>", []byte("a"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := kv.Put(ctx, "user.bob", []byte("b"), 0); err != nil {
		t.Fatal(err)
	}
	all, err := kv.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(map[string][]byte{"user.mary\x00instance <urn:uuid:1>": []byte("a"), "user.bob": []byte("b")}, all); d != "" {
		t.Errorf("All (-want +got):\n%s", d)
	}
	wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := kv.WaitGone(wctx, "user.mary\x00instance <urn:uuid:1>"); err != nil {
		t.Fatalf("a key put with a second to live: %v", err)
	}
	if _, ok, err := kv.Get(ctx, "user.mary\x00instance <urn:uuid:1>"); ok || err != nil {
		t.Fatalf("the key the watcher saw go is still there: %v, %v", ok, err)
	}
	if err := kv.Delete(ctx, "user.bob"); err != nil {
		t.Fatal(err)
	}
	if all, err = kv.All(ctx); err != nil || len(all) != 0 {
		t.Errorf("after expiry and delete: %v, %v", all, err)
	}
}

// A second store on the same directory is refused while the first is
// open, and opens once it is closed.
func TestOneStorePerDirectory(t *testing.T) {
	dir := t.TempDir()
	s, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if s2, err := store.Open(store.Options{Dir: dir}); err == nil {
		s2.Close()
		t.Fatal("a second store opened the same directory")
	} else if !strings.Contains(err.Error(), "in use by another process") {
		t.Errorf("the second store's error: %v", err)
	}
	s.Close()
	s, err = store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatalf("after the first closed: %v", err)
	}
	s.Close()
}

// A memory store keeps events and keys, and follows the stream, with
// the directory JetStream needed to start gone.
func TestMemoryStore(t *testing.T) {
	s, err := store.Open(store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	l, err := s.EventLog(ctx, "mem", store.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	seen := make(chan store.Record, 1)
	stop, err := l.Follow(ctx, 1, nil, func(r store.Record) { seen <- r })
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if _, err := l.Append(ctx, events.Event{Kind: events.CallStarted, Call: "c1"}, 0); err != nil {
		t.Fatal(err)
	}
	if r := <-seen; r.Seq != 1 || r.Call != "c1" {
		t.Errorf("followed %+v", r)
	}
	kv, err := s.KV(ctx, "registrations", "mem")
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Put(ctx, "a", []byte("b"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := kv.Get(ctx, "a"); string(v) != "b" || !ok || err != nil {
		t.Errorf("Get: %q %v %v", v, ok, err)
	}
}

// AppendAsync's events are stored in order, with their lost counts, once
// Flush returns; a Flush whose events the store could not take counts
// every one of them as not stored.
func TestEventLogAppendAsync(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	l, err := s.EventLog(ctx, "quay", store.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	in := []events.Event{
		{Time: at, Kind: events.CallStarted, Call: "c1"},
		{Time: at, Kind: events.LegAnswered, Call: "c1", Leg: "a"},
		{Time: at, Kind: events.CallEnded, Call: "c1"},
	}
	for batch := range 2 {
		for i, e := range in {
			if err := l.AppendAsync(e, uint64(i)); err != nil {
				t.Fatalf("batch %d: AppendAsync %d: %v", batch, i, err)
			}
		}
		if failed, err := l.Flush(ctx); failed != 0 || err != nil {
			t.Fatalf("batch %d: Flush: %d failed, %v", batch, failed, err)
		}
	}
	if failed, err := l.Flush(ctx); failed != 0 || err != nil {
		t.Fatalf("Flush of nothing: %d failed, %v", failed, err)
	}
	got, err := l.Read(ctx, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	var want []store.Record
	for seq := uint64(1); seq <= 6; seq++ {
		want = append(want, store.Record{Seq: seq, Lost: (seq - 1) % 3, Event: in[(seq-1)%3]})
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("stored (-want +got):\n%s", d)
	}

	if err := l.Delete(ctx); err != nil {
		t.Fatal(err)
	}
	for i, e := range in[:2] {
		if err := l.AppendAsync(e, 0); err != nil {
			t.Fatalf("AppendAsync %d after Delete: %v", i, err)
		}
	}
	if failed, err := l.Flush(ctx); failed != 2 || err == nil {
		t.Errorf("Flush after Delete: %d failed, %v; want 2 and an error", failed, err)
	}
}
