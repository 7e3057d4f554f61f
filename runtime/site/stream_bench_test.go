package site

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/b2bua"
	"switchboard/runtime/events"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// BenchmarkEventReaders measures the CPU per event of a site's event
// stream with its readers: the recorder storing events in JetStream, and
// the admin journal and the portal's door log and call history reading
// them. One op is one event of a door call's mix, published on the bus.
//
//   - "recorder": the stream without readers (one empty tail only says
//     when the last event is stored): what the readers add is the others
//     less this.
//   - "follow": the journal and a door log reading the stream back, as
//     both did before issue 20 point 2 (a consumer each, JSON decoded).
//   - "tail": the same readers taking the stored events from memory
//     (store.EventLog.Tail), as they do now.
//   - "site": a site with a portal and a journal, as serve -http -admin
//     runs (it reads as "tail" does).
//
// cpu-ns/op is the process's CPU time (every goroutine's, the embedded
// JetStream server's included) per event; events are published in
// bursts the recorder's subscription holds, and a burst is waited for
// before the next, so none is lost.
func BenchmarkEventReaders(b *testing.B) {
	for _, mode := range []string{"recorder", "follow", "tail", "site"} {
		b.Run(mode, func(b *testing.B) { benchReaders(b, mode) })
	}
}

var benchSites atomic.Int64

// doorCall is the events of a door call, roughly as the server publishes
// them: the call, its legs, the door opened, the end.
var doorCall = []events.Event{
	{Kind: events.CallStarted, From: "device.gate", To: "101", Target: "residence.r101"},
	{Kind: events.LegRinging, Leg: "user.mary"},
	{Kind: events.LegRinging, Leg: "app.mary"},
	{Kind: events.LegAnswered, Leg: "user.mary"},
	{Kind: events.LegCancelled, Leg: "app.mary", Cause: "answered elsewhere"},
	{Kind: events.DTMF, Digits: "#"},
	{Kind: events.DoorOpened, Device: "gate", Relay: "door", Digits: "#"},
	{Kind: events.CallEnded, Cause: "bye"},
}

// doorKinds are the kinds the portal's history keeps (portal.keptKinds).
var doorKinds = []events.Kind{events.DoorOpened, events.DoorRefused, events.CallStarted, events.CallEnded, events.LegAnswered, events.Fallback}

func benchReaders(b *testing.B, mode string) {
	bus := events.NewBus(nil)
	domain := fmt.Sprintf("readers%d.example", benchSites.Add(1))
	o := Options{Services: &b2bua.Services{}, Logger: quiet, Events: bus, Store: storetest.Shared(b), Headless: true}
	if mode == "site" {
		o.AdminToken, o.DataDir, o.Headless = testAdminToken, b.TempDir(), false
	}
	cfg := Config{Program: &ir.Program{Site: ir.Site{Name: "readers", Domain: domain}}, Secrets: passwordMap{}}
	s, err := New(cfg, o)
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	log := s.eventLog()
	defer func() { _ = log.Delete(context.Background()) }()

	// j says when the last event is in: the site's journal, or one of the
	// benchmark's own.
	j := s.journal
	if j == nil {
		j = newJournalState(func(string) bool { return false })
	}
	var door struct {
		sync.Mutex
		ring []events.Event
		next int
	}
	door.ring = make([]events.Event, 2000)
	doorAdd := func(r store.Record) {
		door.Lock()
		door.ring[door.next] = r.Event
		door.next = (door.next + 1) % len(door.ring)
		door.Unlock()
	}
	switch mode {
	case "recorder":
		defer log.Tail(1, nil, func(r store.Record) {
			j.mu.Lock()
			j.last = r.Seq
			close(j.wake)
			j.wake = make(chan struct{})
			j.mu.Unlock()
		}, nil)()
	case "follow":
		stop, err := log.Follow(context.Background(), 1, nil, j.add)
		if err != nil {
			b.Fatal(err)
		}
		defer stop()
		if stop, err = log.Follow(context.Background(), 1, doorKinds, doorAdd); err != nil {
			b.Fatal(err)
		}
		defer stop()
	case "tail":
		defer log.Tail(1, nil, j.add, nil)()
		defer log.Tail(1, doorKinds, doorAdd, nil)()
	}

	const burst = 1024 // well within the recorder's subscription (journalSub)
	waitFor := func(n uint64) {
		timeout := time.After(30 * time.Second)
		for {
			j.mu.Lock()
			last, wake := j.last, j.wake
			j.mu.Unlock()
			if last >= n {
				return
			}
			select {
			case <-wake:
			case <-timeout:
				b.Fatalf("%d events of %d stored and read", last, n)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	for i := 0; i < b.N; i++ {
		e := doorCall[i%len(doorCall)]
		e.Call = fmt.Sprint("c", i/len(doorCall))
		bus.Publish(e)
		if (i+1)%burst == 0 || i == b.N-1 {
			waitFor(uint64(i + 1))
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the process's CPU time so far, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
