package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// idleCheck is how often releaseWhenIdle looks at the heap.
const idleCheck = 10 * time.Second

// releaseWhenIdle hands free heap memory back to the operating system: at
// once, and then whenever the server has gone quiet, until ctx ends. It
// starts limitBursts too, which keeps a burst's peak down while it lasts.
//
// At once, because loading a large site leaves several times the
// program's size behind (a 30 000 user site: 160 MB of heap for 45 MB
// kept), which Go would otherwise return only over the next minutes.
//
// Go lets the heap grow to twice its live data between collections
// (GOGC=100), and afterwards keeps what it freed for reuse: its scavenger
// returns only memory beyond a tenth over the next goal. After a burst —
// a building's phones re-registering after a power cut, say — the server
// would hold twice the memory its registrations and site need until the
// next burst. Every idleCheck, when the server is quiet, idleRelease
// decides whether it hands back its garbage, free pages and pooled
// buffers (release): once per quiet period, and again while it holds
// much beyond its live heap. Under load nothing changes, so throughput
// and latency do not pay for it.
func releaseWhenIdle(ctx context.Context) {
	samples := []metrics.Sample{
		{Name: "/gc/heap/allocs:bytes"},
		{Name: "/gc/heap/live:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"}, // live and not yet swept
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/heap/free:bytes"},
	}
	debug.FreeOSMemory()
	go limitBursts(ctx) // from what is live now
	t := time.NewTicker(idleCheck)
	defer t.Stop()
	r := idleRelease{busy: time.Now()}
	for {
		var now time.Time
		select {
		case <-ctx.Done():
			return
		case now = <-t.C:
		}
		metrics.Read(samples)
		held := samples[2].Value.Uint64() + samples[3].Value.Uint64() + samples[4].Value.Uint64()
		if r.decide(now, samples[0].Value.Uint64(), samples[1].Value.Uint64(), held) {
			release()
		}
	}
}

// poolSweepAfter is how long after the last busy idleCheck the server
// drains its pools even when it holds little beyond its live heap: longer
// than the embedded JetStream file store keeps a message block's cache
// after the block's last read or write (10 s), so that every cache the
// traffic left has gone into its pool by then.
const poolSweepAfter = 2 * idleCheck

// idleRelease decides, at each idleCheck, whether the server hands back
// memory.
type idleRelease struct {
	last  uint64    // the heap's allocations at the last check
	busy  time.Time // the last check that found the server busy (or the start)
	swept bool      // released since poolSweepAfter after busy
}

// decide reports whether to release at now, from the heap's allocations
// so far, its live size at the last collection and what it holds (live,
// garbage not yet swept and free pages). The server is quiet when it
// allocated less than an eighth of its live heap since the last check
// (no traffic to speak of). Quiet, it hands back what it holds beyond an
// eighth over the live heap (at least 8 MiB). (An eighth, not more:
// limitBursts keeps a burst's heap within less than twice its live size,
// and a quarter then kept what the burst's last collection left, the
// answers remembered for seconds among it, until the next one, two
// minutes later.) And once per quiet period, poolSweepAfter after it
// began, it releases whatever it holds: what the pools keep counts as
// live until they let go of it (release).
func (r *idleRelease) decide(now time.Time, allocs, live, held uint64) bool {
	quiet := allocs-r.last < live/8
	r.last = allocs
	if !quiet {
		r.busy, r.swept = now, false
		return false
	}
	sweep := !r.swept && now.Sub(r.busy) >= poolSweepAfter
	if sweep || held > live+max(live/8, 8<<20) {
		r.swept = r.swept || now.Sub(r.busy) >= poolSweepAfter
		return true
	}
	return false
}

// release hands back the heap's garbage and free pages, and what the
// pools hold: two forced collections (tens of milliseconds each for a
// large site), then the free pages go back. A sync.Pool keeps what it
// held through one collection (its victim cache), and the embedded
// JetStream file store pools its message blocks' cache buffers, 256 KiB
// to 8 MiB each (a registrations bucket's 4 MiB, an event stream's 8
// MiB): after a burst of 30 000 registrations ~13 MB, 440 bytes a
// registration, which one collection keeps and which Go's own collections,
// two minutes apart on an idle server, would hand back four minutes later.
func release() {
	runtime.GC()
	debug.FreeOSMemory()
}

// servePprof serves Go's profiler (net/http/pprof) on addr, for measuring
// the server under load (bench/sip: PROFILE=addr). It is switched on by
// the environment variable SWITCHBOARD_PPROF and answers on loopback only:
// a profile shows call paths and timings that are nobody else's business.
func servePprof(addr string, stderr io.Writer) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("SWITCHBOARD_PPROF: %v", err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return fmt.Errorf("SWITCHBOARD_PPROF=%s: the profiler listens on a loopback address only", addr)
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("SWITCHBOARD_PPROF: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stderr, "switchboard serve: profiler on http://%s/debug/pprof/\n", l.Addr())
	go func() { _ = hs.Serve(l) }()
	return nil
}
