package b2bua

import (
	"sync"
	"time"
)

// inflight counts the goroutines Close waits for: ringing calls, hang-ups,
// the calls the server answers itself, NOTIFYs. A bare sync.WaitGroup is
// not enough: handlers keep arriving while Close waits, and an Add with the
// counter at zero racing a Wait is a misuse the race detector reports. So
// every Add happens under a lock, before Close starts to wait; work that
// arrives after that runs untracked (its requests then fail on closed
// sockets, which it logs at debug).
type inflight struct {
	mu      sync.Mutex
	waiting bool
	wg      sync.WaitGroup
}

// add counts one more goroutine and reports whether it did; a true answer
// must be matched by one done.
func (f *inflight) add() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.waiting {
		return false
	}
	f.wg.Add(1)
	return true
}

func (f *inflight) done() { f.wg.Done() }

// wait stops counting and waits up to timeout for what was counted; it
// reports whether all of it finished.
func (f *inflight) wait(timeout time.Duration) bool {
	f.mu.Lock()
	f.waiting = true
	f.mu.Unlock()
	done := make(chan struct{})
	go func() { f.wg.Wait(); close(done) }()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}
