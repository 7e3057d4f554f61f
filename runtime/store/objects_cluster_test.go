package store_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// objectSeen is one object change a watch handed.
type objectSeen struct {
	name          string
	deleted, mine bool
}

// watchObjects follows o, handing each change on a channel.
func watchObjects(t *testing.T, o *store.Objects) <-chan objectSeen {
	t.Helper()
	ch := make(chan objectSeen, 16)
	stop, err := o.Watch(context.Background(), func(name string, deleted, mine bool) {
		ch <- objectSeen{name, deleted, mine}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	return ch
}

// waitObject waits for want on ch, skipping other changes.
func waitObject(t *testing.T, ch <-chan objectSeen, want objectSeen) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case got := <-ch:
			if got == want {
				return
			}
		case <-deadline:
			t.Fatalf("never saw %+v", want)
		}
	}
}

// Three nodes opening one site's object store at once make one, kept on
// all three (R3); what one puts the others read and are told of as not
// theirs, and a delete on one is seen by the others.
func TestObjectsClustered(t *testing.T) {
	nodes := storetest.Cluster(t, 3)
	ctx := context.Background()
	objs := make([]*store.Objects, 3)
	errs := make([]error, 3)
	var wg sync.WaitGroup
	for i, s := range nodes.Stores {
		wg.Add(1)
		go func() { defer wg.Done(); objs[i], errs[i] = s.Objects(ctx, "voicemail", "drill") }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("node %d: open: %v", i+1, err)
		}
		if r, err := objs[i].Replicas(ctx); err != nil || r != 3 {
			t.Fatalf("node %d: replicas %d, %v; want 3", i+1, r, err)
		}
	}
	own, other := watchObjects(t, objs[0]), watchObjects(t, objs[2])
	lagging := standInReplica(t, nodes.Stores[2], store.ObjectsStream("voicemail", "drill"), func(string) *nats.Msg { return notFound() })
	if err := objs[0].Put(ctx, "mary/msg-000001.wav", []byte("hello")); err != nil {
		t.Fatal(err)
	}
	waitObject(t, own, objectSeen{"mary/msg-000001.wav", false, true})
	// Node 3's watch announces the put; it reads the object at once, as
	// voicemail's follow does, and must read what was announced.
	waitObject(t, other, objectSeen{"mary/msg-000001.wav", false, false})
	data, ok, err := objs[2].Get(ctx, "mary/msg-000001.wav", 100)
	if err != nil || !ok || string(data) != "hello" {
		t.Fatalf("node 3 reads %q, %v, %v; want hello", data, ok, err)
	}
	// An object of several chunks (nats.go's are 128 KiB), and an empty
	// one, read back whole through node 3.
	large := make([]byte, 300<<10)
	for i := range large {
		large[i] = byte(i * 7 % 251)
	}
	for _, want := range [][]byte{large, {}} {
		if err := objs[0].Put(ctx, "mary/greeting.wav", want); err != nil {
			t.Fatal(err)
		}
		got, ok, err := objs[2].Get(ctx, "mary/greeting.wav", int64(len(large)))
		if err != nil || !ok || !bytes.Equal(got, want) {
			t.Fatalf("node 3 reads %d bytes, %v, %v; want the %d put", len(got), ok, err, len(want))
		}
	}
	if n := lagging.asked(); n > 0 {
		t.Fatalf("node 3 asked the nearest replica (a direct get) %d times; it may lag the put", n)
	}
	if err := objs[1].Delete(ctx, "mary/msg-000001.wav"); err != nil {
		t.Fatal(err)
	}
	waitObject(t, own, objectSeen{"mary/msg-000001.wav", true, false})
	if _, ok, err := objs[2].Get(ctx, "mary/msg-000001.wav", 100); err != nil || ok {
		t.Fatalf("node 3 reads the deleted object: %v, %v; want none", ok, err)
	}
}

// laggingReplica counts the direct gets it answered.
type laggingReplica struct {
	mu sync.Mutex
	n  int
}

func (l *laggingReplica) asked() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// standInReplica stands in, on node s's server, for a replica of stream
// that lags the writes its leader acknowledged: it answers each direct
// get of the stream that s's own requests send with what answer makes of
// its subject, as such a replica does (the two that acknowledged a write
// may leave the third a moment behind). JetStream has no knob to hold a
// replica back, and one cut off from its leader's replication (its
// routes) is cut off from the leader's answers too: the API's requests
// and the replication share the routes. Which member of the direct-get
// group answers a request is the server's pick, the asking node's own
// first, so the stand-in (a plain subscriber: it sees every direct get,
// and being on the asking node usually answers first) both makes such a
// read stale, often, and counts it, always: a read that can be answered
// by a lagging replica fails the test whichever answer came first.
func standInReplica(t *testing.T, s *store.Store, stream string, answer func(subject string) *nats.Msg) *laggingReplica {
	t.Helper()
	l := &laggingReplica{}
	// The node's own requests are answered on its connection's inbox (the
	// other nodes' writes ask too, and are left alone).
	mine := s.Conn().NewRespInbox()
	mine = mine[:strings.LastIndexByte(mine, '.')+1]
	handle := func(m *nats.Msg) {
		if !strings.HasPrefix(m.Reply, mine) {
			return
		}
		l.mu.Lock()
		l.n++
		l.mu.Unlock()
		_ = m.RespondMsg(answer(m.Subject))
	}
	for _, subject := range []string{"$JS.API.DIRECT.GET." + stream, "$JS.API.DIRECT.GET." + stream + ".>"} {
		sub, err := s.Conn().Subscribe(subject, handle)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = sub.Unsubscribe() })
	}
	if err := s.Conn().Flush(); err != nil {
		t.Fatal(err)
	}
	return l
}

// notFound is a direct get's answer from a replica without the message.
func notFound() *nats.Msg {
	return &nats.Msg{Header: nats.Header{"Status": []string{"404"}, "Description": []string{"Message Not Found"}}}
}
