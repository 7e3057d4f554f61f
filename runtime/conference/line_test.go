package conference

import (
	"context"
	"sync"
	"testing"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/clock"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
)

// fakeLine is an in-process line.Line. Its Frames and Digits channels are
// unbuffered, so a test's send returns only once the session has taken the
// item — and, the session being one loop, has finished with the one before.
// Play records the prompt and returns at once; Send records the frame.
type fakeLine struct {
	clk    clock.Clock
	frames chan line.Frame
	digits chan rune
	done   chan struct{}
	once   sync.Once

	mu     sync.Mutex
	sent   [][]int16
	more   chan struct{} // closed and cleared at the next Send, for waitSent
	played [][]int16
	cause  string // the server's hang-up cause

	seq uint16 // the caller's RTP state, for sendTone
	ts  uint32
	off int // samples of tone sent so far
}

func newFakeLine(clk clock.Clock) *fakeLine {
	return &fakeLine{clk: clk, frames: make(chan line.Frame), digits: make(chan rune),
		done: make(chan struct{}), seq: 1000, ts: 123456}
}

func (l *fakeLine) Codec() audio.Codec        { return audio.PCMU }
func (l *fakeLine) Clock() clock.Clock        { return l.clk }
func (l *fakeLine) Frames() <-chan line.Frame { return l.frames }
func (l *fakeLine) Digits() <-chan rune       { return l.digits }
func (l *fakeLine) Done() <-chan struct{}     { return l.done }

func (l *fakeLine) Play(ctx context.Context, samples []int16) error {
	select {
	case <-l.done:
		return line.ErrHungUp
	default:
	}
	l.mu.Lock()
	l.played = append(l.played, samples)
	l.mu.Unlock()
	return ctx.Err()
}

func (l *fakeLine) Send(frame []int16) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sent = append(l.sent, append([]int16(nil), frame...))
	if l.more != nil {
		close(l.more)
		l.more = nil
	}
	return nil
}

// waitSent waits until the room has sent the line n frames.
func (l *fakeLine) waitSent(t *testing.T, n int) {
	t.Helper()
	limit := time.NewTimer(10 * time.Second)
	defer limit.Stop()
	for {
		l.mu.Lock()
		got := len(l.sent)
		if l.more == nil {
			l.more = make(chan struct{})
		}
		more := l.more
		l.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-more:
		case <-limit.C:
			t.Fatalf("the room sent %d frames, want %d", got, n)
		}
	}
}

func (l *fakeLine) Hangup(cause string) {
	l.mu.Lock()
	if l.cause == "" {
		l.cause = cause
	}
	l.mu.Unlock()
	l.once.Do(func() { close(l.done) })
}

// callerHangsUp ends the call from the caller's side.
func (l *fakeLine) callerHangsUp() { l.once.Do(func() { close(l.done) }) }

func (l *fakeLine) hangupCause() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.cause
}

// key presses keys, each taken by the session before the next.
func (l *fakeLine) key(t *testing.T, keys string) {
	t.Helper()
	for _, k := range keys {
		select {
		case l.digits <- k:
		case <-time.After(5 * time.Second):
			t.Fatalf("key %q: the session is not reading digits", k)
		}
	}
}

// sync returns once the session in its room has handled everything sent
// to it: an unbuffered send completes only when its loop is back in its
// select. An empty frame is ignored.
func (l *fakeLine) sync(t *testing.T) { t.Helper(); l.sendFrame(t, line.Frame{}) }

// sendFrame delivers one packet of the caller's audio.
func (l *fakeLine) sendFrame(t *testing.T, f line.Frame) {
	t.Helper()
	select {
	case l.frames <- f:
	case <-time.After(5 * time.Second):
		t.Fatal("the session is not reading frames")
	}
}

// sendTone sends the next 20 ms of a freq Hz tone (silence for 0).
func (l *fakeLine) sendTone(t *testing.T, freq, amp float64) {
	t.Helper()
	s := make([]int16, audio.FrameSamples)
	if freq != 0 {
		audio.Tone(s, freq, amp, l.off)
	}
	l.off += len(s)
	l.sendFrame(t, line.Frame{Seq: l.seq, Timestamp: l.ts, Samples: s})
	l.seq++
	l.ts += audio.FrameSamples
}

// heard is what the line was sent, from frame from on, as one signal.
func (l *fakeLine) heard(from int) []int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []int16
	for _, f := range l.sent[min(from, len(l.sent)):] {
		s = append(s, f...)
	}
	return s
}

func (l *fakeLine) nsent() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sent)
}

func (l *fakeLine) nplayed() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.played)
}

// lastPlayed is the last prompt played.
func (l *fakeLine) lastPlayed() []int16 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.played) == 0 {
		return nil
	}
	return l.played[len(l.played)-1]
}

// harness is a bridge on a fake clock with its events.
type harness struct {
	t    *testing.T
	clk  *clocktest.Fake
	arms *armCounter // the bridge's view of clk
	b    *Bridge
	sub  *events.Subscription
}

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

func newHarness(t *testing.T, opts ...Option) *harness {
	clk := clocktest.New(epoch)
	arms := &armCounter{Fake: clk}
	bus := events.NewBus(clk.Now)
	sub := bus.Subscribe(1000)
	t.Cleanup(sub.Close)
	opts = append([]Option{WithEvents(bus)}, opts...)
	return &harness{t: t, clk: clk, arms: arms, b: NewBridge(arms, opts...), sub: sub}
}

// armCounter is the fake clock as the bridge sees it, counting the timers
// armed on it. Pending cannot tell a re-armed PIN timeout from the one it
// replaced (one timer either way), and a key's send returns when the
// session takes the key, before it re-arms: an Advance in that gap fires
// the old timeout, which the session then discards, and the new one falls
// due past the Advance, so the session waits for good. The count is what
// changes when the new timer is armed.
type armCounter struct {
	*clocktest.Fake

	mu    sync.Mutex
	armed int
	more  chan struct{} // closed and cleared at the next AfterFunc
}

// AfterFunc counts the timer under mu held across arming it, so a count
// read once WaitPending has seen the timer includes it.
func (c *armCounter) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.mu.Lock()
	t := c.Fake.AfterFunc(d, f)
	c.armed++
	if c.more != nil {
		close(c.more)
		c.more = nil
	}
	c.mu.Unlock()
	return t
}

// count is how many timers have been armed so far.
func (c *armCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.armed
}

// wait waits until n timers have been armed in all.
func (c *armCounter) wait(t *testing.T, n int) {
	t.Helper()
	limit := time.NewTimer(5 * time.Second)
	defer limit.Stop()
	for {
		c.mu.Lock()
		got := c.armed
		if c.more == nil {
			c.more = make(chan struct{})
		}
		more := c.more
		c.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-more:
		case <-limit.C:
			t.Fatalf("%d timers armed, want %d", got, n)
		}
	}
}

// keyPIN keys digits into a PIN entry whose prompt has ended (waitPending
// saw its timeout armed) and returns once the session has re-armed the
// timeout for the last of them, so an Advance then times out the entry
// that was keyed. Every key re-arms the timeout once.
func (h *harness) keyPIN(cl *call, keys string) {
	h.t.Helper()
	n := h.arms.count() + len([]rune(keys))
	cl.ln.key(h.t, keys)
	h.arms.wait(h.t, n)
}

// call is one Serve in progress.
type call struct {
	ln     *fakeLine
	cancel context.CancelFunc
	result chan error
}

// dial starts Serve for c on a new line.
func (h *harness) dial(c Call) *call {
	ln := newFakeLine(h.clk)
	ctx, cancel := context.WithCancel(context.Background())
	h.t.Cleanup(cancel)
	cl := &call{ln: ln, cancel: cancel, result: make(chan error, 1)}
	go func() { cl.result <- h.b.Serve(ctx, ln, c) }()
	return cl
}

// wait returns Serve's result.
func (c *call) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-c.result:
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

// event waits for the next event of kind, skipping others.
func (h *harness) event(kind events.Kind) events.Event {
	h.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case e := <-h.sub.C:
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			h.t.Fatalf("no %s event", kind)
		}
	}
}

// drain returns the events published so far.
func (h *harness) drain() []events.Event {
	var es []events.Event
	for {
		select {
		case e := <-h.sub.C:
			es = append(es, e)
		default:
			return es
		}
	}
}

// waitPending waits until the fake clock holds n timers: a session has
// armed its PIN timeout and can be timed out by Advance.
func (h *harness) waitPending(n int) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.clk.WaitPending(ctx, n); err != nil {
		h.t.Fatalf("%d timers pending, want %d", h.clk.Pending(), n)
	}
}
