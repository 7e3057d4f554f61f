package voicemail

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/email"
	"switchboard/runtime/audio"
	"switchboard/runtime/line"
	"switchboard/runtime/store/storetest"
)

// followed opens, on every node of a test cluster, the voicemail of one
// site as serve does in a cluster (Shared), with edit's settings, and
// returns each node's service with the boxes its watchers were told of.
func followed(t *testing.T, nodes int, edit ...func(*Config)) ([]*testEnv, []<-chan string) {
	t.Helper()
	cl := storetest.Cluster(t, nodes)
	site := storetest.Site(t)
	envs := make([]*testEnv, nodes)
	told := make([]<-chan string, nodes)
	for i, st := range cl.Stores {
		kept := keptIn(t, st, site)
		kept.Shared = true
		envs[i], told[i] = joined(t, kept, edit...)
	}
	return envs, told
}

// joined opens the voicemail of a cluster node's store kept (Shared), with
// edit's settings, and returns it with the boxes its watchers were told of.
func joined(t *testing.T, kept Store, edit ...func(*Config)) (*testEnv, <-chan string) {
	t.Helper()
	e := newEnv(t, append([]func(*Config){func(c *Config) { c.Store = kept }}, edit...)...)
	ch := make(chan string, 64)
	stop := e.s.Watch(func(box string) {
		select {
		case ch <- box:
		default: // the test reads the box itself: a tell lost is a wait longer
		}
	})
	t.Cleanup(stop)
	return e, ch
}

// waitTold waits, a tell of box at a time, until cond holds.
func waitTold(t *testing.T, told <-chan string, box, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for !cond() {
		select {
		case <-told:
		case <-deadline:
			t.Fatalf("never: %s", what)
		}
	}
}

// A message left through one node is listed and played through another,
// whose watchers (the message-waiting NOTIFY) are told; heard on the
// first, it counts as heard on the second; deleted through the second,
// it is gone on the first.
func TestFollowOtherNodes(t *testing.T) {
	envs, told := followed(t, 2)
	a, b := envs[0], envs[1]
	if ms := b.messages("mary"); len(ms) != 0 { // b has read the box: it must read it again
		t.Fatalf("b starts with %+v", ms)
	}
	summary := func(e *testEnv, want string) func() bool {
		return func() bool { return strings.Contains(string(e.s.MessageSummary("mary")), want) }
	}

	m := a.addMessage("mary", FolderNew, epoch, 1, 697)
	waitTold(t, told[1], "mary", "b lists the message a took", func() bool { return len(b.messages("mary")) == 1 })
	if got := b.messages("mary")[0]; got != m {
		t.Errorf("b lists %+v, a took %+v", got, m)
	}
	if !summary(b, "Voice-Message: 1/0")() {
		t.Errorf("b's summary %q", b.s.MessageSummary("mary"))
	}
	pcm, err := b.s.PCM("mary", m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := audio.ReadWAV(pcm); err != nil || len(w.Samples) != audio.Rate || audio.ToneLevel(w.Samples, 697) < 7000 {
		t.Errorf("b plays it back: %v", err)
	}

	if err := a.s.MarkHeard("mary", m.ID); err != nil {
		t.Fatal(err)
	}
	waitTold(t, told[1], "mary", "b counts it heard", summary(b, "Voice-Message: 0/1"))

	if err := b.s.Delete("mary", m.ID, "app.mary"); err != nil {
		t.Fatal(err)
	}
	waitTold(t, told[0], "mary", "a no longer lists it", func() bool { return len(a.messages("mary")) == 0 })
	if !summary(a, "Messages-Waiting: no")() || !summary(a, "Voice-Message: 0/0")() {
		t.Errorf("a's summary %q", a.s.MessageSummary("mary"))
	}
	if _, err := a.s.PCM("mary", m.ID); err != ErrNoMessage {
		t.Errorf("a plays the deleted message: %v", err)
	}
}

// Two nodes recording a message for one box at once give both the same
// number when they start; the one that finishes second, having learnt of
// the other's, stores its message under the next: both are kept.
func TestFollowRenumbers(t *testing.T) {
	envs, told := followed(t, 2)
	a, b := envs[0], envs[1]
	bx, err := a.s.box("mary")
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.s.startMessage(bx, audio.PCMU, Message{Time: epoch, From: From{Account: "device.front-gate"}})
	if err != nil {
		t.Fatal(err)
	}
	r.add(line.Frame{Samples: audio.Tone(make([]int16, audio.Rate), 941, 8000, 0)})
	theirs := b.addMessage("mary", FolderNew, epoch, 1, 697)
	waitTold(t, told[0], "mary", "a lists b's message", func() bool { return len(a.messages("mary")) == 1 })
	if r.id != theirs.ID {
		t.Fatalf("a's recording has number %d, b's message %d: the test needs them the same", r.id, theirs.ID)
	}
	mine, err := r.finishMessage(1)
	if err != nil || mine == nil {
		t.Fatalf("finishMessage: %v", err)
	}
	if mine.ID == theirs.ID {
		t.Fatalf("a stored its message under b's number %d", theirs.ID)
	}
	for i, e := range envs {
		waitTold(t, told[i], "mary", "both messages on every node", func() bool { return len(e.messages("mary")) == 2 })
		for _, m := range []struct {
			id   int
			tone float64
		}{{theirs.ID, 697}, {mine.ID, 941}} {
			pcm, err := e.s.PCM("mary", m.id)
			if err != nil {
				t.Fatalf("node %d, message %d: %v", i+1, m.id, err)
			}
			if w, err := audio.ReadWAV(pcm); err != nil || audio.ToneLevel(w.Samples, m.tone) < 7000 {
				t.Errorf("node %d, message %d is not its recording: %v", i+1, m.id, err)
			}
		}
	}
	if d := cmp.Diff([]string{keptMark, "mary/.rec-000002.json", "mary/.rec-000002.wav"}, localFiles(t, a.dir)); d != "" {
		t.Errorf("a's local files, kept under the number stored (-want +got):\n%s", d)
	}
}

// Each node of a cluster counts, for the plan, what another node stored:
// its inventory follows the other nodes' writes as its index does.
func TestCountFollowsOtherNodes(t *testing.T) {
	envs, told := followed(t, 2)
	a, b := envs[0], envs[1]
	a.addMessage("mary", FolderNew, epoch, 1, 440)
	waitTold(t, told[1], "mary", "node b counts node a's message", func() bool {
		inv, err := Count(b.dir, "mary")
		return err == nil && inv.Messages == 1
	})
}

// Every node of a cluster retires a removed person's box at its start and
// reload, and the owner gets the archive by mail once, not once a node
// (the regression: each node found no record and sent its own). A send
// that fails leaves the mail to the next Retire, on any node.
func TestArchiveMailedOnceByACluster(t *testing.T) {
	var mu sync.Mutex
	var sent []string
	refuse := true
	envs, told := followed(t, 3, func(c *Config) {
		c.Mailer = mailerFunc(func(m email.Message) error {
			mu.Lock()
			defer mu.Unlock()
			if refuse {
				return errors.New("421 try later")
			}
			sent = append(sent, m.To)
			return nil
		})
	})
	envs[0].addMessage("gone", FolderNew, epoch, 1, 440)
	for i, e := range envs[1:] {
		waitTold(t, told[i+1], "gone", "every node has the box", func() bool { ok, _ := e.s.shelf.has("gone"); return ok })
	}
	p := *envs[0].prog
	p.Retired = []ir.Retired{{Identity: "gone", User: "gone", Data: "archive", ArchiveUntil: epoch.Add(time.Hour)}}
	retireAll := func() {
		var wg sync.WaitGroup
		for _, e := range envs {
			wg.Go(func() { e.s.Retire(&p, epoch) })
		}
		wg.Wait()
		for _, e := range envs {
			e.s.mail.Wait()
		}
	}
	retireAll() // the mail server refuses: nothing is recorded
	mu.Lock()
	refuse = false
	mu.Unlock()
	retireAll()
	retireAll() // sent: nothing more
	mu.Lock()
	defer mu.Unlock()
	if d := cmp.Diff([]string{"mary@example.com"}, sent); d != "" {
		t.Errorf("mails sent (-want +got):\n%s", d)
	}
}
