package simulate

import (
	"container/heap"
	"sync"
	"time"

	"switchboard/runtime/clock"
)

// virtualClock is the time of one worker's server and devices: it stands
// still until a case advances it, and timers run, earliest first, inside
// Advance, with Now reading the timer's deadline while it runs.
//
// Every case starts at the same instant: between cases the clock is
// rewound to its epoch. A case then sees the same times whichever worker
// runs it and whatever ran before it, and the registrations made when the
// worker started stay valid through any number of cases, as they would
// for a building whose devices refresh them — however many 30 s ring
// timeouts a suite of thousands of cases adds up to.
type virtualClock struct {
	mu     sync.Mutex
	epoch  time.Time
	now    time.Time
	seq    uint64
	timers timerHeap
	// scheduled is signalled by every AfterFunc: what a case waits on
	// while the server paces audio a frame (a timer) at a time.
	scheduled chan struct{}
}

func newVirtualClock(epoch time.Time) *virtualClock {
	return &virtualClock{epoch: epoch, now: epoch, scheduled: make(chan struct{}, 1)}
}

// dueWithin reports whether a timer falls due within d from now.
func (c *virtualClock) dueWithin(d time.Duration) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.timers) > 0 && !c.timers[0].when.After(c.now.Add(d))
}

// Now returns the virtual time.
func (c *virtualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// AfterFunc schedules f at Now()+d; f runs inside the Advance that passes
// it.
func (c *virtualClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	t := &vtimer{c: c, when: c.now.Add(d), seq: c.seq, f: f}
	heap.Push(&c.timers, t)
	select {
	case c.scheduled <- struct{}{}:
	default:
	}
	return t
}

// Advance moves the clock forward by d, running every timer that falls due.
func (c *virtualClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	for len(c.timers) > 0 && !c.timers[0].when.After(end) {
		t := heap.Pop(&c.timers).(*vtimer)
		if t.when.After(c.now) {
			c.now = t.when
		}
		c.mu.Unlock()
		t.f()
		c.mu.Lock()
	}
	c.now = end
	c.mu.Unlock()
}

// Rewind sets the clock back to its epoch. Pending timers keep their
// deadlines. Call it only while nothing runs.
func (c *virtualClock) Rewind() {
	c.mu.Lock()
	c.now = c.epoch
	c.mu.Unlock()
}

type vtimer struct {
	c     *virtualClock
	when  time.Time
	seq   uint64
	f     func()
	index int // in the heap; -1 once fired or stopped
}

// Stop cancels the timer; it reports false when it already ran or was
// stopped.
func (t *vtimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.index < 0 {
		return false
	}
	heap.Remove(&t.c.timers, t.index)
	return true
}

// timerHeap orders timers by deadline, then by when they were made.
type timerHeap []*vtimer

func (h timerHeap) Len() int { return len(h) }
func (h timerHeap) Less(i, j int) bool {
	if !h[i].when.Equal(h[j].when) {
		return h[i].when.Before(h[j].when)
	}
	return h[i].seq < h[j].seq
}
func (h timerHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index = i
	h[j].index = j
}
func (h *timerHeap) Push(x any) {
	t := x.(*vtimer)
	t.index = len(*h)
	*h = append(*h, t)
}
func (h *timerHeap) Pop() any {
	old := *h
	t := old[len(old)-1]
	old[len(old)-1] = nil
	t.index = -1
	*h = old[:len(old)-1]
	return t
}
