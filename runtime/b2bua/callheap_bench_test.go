package b2bua_test

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/clock"
	"switchboard/runtime/events"
	"switchboard/runtime/sipstack"
	"switchboard/runtime/site"
)

// BenchmarkDoorCallRetained reports the live heap each finished door call
// leaves behind while its transactions are remembered (B/call), over
// loopback with serve's settings (sipstack.TuneServe: a finished
// transaction is kept 5 s, Timers D, I, J, K, L and M), and the CPU time
// of the process per call. A call is e2eSite's: the gate rings flat 1A
// (the monitor, mary and tom at once), mary answers, the other two are
// cancelled, the gate hangs up.
//
// The simulated devices run in this process, so both figures count their
// side of each call too (about half the transactions: issue 19 measured
// about 40 KB a call in serve alone at 400 calls/s). The loop must end
// within the retention for B/call to hold every call's transactions:
// b.Loop runs this function once, for the default -benchtime of 1 s.
// What a call leaves is sipgo's finished transactions (each its parsed
// request, its last response and its timers), not the call's own state:
// that is freed when they are (a weak pointer to it, December 2026).
func BenchmarkDoorCallRetained(b *testing.B) {
	sipstack.TuneServe(nil)
	h := startSite(b, e2eSite, func(o *site.Options) { o.Clock = clock.Real })
	gate := h.doorAnsweredAtOnce()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	calls := 0
	place := func() {
		call, err := gate.Dial(ctx, "1A")
		if err != nil {
			b.Fatal(err)
		}
		calls++
		h.waitCount(events.LegAnswered, calls)
		if err := call.Hangup(ctx); err != nil {
			b.Fatal(err)
		}
		h.waitCount(events.CallEnded, calls)
	}
	// The first call's one-off allocations (pools, caches) stay out of
	// the figure. Its transactions stay in both measures: the loop must
	// end within the retention anyway (logged below), and then they are
	// still remembered at the second, so the difference is the loop's.
	place()
	warm := time.Now()
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cpu0 := cpuTime(b)
	n := 0
	for b.Loop() {
		place()
		n++
	}
	cpu := cpuTime(b) - cpu0
	if time.Since(warm) > sip.Timer_L {
		b.Logf("the loop outlasted the retention (%v): B/call undercounts", sip.Timer_L)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(n), "B/call")
	b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/call")
}

// cpuTime is the CPU time of the process so far, user and system.
func cpuTime(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// waitCount waits until n events of kind have been seen.
func (h *harness) waitCount(kind events.Kind, n int) {
	h.t.Helper()
	deadline := time.NewTimer(5 * time.Second)
	defer deadline.Stop()
	for {
		h.mu.Lock()
		seen := 0
		for _, e := range h.seen {
			if e.Kind == kind {
				seen++
			}
		}
		more := h.more
		h.mu.Unlock()
		if seen >= n {
			return
		}
		select {
		case <-more:
		case <-deadline.C:
			h.t.Fatalf("%d %s events, want %d", seen, kind, n)
		}
	}
}
