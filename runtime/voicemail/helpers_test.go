package voicemail

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/audio"
	"switchboard/runtime/clock"
	"switchboard/runtime/clock/clocktest"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
	"switchboard/runtime/prompts"
	"switchboard/runtime/store/storetest"
)

func TestMain(m *testing.M) {
	pinIterations = 64 // fast hashes; the scheme is the same
	os.Exit(storetest.Run(m))
}

var epoch = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// fakeLine is an in-process Line: Play returns at once and records what
// was played (by prompt name); the test feeds frames and digits.
type fakeLine struct {
	codec  audio.Codec
	clk    clock.Clock
	frames chan line.Frame
	digits chan rune
	done   chan struct{}
	once   sync.Once

	// block names prompts whose Play lasts until it is cancelled or the
	// call ends, as a long prompt does for a caller who does not wait.
	block map[string]bool

	mu          sync.Mutex
	played      []string
	interrupted []string
	cause       string
	// started is closed when the first prompt starts playing.
	started   chan struct{}
	startOnce sync.Once
}

func newFakeLine(codec audio.Codec, clk clock.Clock) *fakeLine {
	return &fakeLine{
		codec: codec, clk: clk,
		frames:  make(chan line.Frame, 100_000),
		digits:  make(chan rune, 1024),
		done:    make(chan struct{}),
		started: make(chan struct{}),
	}
}

func (f *fakeLine) Codec() audio.Codec        { return f.codec }
func (f *fakeLine) Clock() clock.Clock        { return f.clk }
func (f *fakeLine) Frames() <-chan line.Frame { return f.frames }
func (f *fakeLine) Digits() <-chan rune       { return f.digits }
func (f *fakeLine) Done() <-chan struct{}     { return f.done }
func (f *fakeLine) Send([]int16) error        { return nil }

func (f *fakeLine) Play(ctx context.Context, s []int16) error {
	select {
	case <-f.done:
		return line.ErrHungUp
	default:
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	name := promptName(s)
	f.mu.Lock()
	f.played = append(f.played, name)
	f.mu.Unlock()
	f.startOnce.Do(func() { close(f.started) })
	if f.block[name] {
		var err error
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-f.done:
			err = line.ErrHungUp
		}
		f.mu.Lock()
		f.interrupted = append(f.interrupted, name)
		f.mu.Unlock()
		return err
	}
	return nil
}

func (f *fakeLine) Hangup(cause string) {
	f.once.Do(func() {
		f.mu.Lock()
		f.cause = cause
		f.mu.Unlock()
		close(f.done)
	})
}

func (f *fakeLine) Played() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.played...)
}

func (f *fakeLine) Cause() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.cause
}

// keys queues DTMF keys; spaces are ignored.
func (f *fakeLine) keys(s string) {
	for _, r := range s {
		if r != ' ' {
			f.digits <- r
		}
	}
}

// speak queues secs seconds of a tone as 20 ms frames, RTP timestamps
// from ts; it returns the next timestamp.
func (f *fakeLine) speak(secs float64, freq float64, ts uint32) uint32 {
	n := int(secs * 50)
	for i := range n {
		s := audio.Tone(make([]int16, audio.FrameSamples), freq, 8000, int(ts)+i*audio.FrameSamples)
		f.frames <- line.Frame{Seq: uint16(ts/audio.FrameSamples) + uint16(i), Timestamp: ts + uint32(i*audio.FrameSamples), Samples: s}
	}
	return ts + uint32(n*audio.FrameSamples)
}

// promptName names played samples: the prompt they are, else "audio".
var promptByAddr = sync.OnceValue(func() map[*int16]string {
	m := map[*int16]string{}
	for _, n := range prompts.Names() {
		if strings.HasPrefix(n, "conf-") { // conf-wrong-pin is vm-wrong-pin
			continue
		}
		if s, _ := prompts.Get(n); len(s) > 0 {
			m[&s[0]] = n
		}
	}
	return m
})

func promptName(s []int16) string {
	if len(s) == 0 {
		return "empty"
	}
	if n, ok := promptByAddr()[&s[0]]; ok {
		return n
	}
	return fmt.Sprintf("audio(%.2fs)", float64(len(s))/audio.Rate)
}

// countingClock is the fake clock, counting the timers armed: a flow
// arms one each time it starts waiting for a key or for audio.
type countingClock struct {
	*clocktest.Fake
	armed atomic.Int64
}

func (c *countingClock) AfterFunc(d time.Duration, f func()) clock.Timer {
	c.armed.Add(1)
	return c.Fake.AfterFunc(d, f)
}

type testEnv struct {
	t    testing.TB
	s    *Service
	clk  *countingClock
	dir  string
	bus  *events.Bus
	sub  *events.Subscription
	prog *ir.Program
}

// newEnv opens a service on the Harbour View program with a fake clock.
// Mary's initial PIN is 2580, John's 1470.
func newEnv(t testing.TB, edit ...func(*Config)) *testEnv {
	t.Helper()
	e := &testEnv{t: t, clk: &countingClock{Fake: clocktest.New(epoch)}, dir: t.TempDir(), prog: irtest.HarbourView()}
	e.bus = events.NewBus(e.clk.Now)
	e.sub = e.bus.Subscribe(10_000)
	cfg := Config{
		Program: func() *ir.Program { return e.prog },
		Dir:     e.dir, Clock: e.clk, Events: e.bus, Logger: discardLogger(),
		PINs: PINFunc(func(box string) (string, bool) {
			return map[string]string{"mary": "2580", "john": "1470"}[box], box == "mary" || box == "john"
		}),
	}
	for _, f := range edit {
		f(&cfg)
	}
	e.open(cfg)
	return e
}

// open opens the service of cfg as e.s; without a program, on e's.
func (e *testEnv) open(cfg Config) {
	e.t.Helper()
	if cfg.Program == nil {
		cfg.Program = func() *ir.Program { return e.prog }
	}
	s, err := Open(cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { s.Close() }) // before the directory is removed
	e.s = s
}

// events returns the events published so far, of the given kinds (all
// when none given).
func (e *testEnv) events(kinds ...events.Kind) []events.Event {
	var out []events.Event
	for {
		select {
		case ev := <-e.sub.C:
			if len(kinds) == 0 || contains(kinds, ev.Kind) {
				out = append(out, ev)
			}
		default:
			return out
		}
	}
}

func contains[T comparable](s []T, v T) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// run runs f (a call flow) to its end, advancing the fake clock whenever
// the flow waits on it, so menus time out instead of hanging. Like drive,
// it must be called in a bubble.
func (e *testEnv) run(f func() error) error {
	return e.drive(nil, "", f)
}

// bubble runs f in a synctest bubble, where drive can tell when the call
// flow waits: synctest.Wait returns once every other goroutine of the
// bubble is blocked. The flow's line (and whatever else it blocks on)
// must be made inside f.
// f gets the bubble's own T, which it must use to fail.
func (e *testEnv) bubble(f func(t *testing.T)) {
	e.t.Helper()
	t, ok := e.t.(*testing.T)
	if !ok {
		e.t.Fatal("a call flow is driven only from a test (synctest needs a *testing.T)")
	}
	synctest.Test(t, f)
}

// drive runs f (a call flow on l) to its end, pressing the keys one at a
// time, each when the flow waits for one: prompts play out, as they do
// for a caller who listens. A '.' lets the wait time out instead; spaces
// are ignored. Once the keys are used up, the clock runs on, so menus
// time out instead of hanging.
//
// It runs in a bubble (e.bubble): after each key, synctest.Wait returns
// once the flow is blocked again, and then either it waits anew (it armed
// a timer: the next key) or it waits as before (a '.', no keys left, or a
// key it ignores), and a second passes on the clock.
func (e *testEnv) drive(l *fakeLine, keys string, f func() error) error {
	var ks []rune
	for _, r := range keys {
		if r != ' ' {
			ks = append(ks, r)
		}
	}
	errc := make(chan error, 1)
	go func() { errc <- f() }()
	// settle waits until the flow is blocked, and reports whether it ended.
	settle := func() (bool, error) {
		synctest.Wait()
		select {
		case err := <-errc:
			return true, err
		default:
			return false, nil
		}
	}
	stuck := func() error {
		return fmt.Errorf("the call flow waits on neither a key nor the clock; keys left %q", string(ks))
	}
	for {
		if done, err := settle(); done {
			return err
		}
		if e.clk.Pending() == 0 {
			return stuck()
		}
		// The flow waits on the clock.
		armed := e.clk.armed.Load()
		if len(ks) > 0 {
			if ks[0] != '.' {
				l.digits <- ks[0]
			}
			ks = ks[1:]
		}
		for {
			if done, err := settle(); done {
				return err
			}
			if e.clk.armed.Load() != armed {
				break // it waits anew
			}
			if e.clk.Pending() == 0 {
				return stuck()
			}
			e.clk.Advance(time.Second)
		}
	}
}

// addMessage stores a message as a finished deposit would.
func (e *testEnv) addMessage(box string, folder Folder, at time.Time, secs float64, freq float64) Message {
	e.t.Helper()
	b, err := e.s.box(box)
	if err != nil {
		e.t.Fatal(err)
	}
	r, err := e.s.startMessage(b, audio.PCMU, Message{Time: at, From: From{Account: "device.front-gate", Display: "Front gate"}})
	if err != nil {
		e.t.Fatal(err)
	}
	n := int(secs * audio.Rate)
	r.add(line.Frame{Samples: audio.Tone(make([]int16, n), freq, 8000, 0)})
	m, err := r.finishMessage(1)
	if err != nil || m == nil {
		e.t.Fatalf("finishMessage: %v", err)
	}
	if folder == FolderSaved {
		b.update(m.ID, func(m *Message) { m.Folder = FolderSaved })
		m.Folder = FolderSaved
	}
	return *m
}

func (e *testEnv) messages(box string) []Message {
	e.t.Helper()
	ms, err := e.s.Messages(box)
	if err != nil {
		e.t.Fatal(err)
	}
	return ms
}

func (e *testEnv) boxFiles(box string) []string {
	e.t.Helper()
	entries, err := os.ReadDir(e.dir + "/" + box)
	if err != nil {
		e.t.Fatal(err)
	}
	var names []string
	for _, en := range entries {
		names = append(names, en.Name())
	}
	return names
}

var (
	mary    = Caller{Account: "app.mary", DisplayName: "Mary Byrne", Number: "mary", Source: "192.0.2.10", Call: "call-mary"}
	gate    = Caller{Account: "device.front-gate", DisplayName: "Front gate", Number: "front-gate", Source: "192.0.2.20", Call: "call-gate", Reason: "no answer"}
	monitor = Caller{Account: "device.monitor-1a", DisplayName: "1A", Number: "monitor-1a", Source: "192.0.2.30", Call: "call-mon"}
)

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
