package voicemail

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/runtime/audio"
	"switchboard/runtime/line"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// Data-loss races of voicemail across the nodes of a cluster, each on a
// real three-node embedded store.

// gatedKV and gatedObjects follow their store as store.KV and
// store.Objects do, but hand a write on only once the test lets them
// (gate): a node that has not yet heard of another's write, for as long
// as the test needs, as a node does for the moment a write takes to
// reach it. Everything else, the store's decisions included, is the real
// store's.
type gatedKV struct {
	*store.KV
	gate *watchGate
}

func (g gatedKV) WatchRevisions(ctx context.Context, fn func(key string, value []byte, rev uint64, deleted, mine bool)) (func(), error) {
	return g.KV.WatchRevisions(ctx, func(key string, value []byte, rev uint64, deleted, mine bool) {
		g.gate.pass()
		fn(key, value, rev, deleted, mine)
	})
}

type gatedObjects struct {
	*store.Objects
	gate *watchGate
}

func (g gatedObjects) Watch(ctx context.Context, fn func(name string, deleted, mine bool)) (func(), error) {
	return g.Objects.Watch(ctx, func(name string, deleted, mine bool) {
		g.gate.pass()
		fn(name, deleted, mine)
	})
}

// watchGate holds the writes a node's watches hand on while it is shut.
type watchGate struct {
	mu   sync.Mutex
	open chan struct{} // closed while the gate is open
}

func newGate() *watchGate {
	g := &watchGate{open: make(chan struct{})}
	close(g.open)
	return g
}

func (g *watchGate) shut() {
	g.mu.Lock()
	g.open = make(chan struct{})
	g.mu.Unlock()
}

// release opens the gate; an open gate stays open (a test's deferred
// release after it released the gate itself).
func (g *watchGate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.open:
	default:
		close(g.open)
	}
}

// pass waits until the gate is open.
func (g *watchGate) pass() {
	g.mu.Lock()
	open := g.open
	g.mu.Unlock()
	<-open
}

// waitKey waits until kept's node hands key through a watch: its replica
// has it (one may lag the two that acknowledged a put, and then a service
// opened there would not see it).
func waitKey(t *testing.T, kept Store, key string) {
	t.Helper()
	waitWatched(t, key, false, keyWatch(kept))
}

// keyWatch watches the keys of kept's node.
func keyWatch(kept Store) func(seen func(string, bool)) (func(), error) {
	return func(seen func(string, bool)) (func(), error) {
		return kept.Keys.(*store.KV).Watch(context.Background(), func(k string, _ []byte, _ time.Time, deleted, _ bool) { seen(k, deleted) })
	}
}

// waitWatched waits until watch hands name, not deleted (or, with gone,
// its deletion).
func waitWatched(t *testing.T, name string, gone bool, watch func(seen func(n string, deleted bool)) (stop func(), err error)) {
	t.Helper()
	seen := make(chan struct{}, 1)
	stop, err := watch(func(n string, deleted bool) {
		if n == name && deleted == gone {
			select {
			case seen <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	select {
	case <-seen:
	case <-time.After(30 * time.Second):
		if gone {
			t.Fatalf("%s is never removed from the store", name)
		}
		t.Fatalf("%s never came through the node's watch", name)
	}
}

// sharedIn is keptIn for a cluster node (Shared).
func sharedIn(t *testing.T, st *store.Store, site string) Store {
	t.Helper()
	kept := keptIn(t, st, site)
	kept.Shared = true
	return kept
}

// recordTone starts a message in box on e, from the caller account, and
// records secs of a tone of freq into it (synced, as close does).
func recordTone(t *testing.T, e *testEnv, box, account, call string, secs, freq float64) *recording {
	t.Helper()
	b, err := e.s.box(box)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.s.startMessage(b, audio.PCMU, Message{Time: epoch, From: From{Account: account}, Call: call})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.add(line.Frame{Samples: audio.Tone(make([]int16, int(secs*audio.Rate)), freq, 8000, 0)}); err != nil {
		t.Fatal(err)
	}
	return r
}

// wantMessages waits until e lists want's messages in box (by call), and
// no others, then checks that each plays its own tone.
func wantMessages(t *testing.T, e *testEnv, told <-chan string, node, box string, want map[string]float64) {
	t.Helper()
	waitTold(t, told, box, node+" lists every message, and no other", func() bool {
		ms := e.messages(box)
		if len(ms) != len(want) {
			return false
		}
		for _, m := range ms {
			if _, ok := want[m.Call]; !ok {
				return false
			}
		}
		return true
	})
	got := map[string]float64{}
	for _, m := range e.messages(box) {
		pcm, err := e.s.PCM(box, m.ID)
		if err != nil {
			t.Fatalf("%s, message %d: %v", node, m.ID, err)
		}
		w, err := audio.ReadWAV(pcm)
		if err != nil {
			t.Fatalf("%s, message %d: %v", node, m.ID, err)
		}
		got[m.Call] = 0
		if f := want[m.Call]; f != 0 && audio.ToneLevel(w.Samples, f) >= 7000 {
			got[m.Call] = f
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("%s: the messages by call, with the tone each plays (0: not its own) (-want +got):\n%s", node, d)
	}
}

// Two messages for one box finished on two nodes within one replication
// delay each keep their own number: the regression gave both the number
// their recordings started with (node b had not heard of a's message
// when it finished its own) and b's replaced a's, a message lost.
func TestClusterMessagesFinishedAtOnceKeepOneNumberEach(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	held := newGate()
	a, toldA := joined(t, sharedIn(t, cl.Stores[0], site))
	kb := sharedIn(t, cl.Stores[1], site)
	kb.Keys = gatedKV{kb.Keys.(*store.KV), held}
	kb.Objects = gatedObjects{kb.Objects.(*store.Objects), held}
	b, toldB := joined(t, kb)

	ra := recordTone(t, a, "mary", "device.front-gate", "call-a", 1, 697)
	rb := recordTone(t, b, "mary", "device.side-door", "call-b", 1, 941)
	if ra.id != rb.id {
		t.Fatalf("the recordings started with numbers %d and %d: the test needs them the same", ra.id, rb.id)
	}
	held.shut() // b hears nothing of a's writes until both are finished
	ma, err := ra.finishMessage(1)
	if err != nil || ma == nil {
		held.release()
		t.Fatalf("a's finishMessage: %v", err)
	}
	mb, err := rb.finishMessage(1)
	held.release()
	if err != nil || mb == nil {
		t.Fatalf("b's finishMessage: %v", err)
	}
	if ma.ID == mb.ID {
		t.Errorf("both messages were stored as number %d", ma.ID)
	}
	want := map[string]float64{"call-a": 697, "call-b": 941}
	wantMessages(t, a, toldA, "node a", "mary", want)
	wantMessages(t, b, toldB, "node b", "mary", want)
	c, toldC := joined(t, sharedIn(t, cl.Stores[2], site)) // a node starting afterwards
	wantMessages(t, c, toldC, "node c", "mary", want)
}

// A node starting up while another is between a message's metadata and
// its audio leaves the metadata: the regression's start-up sweep took it
// for a crash's leftover (metadata without audio) and removed it, and
// the message, stored a moment later, lost its caller.
func TestClusterStartLeavesADepositUnderWay(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	a, toldA := joined(t, sharedIn(t, cl.Stores[0], site))
	r := recordTone(t, a, "mary", "device.front-gate", "call-a", 1, 697)
	paused, resume := make(chan struct{}), make(chan struct{})
	r.afterMeta = func() {
		close(paused)
		<-resume
	}
	type finished struct {
		m   *Message
		err error
	}
	done := make(chan finished, 1)
	go func() {
		m, err := r.finishMessage(1)
		done <- finished{m, err}
	}()
	defer func() {
		select {
		case <-resume:
		default:
			close(resume)
		}
	}()
	<-paused

	// Node b's replica has the metadata before b starts (a replica may
	// lag the two that acknowledged it, and then b's start would not see
	// it at all).
	kb := sharedIn(t, cl.Stores[1], site)
	waitKey(t, kb, keptName("mary", msgName(r.id)+".json"))

	b, toldB := joined(t, kb) // starts, and sweeps, while a is paused
	close(resume)
	f := <-done
	if f.err != nil || f.m == nil {
		t.Fatalf("a's finishMessage: %v", f.err)
	}
	for _, n := range []struct {
		name string
		e    *testEnv
		told <-chan string
	}{{"node a", a, toldA}, {"node b", b, toldB}} {
		waitTold(t, n.told, "mary", n.name+" lists a's message", func() bool { return len(n.e.messages("mary")) == 1 })
		got := n.e.messages("mary")[0]
		if d := cmp.Diff(From{Account: "device.front-gate"}, got.From); d != "" || got.Call != "call-a" {
			t.Errorf("%s: message %d lost its details: call %q, from (-want +got):\n%s", n.name, got.ID, got.Call, d)
		}
	}
}

// On a shared store a start still sweeps metadata without audio once it
// is old enough to be a crash's (here: any age).
func TestClusterStartSweepsOldMetadata(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	ka := sharedIn(t, cl.Stores[0], site)
	key := keptName("mary", msgName(7)+".json")
	if err := ka.Keys.Put(context.Background(), key, marshalMeta(&Message{ID: 7, Box: "mary"}), 0); err != nil {
		t.Fatal(err)
	}
	waitKey(t, ka, key) // node a's replica has it (a replica may lag)
	ka.sweepAfter = time.Nanosecond
	a, toldA := joined(t, ka)
	// Not read back with a get: any replica answers one, and one may not
	// have the removal yet (2 runs in 8 at load 13 read the metadata
	// there). The removal comes through the node's watch; and the
	// index drops it, by the sweep's answer or, were that lost, by the
	// watch.
	waitKeyGone(t, ka, key)
	waitTold(t, toldA, "mary", "a's index drops the metadata", func() bool {
		names, _ := a.s.shelf.names("mary")
		return len(names) == 0
	})
}

// waitKeyGone waits until kept's node hands key's removal through a
// watch.
func waitKeyGone(t *testing.T, kept Store, key string) {
	t.Helper()
	waitWatched(t, key, true, keyWatch(kept))
}

// A node killed mid-recording recovers it at its next start under a
// number of its own when another node's message took the number in
// between: the regression found "its" message stored already (another's
// under that number) and removed the recording.
func TestClusterRecoveryAfterAnotherTookTheNumber(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	a, _ := joined(t, sharedIn(t, cl.Stores[0], site))
	b, toldB := joined(t, sharedIn(t, cl.Stores[1], site))
	r := recordTone(t, a, "mary", "device.front-gate", "call-a", 1.5, 697)
	if err := r.sync(); err != nil { // as it was at the kill
		t.Fatal(err)
	}
	cfg := a.s.cfg
	a.s.Close() // killed: the recording is left as it was

	rb := recordTone(t, b, "mary", "device.side-door", "call-b", 1, 941)
	if rb.id != r.id {
		t.Fatalf("the recordings started with numbers %d and %d: the test needs them the same", r.id, rb.id)
	}
	if m, err := rb.finishMessage(1); err != nil || m == nil {
		t.Fatalf("b's finishMessage: %v", err)
	}

	a.open(cfg) // a starts again, and recovers
	toldA := make(chan string, 64)
	t.Cleanup(a.s.Watch(func(box string) {
		select {
		case toldA <- box:
		default:
		}
	}))
	want := map[string]float64{"call-a": 697, "call-b": 941}
	wantMessages(t, a, toldA, "node a", "mary", want)
	wantMessages(t, b, toldB, "node b", "mary", want)
}

// A box moved to the archive while another node stores a message in it
// (that node not yet on the reload that removed the box) keeps that
// message: the move removes only what it copied, and the next Retire
// moves the rest. The regression removed every file the box had once
// copied, the new message with them, uncopied.
func TestClusterArchiveKeepsAMessageArrivingDuringTheMove(t *testing.T) {
	envs, told := followed(t, 2)
	a, b := envs[0], envs[1]
	a.addMessage("gone", FolderNew, epoch, 1, 440)
	waitTold(t, told[1], "gone", "b has the box", func() bool { ok, _ := b.s.shelf.has("gone"); return ok })
	k := a.s.shelf.(*keptShelf)
	k.afterCopy = func() {
		k.afterCopy = nil
		m := b.addMessage("gone", FolderNew, epoch, 1, 880)
		waitTold(t, told[0], "gone", "a has b's message", func() bool {
			names, _ := k.names("gone")
			return slices.Contains(names, msgName(m.ID)+".json") && slices.Contains(names, msgName(m.ID)+".wav")
		})
	}
	p := *a.prog
	p.Retired = []ir.Retired{{Identity: "gone", User: "gone", Data: "archive", ArchiveUntil: epoch.Add(time.Hour)}}
	a.s.Retire(&p, epoch)
	a.s.Retire(&p, epoch) // moves what came in during the first
	got, _ := k.names(archiveDir + "/gone")
	want := []string{msgName(1) + ".json", msgName(1) + ".wav", msgName(2) + ".json", msgName(2) + ".wav"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the archive (-want +got):\n%s", d)
	}
	if ok, _ := k.has("gone"); ok {
		names, _ := k.names("gone")
		t.Errorf("the live box still holds %q", names)
	}
}

// A node changing a message's metadata from what it knew keeps another
// node's change made meanwhile, and does not write again the metadata of
// a message another node deleted meanwhile. The regression wrote its own
// copy whole: the message heard on node a was new again once b marked
// it mailed, and the deleted one's metadata came back, without audio.
func TestClusterUpdateKeepsAnotherNodesChange(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	held := newGate()
	ka := sharedIn(t, cl.Stores[0], site)
	a, toldA := joined(t, ka)
	kb := sharedIn(t, cl.Stores[1], site)
	kb.Keys = gatedKV{kb.Keys.(*store.KV), held}
	kb.Objects = gatedObjects{kb.Objects.(*store.Objects), held}
	b, toldB := joined(t, kb)
	heard := a.addMessage("mary", FolderNew, epoch, 1, 697)
	deleted := a.addMessage("mary", FolderNew, epoch, 1, 941)
	waitTold(t, toldB, "mary", "b lists a's messages, with their metadata", func() bool {
		ms := b.messages("mary")
		return len(ms) == 2 && ms[0].From.Account != "" && ms[1].From.Account != ""
	})
	bx, err := b.s.box("mary")
	if err != nil {
		t.Fatal(err)
	}

	held.shut() // b hears nothing of a's changes until it made its own
	if err := a.s.MarkHeard("mary", heard.ID); err != nil {
		held.release()
		t.Fatal(err)
	}
	if err := a.s.Delete("mary", deleted.ID, "app.mary"); err != nil {
		held.release()
		t.Fatal(err)
	}
	_, err1 := bx.update(heard.ID, func(m *Message) { m.Mailed = true })
	_, err2 := bx.update(deleted.ID, func(m *Message) { m.Mailed = true })
	held.release()
	if err1 != nil || err2 != nil {
		t.Fatalf("b's updates: %v, %v", err1, err2)
	}

	want := heard
	want.Folder, want.Mailed = FolderSaved, true
	for _, n := range []struct {
		name string
		e    *testEnv
		told <-chan string
	}{{"node a", a, toldA}, {"node b", b, toldB}} {
		waitTold(t, n.told, "mary", n.name+" has both changes", func() bool {
			ms := n.e.messages("mary")
			return len(ms) == 1 && ms[0].Mailed
		})
		if d := cmp.Diff([]Message{want}, n.e.messages("mary")); d != "" {
			t.Errorf("%s (-want +got):\n%s", n.name, d)
		}
	}
	if _, ok, err := ka.Keys.Get(context.Background(), keptName("mary", msgName(deleted.ID)+".json")); err != nil || ok {
		t.Errorf("the deleted message's metadata is in the store again (%v, %v)", ok, err)
	}
}

// A node that has not heard yet of a message's deletion, nor of the later
// message given its number (by a node that started since), leaves that
// later message alone when it deletes or marks "its" message: the
// regression deleted the later message's audio and metadata (marking it
// first wrote the old message's caller over it).
func TestClusterStaleNodeLeavesTheNumbersNextMessage(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	held := newGate()
	ka := sharedIn(t, cl.Stores[0], site)
	ka.Keys = gatedKV{ka.Keys.(*store.KV), held}
	ka.Objects = gatedObjects{ka.Objects.(*store.Objects), held}
	a, toldA := joined(t, ka)
	b, _ := joined(t, sharedIn(t, cl.Stores[1], site))
	old, err := recordTone(t, b, "mary", "device.side-door", "call-old", 1, 941).finishMessage(1)
	if err != nil || old == nil {
		t.Fatalf("b's finishMessage: %v", err)
	}
	waitTold(t, toldA, "mary", "a lists b's message, with its metadata", func() bool {
		ms := a.messages("mary")
		return len(ms) == 1 && ms[0].Call == "call-old"
	})

	held.shut() // a hears nothing more until it acted on what it knows
	defer held.release()
	if err := b.s.Delete("mary", old.ID, "app.mary"); err != nil {
		t.Fatal(err)
	}
	c, toldC := joined(t, sharedIn(t, cl.Stores[2], site)) // starts after the delete
	next, err := recordTone(t, c, "mary", "device.front-gate", "call-next", 1, 697).finishMessage(1)
	if err != nil || next == nil {
		t.Fatalf("c's finishMessage: %v", err)
	}
	if next.ID != old.ID {
		t.Fatalf("c's message has number %d, the deleted one %d: the test needs them the same", next.ID, old.ID)
	}
	errHeard := a.s.MarkHeard("mary", old.ID)
	errDelete := a.s.Delete("mary", old.ID, "app.mary")
	held.release()
	if errHeard != ErrNoMessage || errDelete != ErrNoMessage {
		t.Errorf("a marked (%v) and deleted (%v) the message it knew; want both %v", errHeard, errDelete, ErrNoMessage)
	}
	wantMessages(t, c, toldC, "node c", "mary", map[string]float64{"call-next": 697})
	wantMessages(t, a, toldA, "node a", "mary", map[string]float64{"call-next": 697})
	for _, n := range []struct {
		name string
		e    *testEnv
	}{{"node a", a}, {"node c", c}} {
		if ms := n.e.messages("mary"); len(ms) != 1 || ms[0].From.Account != "device.front-gate" || ms[0].Folder != FolderNew {
			t.Errorf("%s: %+v, want c's message, new, from the front gate", n.name, ms)
		}
	}
}

// observedObjects hands each object write on as its objects do (gated),
// then tells after, from the watch's goroutine: what the node lists right
// after each of them can be read there.
type observedObjects struct {
	gatedObjects
	after func(name string, deleted bool)
}

func (o observedObjects) Watch(ctx context.Context, fn func(name string, deleted, mine bool)) (func(), error) {
	return o.gatedObjects.Watch(ctx, func(name string, deleted, mine bool) {
		fn(name, deleted, mine)
		o.after(name, deleted)
	})
}

// A node lists another node's message only once its audio is in the
// store, and from then on without a gap, whichever of its two watches
// (metadata, audio) is ahead. Node a, behind on the deletion of message
// N, hears of the metadata of the deposit given N next before of either
// audio write (the deletion's, then the deposit's): the regression
// listed that message at once, its audio not yet stored ("no such
// message" when played, counted for the lamp), and once its audio came,
// lost it again for the moment between the old audio's deletion and the
// new one's put (TestClusterStaleNodeLeavesTheNumbersNextMessage's
// flake).
func TestClusterMessageListedOnceItsAudioIsIn(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	keysHeld, audioHeld := newGate(), newGate()
	var a *testEnv
	var watching atomic.Bool
	type seen struct {
		name    string
		deleted bool
		calls   []string // what a listed right after
	}
	audioSeen := make(chan seen, 64)
	ka := sharedIn(t, cl.Stores[0], site)
	ka.Keys = gatedKV{ka.Keys.(*store.KV), keysHeld}
	ka.Objects = observedObjects{gatedObjects{ka.Objects.(*store.Objects), audioHeld}, func(name string, deleted bool) {
		if !watching.Load() {
			return
		}
		var calls []string
		for _, m := range a.messages("mary") {
			calls = append(calls, m.Call)
		}
		audioSeen <- seen{name, deleted, calls}
	}}
	a, toldA := joined(t, ka)
	b, _ := joined(t, sharedIn(t, cl.Stores[1], site))
	old, err := recordTone(t, b, "mary", "device.side-door", "call-old", 1, 941).finishMessage(1)
	if err != nil || old == nil {
		t.Fatalf("b's finishMessage: %v", err)
	}
	waitTold(t, toldA, "mary", "a lists b's message, with its metadata", func() bool {
		ms := a.messages("mary")
		return len(ms) == 1 && ms[0].Call == "call-old"
	})

	keysHeld.shut() // a hears nothing more for now
	audioHeld.shut()
	defer keysHeld.release()
	defer audioHeld.release()
	if err := b.s.Delete("mary", old.ID, "app.mary"); err != nil {
		t.Fatal(err)
	}
	c, toldC := joined(t, sharedIn(t, cl.Stores[2], site)) // starts after the delete
	r := recordTone(t, c, "mary", "device.front-gate", "call-next", 1, 697)
	if r.id != old.ID {
		t.Fatalf("c's recording has number %d, the deleted message %d: the test needs them the same", r.id, old.ID)
	}
	paused, resume := make(chan struct{}), make(chan struct{})
	r.afterMeta = func() {
		close(paused)
		<-resume
	}
	done := make(chan error, 1)
	go func() {
		m, err := r.finishMessage(1)
		if err == nil && m == nil {
			err = errors.New("not kept")
		}
		done <- err
	}()
	defer func() {
		select {
		case <-resume:
		default:
			close(resume)
		}
	}()
	<-paused // c has claimed N; its audio is not in the store

	keysHeld.release() // a hears of the metadata, not yet of any audio
	meta := msgName(r.id) + ".json"
	waitTold(t, toldA, "mary", "a has c's metadata", func() bool {
		data, err := a.s.shelf.read("mary", meta)
		m, perr := parseMeta(data)
		return err == nil && perr == nil && m.Call == "call-next"
	})
	if ms := a.messages("mary"); len(ms) != 0 {
		t.Errorf("a lists %+v before its audio is in the store", ms)
	}
	if sum := string(a.s.MessageSummary("mary")); !strings.Contains(sum, "Voice-Message: 0/0") {
		t.Errorf("a counts a message whose audio is not in the store:\n%s", sum)
	}
	if _, err := a.s.PCM("mary", r.id); err != ErrNoMessage {
		t.Errorf("a plays message %d, its audio not in the store: %v", r.id, err)
	}

	watching.Store(true)
	close(resume)
	if err := <-done; err != nil {
		t.Fatalf("c's finishMessage: %v", err)
	}
	// Listed once its audio is in, though a has heard of no audio write
	// yet, and playing c's own.
	wantMessages(t, a, toldA, "node a, before it heard of the audio", "mary", map[string]float64{"call-next": 697})

	audioHeld.release() // the old audio's deletion, then the new audio
	wav := keptName("mary", msgName(r.id)+".wav")
	for put := false; !put; {
		var s seen
		select {
		case s = <-audioSeen:
		case <-time.After(30 * time.Second):
			t.Fatal("a never heard of c's audio")
		}
		if s.name != wav {
			continue
		}
		put = !s.deleted
		if d := cmp.Diff([]string{"call-next"}, s.calls); d != "" {
			what := "put"
			if s.deleted {
				what = "deletion"
			}
			t.Errorf("a's listing right after it heard of an audio %s of message %d (-want +got):\n%s", what, r.id, d)
		}
	}
	wantMessages(t, a, toldA, "node a", "mary", map[string]float64{"call-next": 697})
	wantMessages(t, c, toldC, "node c", "mary", map[string]float64{"call-next": 697})
}

// waitObject waits until kept's node hands the object name through a
// watch (waitKey's, for audio).
func waitObject(t *testing.T, kept Store, name string) {
	t.Helper()
	waitWatched(t, name, false, func(seen func(string, bool)) (func(), error) {
		return kept.Objects.(*store.Objects).Watch(context.Background(), func(n string, deleted, _ bool) { seen(n, deleted) })
	})
}

// putMessage stores message m of box as a node cut short would have left
// it: its metadata as m says (its State), and a second of a tone of freq.
func putMessage(t *testing.T, kept Store, m Message, freq float64) {
	t.Helper()
	ctx := context.Background()
	if err := kept.Keys.Put(ctx, keptName(m.Box, m.Name()+".json"), marshalMeta(&m), 0); err != nil {
		t.Fatal(err)
	}
	wav, err := encodeWAV(audio.FormatULaw, audio.PCMU.Encode(nil, audio.Tone(make([]int16, audio.Rate), freq, 8000, 0)))
	if err != nil {
		t.Fatal(err)
	}
	if err := kept.Objects.Put(ctx, keptName(m.Box, m.Name()+".wav"), wav); err != nil {
		t.Fatal(err)
	}
}

// A message whose audio was stored by a node killed before it completed
// the metadata (pending) is listed nowhere until a node starts, and then
// everywhere: the start completes it. It is never lost to its hiding.
func TestClusterStartCompletesAStoredMessage(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	a, toldA := joined(t, sharedIn(t, cl.Stores[0], site))
	m := Message{ID: 1, Box: "mary", Folder: FolderNew, Time: epoch, DurationMS: 1000, Codec: "PCMU",
		From: From{Account: "device.front-gate"}, Call: "call-a", State: statePending}
	putMessage(t, sharedIn(t, cl.Stores[2], site), m, 697)
	waitTold(t, toldA, "mary", "a has heard of the metadata and the audio", func() bool {
		names, _ := a.s.shelf.names("mary")
		return slices.Equal(names, []string{m.Name() + ".json", m.Name() + ".wav"})
	})
	if ms := a.messages("mary"); len(ms) != 0 {
		t.Errorf("a lists %+v, its metadata pending", ms)
	}

	kb := sharedIn(t, cl.Stores[1], site)
	waitKey(t, kb, keptName("mary", m.Name()+".json")) // b's replica has both
	waitObject(t, kb, keptName("mary", m.Name()+".wav"))
	b, toldB := joined(t, kb) // starts, and completes it
	want := map[string]float64{"call-a": 697}
	wantMessages(t, b, toldB, "node b", "mary", want)
	wantMessages(t, a, toldA, "node a", "mary", want)
	if got := a.messages("mary")[0]; got.From != m.From || got.State != "" {
		t.Errorf("a lists %+v", got)
	}
}

// A deletion cut short after its mark (deleting) leaves the message
// listed nowhere; a start finishes it once the mark is old enough to be a
// crash's (here: any age), the audio first, and not before (it may be
// another node's deletion under way).
func TestClusterStartFinishesADeletionCutShort(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	m := Message{ID: 1, Box: "mary", Folder: FolderNew, Time: epoch, DurationMS: 1000, Codec: "PCMU",
		From: From{Account: "device.front-gate"}, Call: "call-a", State: stateDeleting}
	ka := sharedIn(t, cl.Stores[0], site)
	putMessage(t, ka, m, 697)
	json, wav := keptName("mary", m.Name()+".json"), keptName("mary", m.Name()+".wav")
	waitKey(t, ka, json)
	waitObject(t, ka, wav)
	a, _ := joined(t, ka)
	if ms := a.messages("mary"); len(ms) != 0 {
		t.Errorf("a lists %+v, being deleted", ms)
	}
	if names, _ := a.s.shelf.names("mary"); len(names) != 2 {
		t.Errorf("a's start, the mark new, left %q; want both", names)
	}

	kb := sharedIn(t, cl.Stores[1], site)
	waitKey(t, kb, json)
	waitObject(t, kb, wav)
	kb.sweepAfter = time.Nanosecond
	b, _ := joined(t, kb)
	if ms := b.messages("mary"); len(ms) != 0 {
		t.Errorf("b lists %+v, deleted", ms)
	}
	// The index drops the metadata only once the store removed it (the
	// store's answer; a replica read may lag); the audio is read from
	// the store's leader.
	if names, _ := b.s.shelf.names("mary"); len(names) != 0 {
		t.Errorf("b's start left %q", names)
	}
	if _, ok, err := kb.Objects.Get(context.Background(), wav, 1<<20); err != nil || ok {
		t.Errorf("the audio is still in the store (%v, %v)", ok, err)
	}
}

// A box moved to the archive while another node's deposit in it is
// pending (its audio on the way) keeps that message in the live box for
// the next Retire, rather than archive it pending, listed nowhere, and
// remove the metadata its node then completes.
func TestClusterArchiveLeavesAPendingMessage(t *testing.T) {
	envs, told := followed(t, 2)
	a := envs[0]
	a.addMessage("gone", FolderNew, epoch, 1, 440)
	k := a.s.shelf.(*keptShelf)
	pending := Message{ID: 2, Box: "gone", Folder: FolderNew, Time: epoch, DurationMS: 1000, Codec: "PCMU",
		From: From{Account: "device.side-door"}, Call: "call-b", State: statePending}
	kb := envs[1].s.shelf.(*keptShelf) // another node's writes: a follows them
	putMessage(t, Store{Objects: kb.objs, Keys: kb.keys}, pending, 880)
	waitTold(t, told[0], "gone", "a has the pending message", func() bool {
		names, _ := k.names("gone")
		return len(names) == 4
	})
	p := *a.prog
	p.Retired = []ir.Retired{{Identity: "gone", User: "gone", Data: "archive", ArchiveUntil: epoch.Add(time.Hour)}}
	a.s.Retire(&p, epoch)
	got, _ := k.names(archiveDir + "/gone")
	if d := cmp.Diff([]string{msgName(1) + ".json", msgName(1) + ".wav"}, got); d != "" {
		t.Errorf("the archive (-want +got):\n%s", d)
	}
	live, _ := k.names("gone")
	if d := cmp.Diff([]string{pending.Name() + ".json", pending.Name() + ".wav"}, live); d != "" {
		t.Errorf("the live box (-want +got):\n%s", d)
	}
}
