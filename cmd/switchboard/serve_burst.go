package main

import (
	"context"
	"math"
	"runtime/debug"
	"runtime/metrics"
	"time"

	"switchboard/runtime/sipstack"
)

// A burst of registrations (a building's phones coming back after a power
// cut) grows the live heap quickly: every registration adds its binding,
// and for a few seconds its remembered answer. Go lets the heap grow to
// twice its live data between collections (GOGC=100), and the live data
// is mostly the compiled site, which the burst does not change: with a
// 30 000-user site, memory at the burst's peak was 2.6 times what the
// registrations then kept (issue 19). Collecting more often all the time
// (GOGC=50) keeps the peak lower but costs every call CPU.
//
// limitBursts lowers the GC percentage only during a burst of
// registrations (at least burstRegisters answered within the last second)
// that grows the live heap fast: when it grew by more than a quarter
// within burstWindow, the heap
// may hold the live heap before the growth plus the larger of the
// headroom GOGC gave it then and 7/4 of the growth. The peak then stays
// within about twice what the burst adds for good: the growth includes
// what is kept for seconds only (the remembered answers, some 12 MB at
// the end of 30 000 registrations at 5 000/s, more when the server falls
// behind and requests are retransmitted), with which twice the growth let
// the peak reach 2.08-2.21 times what stays in three of four runs. Steady
// traffic, which does not grow the live heap, runs at the operator's
// GOGC, and so do calls: a rising call rate grows the live heap as fast
// (400 calls/s in bench/sip: by half within 8 s, the calls' transactions
// and media), but for as long as the calls last, and with the policy on
// them the CPU per call rose by a sixth to two thirds. The GOGC is
// restored once the registrations slow down, the growth stops (no new
// highest live heap for burstSettled) or is older than burstWindow. An
// operator's GOMEMLIMIT, or a GOGC as low as burstMinGOGC or off, leaves
// it alone.
//
// Not a memory limit (debug.SetMemoryLimit): when live data outgrows a
// limit, as it does when a burst outruns the server and its queue grows,
// the collector runs back to back (up to half the CPU) and the runtime
// hands pages back and faults them in again; the server falls further
// behind. (Tried: with a limit the burst of bench/sip fell behind once,
// 1 727 registrations/s of 5 000 offered, collections taking 300 ms
// each; the side-by-side run without it kept up.)

// burstWindow is how far back the live heap before a burst is looked
// for: longer than a burst of registrations lasts.
const burstWindow = 30 * time.Second

// burstSettled is how long the live heap stays below its highest before a
// burst is over.
const burstSettled = 2 * time.Second

// burstCheck is how often limitBursts looks for a collection that ended.
const burstCheck = 100 * time.Millisecond

// burstRegisters is the registrations a second that make a burst: a
// site's phones refreshing their registrations come at tens a second,
// all of them after a power cut at thousands.
const burstRegisters = 500

// burstLimit is limitBursts' policy, fed the live heap after each
// collection; no clock, no runtime calls, so that a table test can drive
// it.
type burstLimit struct {
	// samples is the live heap after each collection since the window's
	// start, oldest first; the first may be older: the one in effect then.
	samples []heapSample
	maxLive uint64    // the highest live heap since the last reset
	maxAt   time.Time // when it was seen
}

type heapSample struct {
	at   time.Time
	live uint64
}

// collected records the live heap after a collection that ended at at.
func (b *burstLimit) collected(at time.Time, live uint64) {
	switch {
	case live > b.maxLive:
		b.maxLive, b.maxAt = live, at
	case at.Sub(b.maxAt) >= burstSettled:
		// No longer growing: what is live now is the new base.
		b.samples = b.samples[:0]
		b.maxLive, b.maxAt = live, at
	}
	b.samples = append(b.samples, heapSample{at: at, live: live})
	// Samples before the window go, but for the one in effect at its start.
	n := 0
	for n+1 < len(b.samples) && at.Sub(b.samples[n+1].at) >= burstWindow {
		n++
	}
	b.samples = append(b.samples[:0], b.samples[n:]...)
}

// heapBudget is how big the heap may grow before the next collection,
// with the live heap at live and the operator's GC percentage gogc; 0:
// as big as gogc lets it.
func (b *burstLimit) heapBudget(live uint64, gogc int) uint64 {
	if len(b.samples) == 0 || gogc <= 0 {
		return 0
	}
	base := b.samples[0].live
	for _, s := range b.samples[1:] {
		base = min(base, s.live)
	}
	if live <= base+base/4 {
		return 0
	}
	grown := live - base
	return base + max(base*uint64(gogc)/100, grown*7/4)
}

// burstMinGOGC is the least GC percentage limitBursts sets: however
// fast the live heap grows, the collector runs at most four times as
// often as at GOGC=100, so a burst that outruns the server (its queue,
// and so its live heap, growing) does not also starve it of CPU.
const burstMinGOGC = 25

// limitBursts runs burstLimit on the process's heap until ctx ends,
// through the GC percentage: the heap's goal at the budget, within
// burstMinGOGC and the operator's GOGC.
func limitBursts(ctx context.Context) {
	samples := []metrics.Sample{
		{Name: "/gc/cycles/total:gc-cycles"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/gogc:percent"},
		{Name: "/gc/gomemlimit:bytes"},
	}
	metrics.Read(samples)
	// GOGC=off reads as -1.
	gogc := int(int64(samples[2].Value.Uint64()))
	if samples[3].Value.Uint64() != math.MaxInt64 || gogc <= burstMinGOGC {
		return // the operator's GOMEMLIMIT, or a GOGC of their own that is as low, or off
	}
	var (
		b      burstLimit
		cycles uint64
		last   time.Time // when the last collection was seen
		set    = gogc
		regs   [time.Second / burstCheck]uint64 // RegistersAnswered at each of the last ticks
		tick   int
	)
	defer func() {
		if set != gogc {
			debug.SetGCPercent(gogc)
		}
	}()
	t := time.NewTicker(burstCheck)
	defer t.Stop()
	for {
		metrics.Read(samples)
		live := samples[1].Value.Uint64()
		now := time.Now()
		n := sipstack.RegistersAnswered()
		registering := n-regs[tick%len(regs)] >= burstRegisters && tick >= len(regs)
		regs[tick%len(regs)] = n
		tick++
		if c := samples[0].Value.Uint64(); c != cycles {
			cycles, last = c, now
			b.collected(now, live)
			pct := gogc
			if budget := b.heapBudget(live, gogc); registering && budget > 0 && live > 0 {
				pct = int(min(max((int64(budget)-int64(live))*100/int64(live), burstMinGOGC), int64(gogc)))
			}
			if pct != set {
				debug.SetGCPercent(pct)
				set = pct
			}
		} else if set != gogc && (!registering || now.Sub(last) >= burstSettled) {
			// The registrations slowed down, or no collection for a
			// while: whatever the burst was, it no longer allocates fast,
			// and the next traffic starts at the operator's GOGC.
			debug.SetGCPercent(gogc)
			set = gogc
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
