package voicemail

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/audio"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// steppedKV follows its store as store.KV does, but while its stepper is
// stepping hands on one write at a time, when the test lets it (step),
// and says when the node has applied it: what a node lists between two
// writes its watch hands on can be looked at.
type steppedKV struct {
	*store.KV
	s *stepper
}

// steppedKeys is kept with its key watch stepped by s.
func steppedKeys(kept Store, s *stepper) Store {
	kept.Keys = steppedKV{kept.Keys.(*store.KV), s}
	return kept
}

func (k steppedKV) WatchRevisions(ctx context.Context, fn func(key string, value []byte, rev uint64, deleted, mine bool)) (func(), error) {
	return k.KV.WatchRevisions(ctx, func(key string, value []byte, rev uint64, deleted, mine bool) {
		k.s.pass(stepped{key, rev}, func() { fn(key, value, rev, deleted, mine) })
	})
}

// stepped is a write a stepper let through: its key and revision.
type stepped struct {
	key string
	rev uint64
}

// stepper holds the writes a node's key watch hands on while it steps.
type stepper struct {
	mu       sync.Mutex
	stepping bool
	next     chan struct{} // one a write let through; closed: all
	applied  chan stepped  // each write applied while stepping
	done     sync.Once
}

func newStepper() *stepper {
	return &stepper{next: make(chan struct{}), applied: make(chan stepped, 64)}
}

// hold starts stepping: from now on each write waits for step.
func (s *stepper) hold() {
	s.mu.Lock()
	s.stepping = true
	s.mu.Unlock()
}

// step lets writes through, one at a time, until the node has applied
// one of key, and returns its revision.
func (s *stepper) step(t *testing.T, key string) uint64 {
	t.Helper()
	for {
		select {
		case s.next <- struct{}{}:
		case <-time.After(30 * time.Second):
			t.Fatalf("no write of %s came through the node's watch", key)
		}
		select {
		case w := <-s.applied:
			if w.key == key {
				return w.rev
			}
		case <-time.After(30 * time.Second):
			t.Fatal("the write let through was never applied")
		}
	}
}

// release lets every write through, now and from now on.
func (s *stepper) release() {
	s.done.Do(func() { close(s.next) })
}

func (s *stepper) pass(w stepped, apply func()) {
	s.mu.Lock()
	stepping := s.stepping
	s.mu.Unlock()
	if !stepping {
		apply()
		return
	}
	<-s.next
	apply()
	select {
	case s.applied <- w:
	default:
	}
}

// revisionOf reads key's latest revision from the store of kept.
func revisionOf(t *testing.T, kept Store, key string) uint64 {
	t.Helper()
	_, rev, _, ok, err := kept.Keys.(*store.KV).Revision(context.Background(), key)
	if err != nil || !ok {
		t.Fatalf("%s: revision %d, %v, %v", key, rev, ok, err)
	}
	return rev
}

// A node lists the message it has just taken, and its caller can delete
// it there, while its key watch hands it back its own writes: the
// pending metadata, then the completed. The regression's watch could not
// tell the node's inserts and updates from other nodes' (they carried no
// origin), and the pending metadata, handed back after the node had
// completed it, replaced the completed metadata in the node's index: the
// message was listed nowhere on that node until the completion came
// back, and deleting it there said "no such message"
// (TestClusterUpdateKeepsAnotherNodesChange's flake). (A watch that
// has not fetched the pending metadata before the completion replaced
// it, the bucket keeping one value a key, is handed the completion
// alone: then there is nothing older to come back, on the old code
// either.)
func TestClusterOwnDepositListedWhileItsWritesComeBack(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	st := newStepper()
	defer st.release()
	plain := sharedIn(t, cl.Stores[0], site)
	a, toldA := joined(t, steppedKeys(plain, st))

	st.hold() // a's key watch hands on nothing until the deposit is done
	m := a.addMessage("mary", FolderNew, epoch, 1, 697)
	if ms := a.messages("mary"); len(ms) != 1 || ms[0].ID != m.ID {
		t.Fatalf("node a lists %+v once the deposit is done; want message %d", ms, m.ID)
	}
	key := keptName("mary", msgName(m.ID)+".json")
	// The pending metadata comes back, then the completed.
	for done, last := uint64(0), revisionOf(t, plain, key); done < last; {
		done = st.step(t, key)
		if ms := a.messages("mary"); len(ms) != 1 || ms[0].ID != m.ID {
			t.Fatalf("node a lists %+v once its write %d of %d came back; want message %d", ms, done, last, m.ID)
		}
	}
	if err := a.s.Delete("mary", m.ID, "app.mary"); err != nil {
		t.Fatalf("node a's Delete of the message it took: %v", err)
	}
	st.release()
	waitKeyGone(t, plain, key)
	waitTold(t, toldA, "mary", "node a lists nothing once its writes are all back", func() bool {
		return len(a.messages("mary")) == 0
	})
}

// A node's change to a message is not undone on that node by an older
// change of another node's that its watch hands on after it: the
// regression put the other node's value back into the index (and, had
// the node's own writes been told apart, would have kept it: its own
// later write, handed back as its own, changes nothing). (A watch that
// has not fetched b's change before a's replaced it, the bucket keeping
// one value a key, is handed a's alone: nothing older comes then, on
// the old code either.)
func TestClusterOwnChangeKeptOverAnOlderOne(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	st := newStepper()
	defer st.release()
	plain := sharedIn(t, cl.Stores[0], site)
	a, toldA := joined(t, steppedKeys(plain, st))
	b, toldB := joined(t, sharedIn(t, cl.Stores[1], site))
	m := b.addMessage("mary", FolderNew, epoch, 1, 697)
	waitTold(t, toldB, "mary", "b lists its message", func() bool { return len(b.messages("mary")) == 1 })
	waitTold(t, toldA, "mary", "a lists b's message", func() bool { return len(a.messages("mary")) == 1 })
	key := keptName("mary", msgName(m.ID)+".json")

	st.hold() // a hears nothing of b's change until it made its own
	if err := b.s.MarkHeard("mary", m.ID); err != nil {
		t.Fatal(err)
	}
	bx, err := a.s.box("mary")
	if err != nil {
		t.Fatal(err)
	}
	if found, err := bx.update(m.ID, func(m *Message) { m.Mailed = true }); err != nil || !found {
		t.Fatalf("a's update: %v, %v", found, err)
	}
	want := m
	want.Folder, want.Mailed = FolderSaved, true
	if d := cmp.Diff([]Message{want}, a.messages("mary")); d != "" {
		t.Fatalf("node a after its own change (-want +got):\n%s", d)
	}
	// b's change, older than a's, comes; then a's own comes back.
	for done, last := uint64(0), revisionOf(t, plain, key); done < last; {
		done = st.step(t, key)
		if d := cmp.Diff([]Message{want}, a.messages("mary")); d != "" {
			t.Fatalf("node a once write %d of %d came (-want +got):\n%s", done, last, d)
		}
	}
}

// failingKV is a store.KV whose updates fail (an error: the store did
// not answer, not a refusal) while fail counts down.
type failingKV struct {
	*store.KV
	fail *atomic.Int32
}

func (k failingKV) Update(ctx context.Context, key string, value []byte, rev uint64) (uint64, error) {
	if k.fail.Add(-1) >= 0 {
		return 0, errors.New("voicemail test: the store did not answer the update")
	}
	return k.KV.Update(ctx, key, value, rev)
}

// A deposit stored with its audio whose metadata could not be completed
// (the completing write failed) is completed on a later try, and listed
// on every node, none of them starting: the regression left it pending,
// listed nowhere, until some node started (whose recovery completes it).
func TestClusterDepositCompletedAfterItsCompletionFailed(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	fail := &atomic.Int32{}
	ka := sharedIn(t, cl.Stores[0], site)
	ka.Keys = failingKV{ka.Keys.(*store.KV), fail}
	a, toldA := joined(t, ka)
	b, toldB := joined(t, sharedIn(t, cl.Stores[1], site))

	fail.Store(2) // the completion and its first try again
	r := recordTone(t, a, "mary", "device.front-gate", "call-a", 1, 697)
	if m, err := r.finishMessage(1); err == nil || m != nil {
		t.Fatalf("finishMessage with its completion failing: %+v, %v; want an error", m, err)
	}
	if ms := a.messages("mary"); len(ms) != 0 {
		t.Fatalf("node a lists %+v before the message is completed", ms)
	}
	a.clk.Advance(completeRetries[0]) // tried again: fails
	if ms := a.messages("mary"); len(ms) != 0 {
		t.Fatalf("node a lists %+v after a failed try", ms)
	}
	a.clk.Advance(completeRetries[1]) // tried again: done
	want := map[string]float64{"call-a": 697}
	wantMessages(t, a, toldA, "node a", "mary", want)
	wantMessages(t, b, toldB, "node b", "mary", want)
	if n := fail.Load(); n != -1 {
		t.Errorf("%d updates tried after the two that failed; want 1", -n)
	}
}

// A node that has heard of a deletion's removal of the metadata but not
// yet of the audio's (its two watches each in its own order) lists the
// message nowhere: the regression listed it again, by its audio alone,
// until the audio's removal came.
func TestClusterDeletedMessageNotListedByItsAudio(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	st, held := newStepper(), newGate()
	defer st.release()
	defer held.release()
	a, _ := joined(t, sharedIn(t, cl.Stores[0], site))
	kc := steppedKeys(sharedIn(t, cl.Stores[2], site), st)
	kc.Objects = gatedObjects{kc.Objects.(*store.Objects), held}
	c, toldC := joined(t, kc)
	m := a.addMessage("mary", FolderNew, epoch, 1, 697)
	waitTold(t, toldC, "mary", "c lists a's message", func() bool { return len(c.messages("mary")) == 1 })

	held.shut() // c hears nothing of the audio's removal
	st.hold()   // and of the metadata's only a write at a time
	if err := a.s.Delete("mary", m.ID, "app.mary"); err != nil {
		t.Fatal(err)
	}
	key := keptName("mary", m.Name()+".json")
	for {
		st.step(t, key)
		if ms := c.messages("mary"); len(ms) != 0 {
			t.Fatalf("node c lists %+v, the message's metadata deleting or gone", ms)
		}
		if names, _ := c.s.shelf.names("mary"); !slices.Contains(names, m.Name()+".json") {
			break // the metadata's removal applied; its audio not yet
		}
	}
	held.release()
	st.release()
	waitKeyGone(t, sharedIn(t, cl.Stores[2], site), key)
	waitObjectGone(t, sharedIn(t, cl.Stores[2], site), keptName("mary", m.Name()+".wav"))
	if ms := c.messages("mary"); len(ms) != 0 {
		t.Errorf("node c lists %+v once the deletion is all heard of", ms)
	}
}

// waitObjectGone waits until kept's node hands name's removal through a
// watch.
func waitObjectGone(t *testing.T, kept Store, name string) {
	t.Helper()
	waitWatched(t, name, true, func(seen func(string, bool)) (func(), error) {
		return kept.Objects.(*store.Objects).Watch(context.Background(), func(n string, deleted, _ bool) { seen(n, deleted) })
	})
}

// A message of audio alone (an old crash's leftover, an import) is given
// metadata by a start, and listed by it on every node, as load made of
// its audio: new, its length, no caller. (On a shared store a message is
// listed by its metadata alone: TestClusterDeletedMessageNotListedByItsAudio.)
func TestClusterStartGivesAudioAloneItsMetadata(t *testing.T) {
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	kb := sharedIn(t, cl.Stores[1], site)
	wav, err := encodeWAV(audio.FormatULaw, audio.PCMU.Encode(nil, audio.Tone(make([]int16, audio.Rate), 697, 8000, 0)))
	if err != nil {
		t.Fatal(err)
	}
	name := keptName("mary", msgName(1)+".wav")
	if err := kb.Objects.Put(context.Background(), name, wav); err != nil {
		t.Fatal(err)
	}
	ka := sharedIn(t, cl.Stores[0], site)
	waitObject(t, ka, name)
	a, toldA := joined(t, ka) // starts, and gives it metadata
	want := []Message{{ID: 1, Box: "mary", Folder: FolderNew, DurationMS: 1000, Codec: "PCMU"}}
	waitTold(t, toldA, "mary", "a lists the message", func() bool { return len(a.messages("mary")) == 1 })
	if d := cmp.Diff(want, a.messages("mary")); d != "" {
		t.Errorf("node a (-want +got):\n%s", d)
	}
	v, ok, err := ka.Keys.Get(context.Background(), keptName("mary", msgName(1)+".json"))
	if err != nil || !ok {
		t.Fatalf("the message's metadata: %v, %v; want it given", ok, err)
	}
	if m, err := parseMeta(v); err != nil || m.State != "" {
		t.Errorf("the message's metadata %s (%v): want it completed", v, err)
	}
	b, toldB := joined(t, kb)
	waitTold(t, toldB, "mary", "b lists the message", func() bool { return len(b.messages("mary")) == 1 })
	if d := cmp.Diff(want, b.messages("mary")); d != "" {
		t.Errorf("node b (-want +got):\n%s", d)
	}
}
