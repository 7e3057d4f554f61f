package store_test

import (
	"context"
	"log/slog"
	"strconv"
	"syscall"
	"testing"
	"time"

	"switchboard/runtime/events"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// BenchmarkAppend stores call events one by one, as the site's recorder
// does; cpu-ns/op is the process's CPU (the embedded server's included).
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	l, err := storetest.Shared(b).EventLog(ctx, storetest.Site(b), storetest.Limits)
	if err != nil {
		b.Fatal(err)
	}
	e := events.Event{Time: time.Now(), Kind: events.LegRinging, Call: "3f1c0a9e-7c1e-4f0a-9a55-0b6c0d1e2f30", Leg: "app.mary",
		Account: "device.front-gate", From: "device.front-gate", To: "101", Target: "residence.apt-1a", Source: "192.0.2.10:5060"}
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := l.Append(ctx, e, 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkAppendAsync is BenchmarkAppend sent without waiting, the
// answers awaited once every 256.
func BenchmarkAppendAsync(b *testing.B) {
	ctx := context.Background()
	l, err := storetest.Shared(b).EventLog(ctx, storetest.Site(b), storetest.Limits)
	if err != nil {
		b.Fatal(err)
	}
	e := events.Event{Time: time.Now(), Kind: events.LegRinging, Call: "3f1c0a9e-7c1e-4f0a-9a55-0b6c0d1e2f30", Leg: "app.mary",
		Account: "device.front-gate", From: "device.front-gate", To: "101", Target: "residence.apt-1a", Source: "192.0.2.10:5060"}
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		if err := l.AppendAsync(e, 0); err != nil {
			b.Fatal(err)
		}
		if i++; i%256 == 0 {
			if _, err := l.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if _, err := l.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDurability weighs fsyncing every write (SyncAlways) against
// JetStream's interval (the default, store.Open's choice) on a store on
// disk: a deposit (a 30 s PCMU message, 240 kB, and its metadata) and a
// call event. Run both side by side, alternated:
//
//	go test -run '^$' -bench Durability -count 4 ./runtime/store
func BenchmarkDurability(b *testing.B) {
	ctx := context.Background()
	msg := make([]byte, 30*8000)
	meta := []byte(`{"id":1,"box":"mary","folder":"new","duration_ms":30000,"codec":"PCMU"}`)
	e := events.Event{Time: time.Now(), Kind: events.LegRinging, Call: "3f1c0a9e-7c1e-4f0a-9a55-0b6c0d1e2f30", Leg: "app.mary",
		Account: "device.front-gate", From: "device.front-gate", To: "101", Target: "residence.apt-1a", Source: "192.0.2.10:5060"}
	for _, mode := range []struct {
		name string
		opts func(store.Options) store.Options
	}{
		{"interval", func(o store.Options) store.Options { return o }},
		{"always", store.WithSyncAlways},
	} {
		open := func(b *testing.B) *store.Store {
			s, err := store.Open(mode.opts(store.Options{Dir: b.TempDir(), Logger: slog.New(slog.DiscardHandler)}))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(s.Close)
			return s
		}
		b.Run(mode.name+"/deposit", func(b *testing.B) {
			s := open(b)
			objs, err := s.Objects(ctx, "voicemail", "bench")
			if err != nil {
				b.Fatal(err)
			}
			kv, err := s.KV(ctx, "mailboxes", "bench")
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(msg)))
			for b.Loop() {
				if err := kv.Put(ctx, "mary/msg-000001.json", meta, 0); err != nil {
					b.Fatal(err)
				}
				if err := objs.Put(ctx, "mary/msg-000001.wav", msg); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(mode.name+"/event", func(b *testing.B) {
			l, err := open(b).EventLog(ctx, "bench", store.Limits{})
			if err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if _, err := l.Append(ctx, e, 0); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPutAsync stores registrations as the registrar's writer does:
// each a new key with a time to live, sent without waiting, the answers
// awaited once every 256.
func BenchmarkPutAsync(b *testing.B) {
	ctx := context.Background()
	kv, err := storetest.Shared(b).KV(ctx, "registrations", storetest.Site(b))
	if err != nil {
		b.Fatal(err)
	}
	v := []byte(`{"contact":"<sip:app.u0000001@192.168.0.1:5060;transport=udp>;+sip.instance=\"<urn:uuid:00000001-0000-1000-8000-00155d000001>\"","call_id":"00000001-7c1e-4f0a-9a55-0b6c0d1e2f30","cseq":2,"expires":"2026-12-06T07:20:00Z","source":"203.0.0.1:1025","transport":"UDP","user_agent":"Yealink SIP-T54W 96.86.0.70"}`)
	cpu0 := cpuTime()
	i := 0
	for b.Loop() {
		if err := kv.PutAsync("app.u"+strconv.Itoa(i)+"\x00instance <urn:uuid:00000001-0000-1000-8000-00155d000001>", v, 605*time.Second); err != nil {
			b.Fatal(err)
		}
		if i++; i%256 == 0 {
			if err := kv.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := kv.Flush(ctx); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// BenchmarkKVRevision reads a key's value and revision, as voicemail's
// rewrite, sweep and completion do before a conditional write: on a
// single node (a direct get, its server the only replica), and in a
// cluster through a node that does not lead the bucket (a message get
// asked of the leader, over a route).
func BenchmarkKVRevision(b *testing.B) {
	ctx := context.Background()
	meta := []byte(`{"id":7,"box":"mary","folder":"new","duration_ms":30000,"codec":"PCMU"}`)
	run := func(b *testing.B, w, r *store.KV) {
		if err := w.Put(ctx, "mary/msg-000007.json", meta, 0); err != nil {
			b.Fatal(err)
		}
		cpu0 := cpuTime()
		for b.Loop() {
			if _, _, _, ok, err := r.Revision(ctx, "mary/msg-000007.json"); err != nil || !ok {
				b.Fatalf("Revision: %v, %v", ok, err)
			}
		}
		b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
	}
	b.Run("single", func(b *testing.B) {
		kv, err := storetest.Shared(b).KV(ctx, "voicemail", storetest.Site(b))
		if err != nil {
			b.Fatal(err)
		}
		run(b, kv, kv)
	})
	b.Run("cluster", func(b *testing.B) {
		nodes := storetest.Cluster(b, 3)
		w, err := nodes.Stores[0].KV(ctx, "voicemail", "bench")
		if err != nil {
			b.Fatal(err)
		}
		r, err := nodes.Stores[2].KV(ctx, "voicemail", "bench")
		if err != nil {
			b.Fatal(err)
		}
		// Node 1 leads, so node 3's read is a follower's.
		leadOn(b, w, "node1")
		run(b, w, r)
	})
}
