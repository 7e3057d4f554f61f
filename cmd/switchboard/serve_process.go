package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/pprof"
	"net/netip"
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
// next burst. Every idleCheck, when the heap allocated less than an eighth
// of its live size since the last look (no traffic to speak of) and holds
// more than an eighth over it (at least 8 MiB) in garbage and free pages,
// that memory goes back: one forced collection (tens of milliseconds for
// a large site) and the release, once per quiet period. Under load
// nothing changes, so throughput and latency do not pay for it. (An
// eighth, not more: limitBursts keeps a burst's heap within less than
// twice its live size, and a quarter then kept what the burst's last
// collection left, the answers remembered for seconds among it, until
// the next one, two minutes later.)
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
	var last uint64
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		metrics.Read(samples)
		allocs, live := samples[0].Value.Uint64(), samples[1].Value.Uint64()
		held := samples[2].Value.Uint64() + samples[3].Value.Uint64() + samples[4].Value.Uint64()
		quiet := allocs-last < live/8
		last = allocs
		if quiet && held > live+max(live/8, 8<<20) {
			debug.FreeOSMemory()
		}
	}
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
