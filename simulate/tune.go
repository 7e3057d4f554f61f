package simulate

import (
	"runtime/debug"
	"sync"

	"switchboard/runtime/sipstack"
)

// TuneProcess adjusts process-wide settings for a process whose whole job
// is a simulation run (switchboard test, the benchmarks); a library must
// not call it on a server's behalf. sipgo's settings are package
// sipstack's (TuneSimulation); a simulation also allocates briskly and
// briefly, which a lazier collector suits, and starts a goroutine for
// every message, which deeper first stacks suit (see stackBallast).
func TuneProcess(transport string) {
	sipstack.TuneSimulation(transport == TransportMemory)
	debug.SetGCPercent(400)
	setStackBallast(stackBallastGoroutines)
}

// sipgo hands every message it reads to a goroutine of its own, and the
// call core's handlers run on it; that goroutine's stack grows from the
// runtime's starting size, 2 KiB, to 8–16 KiB, copied at each doubling:
// in the 6 000-user suite the copying (runtime.newstack, copystack) was
// 13 % of the CPU time. The runtime starts goroutines with the average
// stack in use at the last collection (adaptive stack start, on by
// default), an average that the idle goroutines of a simulation keep at
// the minimum. Parking goroutines whose stacks hold 12 KiB moves it: the
// message goroutines then start big enough, and their stacks are reused
// whole when they end. They cost their stacks, 48 MiB, and a few
// milliseconds of stack scanning per collection; BenchmarkSimulateGenerated
// measures the run with and without them.
const (
	stackBallastGoroutines = 3000
	stackBallastBytes      = 12 << 10
)

var ballast struct {
	mu      sync.Mutex
	release chan struct{} // closed to end the current goroutines
	n       int
}

// setStackBallast parks n goroutines with stackBallastBytes of stack in
// use (0: ends them).
func setStackBallast(n int) {
	ballast.mu.Lock()
	defer ballast.mu.Unlock()
	if n == ballast.n {
		return
	}
	if ballast.release != nil {
		close(ballast.release)
		ballast.release = nil
	}
	ballast.n = n
	if n == 0 {
		return
	}
	release := make(chan struct{})
	ballast.release = release
	for range n {
		go holdStack(stackBallastBytes/stackFrameBytes, release)
	}
}

// stackFrameBytes is about what one frame of holdStack takes.
const stackFrameBytes = 128

// holdStack recurses depth frames deep, then waits for release.
//
//go:noinline
func holdStack(depth int, release <-chan struct{}) byte {
	var pad [96]byte // the frame's weight
	if depth <= 0 {
		<-release
		return 0
	}
	pad[depth%len(pad)] = byte(depth)
	return holdStack(depth-1, release) + pad[1]
}
