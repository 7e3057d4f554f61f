package voicemail

import (
	"strings"
	"testing"
	"time"

	"switchboard/runtime/audio"
	"switchboard/runtime/store/storetest"
)

// followed opens, on every node of a test cluster, the voicemail of one
// site as serve does in a cluster (Shared), and returns each node's
// service with the boxes its watchers were told of.
func followed(t *testing.T, nodes int) ([]*testEnv, []<-chan string) {
	t.Helper()
	cl := storetest.Cluster(t, nodes)
	site := storetest.Site(t)
	envs := make([]*testEnv, nodes)
	told := make([]<-chan string, nodes)
	for i, st := range cl.Stores {
		kept := keptIn(t, st, site)
		kept.Shared = true
		envs[i] = newEnv(t, func(c *Config) { c.Store = kept })
		ch := make(chan string, 64)
		stop := envs[i].s.Watch(func(box string) {
			select {
			case ch <- box:
			default: // the test reads the box itself: a tell lost is a wait longer
			}
		})
		t.Cleanup(stop)
		told[i] = ch
	}
	return envs, told
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
