package registrar_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"switchboard/runtime/registrar"
)

// discard is a bucket that keeps nothing: what Persistent itself holds is
// then all that a binding adds to its Memory.
type discard struct{}

func (discard) Put(context.Context, string, []byte, time.Duration) error { return nil }
func (discard) Delete(context.Context, string) error                     { return nil }
func (discard) All(context.Context) (map[string][]byte, error)           { return nil, nil }

// A Persistent keeps what it wrote of a binding within the binding: its
// bindings take no more memory than a Memory's (a map of what was written,
// by the key's hash, took some 80 bytes a binding more).
func TestPersistentMemoryPerBinding(t *testing.T) {
	const n = 20000
	bindings := make([]registrar.Binding, n)
	expires := epoch.Add(time.Hour)
	for i := range bindings {
		account := fmt.Sprintf("app.u%d", i)
		port := 20000 + i
		bindings[i] = registrar.Binding{Account: account, Key: fmt.Sprintf("sip:%s@127.0.0.1:%d", account, port),
			Contact: fmt.Sprintf("<sip:%s@127.0.0.1:%d>", account, port), CallID: fmt.Sprintf("%d@127.0.0.1", i), CSeq: 2,
			Expires: expires, Source: fmt.Sprintf("127.0.0.1:%d", port), Transport: "UDP", UserAgent: "SIPp", Since: epoch}
	}
	// The live heap a store of the bindings takes, per binding: put
	// returns the store, kept alive until measured.
	perBinding := func(put func() any) float64 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		s := put()
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(s)
		runtime.KeepAlive(bindings) // the strings the stores were given: not theirs
		return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / n
	}
	// The heap is the process's: anything another test left running
	// that frees memory during a measurement skews it (seen once under
	// load: "-176 B a binding in a Memory"). A Persistent that does take
	// more takes it in every attempt; noise rarely lasts three.
	var kept, mem float64
	for attempt := 1; attempt <= 3; attempt++ {
		mem = perBinding(func() any {
			m := registrar.NewMemory()
			for _, b := range bindings {
				m.Put(b)
			}
			return m
		})
		kept = perBinding(func() any {
			p, err := registrar.NewPersistent(discard{}, func() time.Time { return epoch }, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(p.Close)
			for _, b := range bindings {
				p.Put(b)
			}
			p.Sync()
			return p
		})
		t.Logf("attempt %d: %.0f B a binding in a Persistent, %.0f in a Memory", attempt, kept, mem)
		if mem > 0 && kept <= mem+16 {
			return
		}
	}
	t.Errorf("a binding takes %.0f bytes in a Persistent, %.0f in a Memory: more than 16 bytes more, in three attempts", kept, mem)
}
