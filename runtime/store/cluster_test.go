package store_test

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats-server/v2/server"

	"switchboard/runtime/events"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// watchFor waits until kv holds key with want (a watch: the value may
// reach this node's replica after the write's answer), and says whether
// this node wrote it.
func watchFor(t *testing.T, kv *store.KV, key, want string) (mine bool) {
	t.Helper()
	got := make(chan struct{})
	var once sync.Once
	stop, err := kv.Watch(context.Background(), func(k string, v []byte, _ time.Time, deleted, m bool) {
		if k == key && !deleted && string(v) == want {
			once.Do(func() { mine = m; close(got) })
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s=%s never arrived", key, want)
	}
	return mine
}

// Three embedded servers joined by routes over loopback keep a bucket and
// an event stream on all three (R3): what one writes the others read, all
// three opening them at once make one (one epoch), and once a node is
// gone the other two, a majority, keep reading and writing.
func TestClusterSharesAndSurvivesANode(t *testing.T) {
	nodes := storetest.Cluster(t, 3)
	ctx := context.Background()
	for i, s := range nodes.Stores {
		if s.Replicas() != 3 || !s.Clustered() || s.RouteAddr() == nil {
			t.Fatalf("node %d: replicas %d, clustered %v, route %v; want 3, true, an address", i+1, s.Replicas(), s.Clustered(), s.RouteAddr())
		}
	}

	// Every node opens the bucket and the stream at once, as serve does
	// when a cluster starts: neither fails, and they agree.
	kvs := make([]*store.KV, 3)
	logs := make([]*store.EventLog, 3)
	errs := make([]error, 6)
	var wg sync.WaitGroup
	for i, s := range nodes.Stores {
		wg.Add(2)
		go func() { defer wg.Done(); kvs[i], errs[i] = s.KV(ctx, "registrations", "drill") }()
		go func() { defer wg.Done(); logs[i], errs[3+i] = s.EventLog(ctx, "drill", store.Limits{}) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
	}
	// A get right after the bucket is made, on every node: answered
	// (no key), not "no responders" while its replicas start.
	for i, kv := range kvs {
		if _, ok, err := kv.Get(ctx, "nobody"); ok || err != nil {
			t.Errorf("node %d: a get in the new bucket: %v, %v", i+1, ok, err)
		}
	}
	if logs[0].Epoch() != logs[1].Epoch() || logs[1].Epoch() != logs[2].Epoch() {
		t.Fatalf("three epochs for one stream: %s %s %s", logs[0].Epoch(), logs[1].Epoch(), logs[2].Epoch())
	}
	// Opened again with the same settings: the same bucket and stream.
	if _, err := nodes.Stores[2].KV(ctx, "registrations", "drill"); err != nil {
		t.Fatal(err)
	}
	if again, err := nodes.Stores[1].EventLog(ctx, "drill", store.Limits{}); err != nil || again.Epoch() != logs[0].Epoch() {
		t.Fatalf("reopened: %v, epoch %v, want %s", err, again, logs[0].Epoch())
	}

	if err := kvs[0].Put(ctx, "app.mary", []byte("one"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if !watchFor(t, kvs[0], "app.mary", "one") {
		t.Error("the writer's watch does not know the write as its own")
	}
	if watchFor(t, kvs[1], "app.mary", "one") || watchFor(t, kvs[2], "app.mary", "one") {
		t.Error("another node's watch takes the write for its own")
	}
	// A reader on node 3 (Tail) sees what node 1 writes: the readers of
	// a node are handed every node's events.
	tailed := make(chan store.Record, 4)
	stopTail := logs[2].Tail(1, nil, func(r store.Record) { tailed <- r }, func(err error) { t.Error(err) })
	defer stopTail()
	if _, err := logs[0].Append(ctx, events.Event{Kind: events.CallStarted, Call: "c1"}, 0); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-tailed:
		if r.Seq != 1 || r.Kind != events.CallStarted {
			t.Errorf("node 3's tail got %+v, want event 1, call-started", r)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node 3's tail never saw node 1's event")
	}

	nodes.Stop(0)

	// The first write after may find the bucket's leader gone, until the
	// other two elect one (a few seconds): Put sends it again until then.
	if err := kvs[1].Put(ctx, "app.bob", []byte("two"), time.Minute); err != nil {
		t.Fatalf("a write with one node of three gone: %v", err)
	}
	watchFor(t, kvs[2], "app.bob", "two")
	if err := kvs[2].Put(ctx, "app.mary", []byte("three"), time.Minute); err != nil {
		t.Fatalf("a write with one node of three gone: %v", err)
	}
	watchFor(t, kvs[1], "app.mary", "three")
	if _, err := logs[2].Append(ctx, events.Event{Kind: events.CallEnded, Call: "c1"}, 0); err != nil {
		t.Fatal(err)
	}
	got, err := logs[1].Read(ctx, 1, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Record{{Seq: 1, Event: events.Event{Kind: events.CallStarted, Call: "c1"}}, {Seq: 2, Event: events.Event{Kind: events.CallEnded, Call: "c1"}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the stream read on a survivor (-want +got):\n%s", d)
	}
}

// A single node opens no port and keeps one copy, as before clusters.
func TestSingleNodeOpensNoPort(t *testing.T) {
	s, err := store.Open(store.Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.RouteAddr() != nil || s.Replicas() != 1 || s.Clustered() {
		t.Errorf("route %v, replicas %d, clustered %v; want none, 1, false", s.RouteAddr(), s.Replicas(), s.Clustered())
	}
}

// A cluster that cannot work is refused before anything starts, saying
// why.
func TestClusterOptionsChecked(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    store.Cluster
		want string
	}{
		{"no peers", store.Cluster{Node: "a", Listen: "127.0.0.1:0"}, "at least one other node"},
		{"no listen", store.Cluster{Node: "a", Peers: []string{"127.0.0.1:6222"}}, "route listen address"},
		{"both", store.Cluster{Node: "a", Listen: "127.0.0.1:0", URL: "nats://127.0.0.1:4222"}, "not both"},
		{"bad peer", store.Cluster{Node: "a", Listen: "127.0.0.1:0", Peers: []string{"127.0.0.1"}}, `peer "127.0.0.1"`},
		{"credentials in URL", store.Cluster{Node: "a", URL: "nats://me:secret@127.0.0.1:4222"}, "carries credentials"},
		// A URL that does not parse is not shown either: its password
		// is as plain there.
		{"credentials in a URL that does not parse", store.Cluster{Node: "a", URL: "nats://me:secret@127.0.0.1:42x2"}, "is not a NATS URL"},
		{"not NATS", store.Cluster{Node: "a", URL: "http://127.0.0.1:4222"}, "is not a NATS URL"},
		{"no name", store.Cluster{Listen: "127.0.0.1:0", Peers: []string{"127.0.0.1:6222"}}, "needs a name"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := store.Open(store.Options{Dir: t.TempDir(), Cluster: &tc.c})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			if strings.Contains(err.Error(), "secret") {
				t.Errorf("the error shows the password: %v", err)
			}
		})
	}
}

// A store on an external NATS server (-cluster-url) logs in with the
// credentials given apart from the URL, keeps its bucket there, and is
// refused with wrong ones.
func TestExternalServer(t *testing.T) {
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		Username: "switchboard", Password: "the right one",
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the external server did not start")
	}
	c := &store.Cluster{Node: "a", URL: srv.ClientURL(), User: "switchboard", Password: "the right one", Wait: 30 * time.Second}
	s, err := store.Open(store.Options{Cluster: c})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Replicas() != 1 || !s.Clustered() || s.RouteAddr() != nil {
		t.Errorf("replicas %d, clustered %v, route %v; want 1 (one server), true, none", s.Replicas(), s.Clustered(), s.RouteAddr())
	}
	ctx := context.Background()
	kv, err := s.KV(ctx, "registrations", "external")
	if err != nil {
		t.Fatal(err)
	}
	if err := kv.Put(ctx, "app.mary", []byte("one"), time.Minute); err != nil {
		t.Fatal(err)
	}
	if v, ok, err := kv.Get(ctx, "app.mary"); err != nil || !ok || string(v) != "one" {
		t.Errorf("Get: %q, %v, %v", v, ok, err)
	}

	wrong := *c
	wrong.Password = "a wrong one"
	if _, err := store.Open(store.Options{Cluster: &wrong}); err == nil || strings.Contains(err.Error(), "wrong one") {
		t.Errorf("wrong credentials: %v; want an error without the password", err)
	}
}

// A node whose peers never answer gives up after Cluster.Wait, saying how
// many nodes the cluster needs.
func TestClusterWithoutPeersGivesUp(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	nobody := l.Addr().String()
	l.Close() // a peer that is down: its port refuses
	start := time.Now()
	_, err = store.Open(store.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Cluster: &store.Cluster{
		Node: "lonely", Listen: "127.0.0.1:0", Peers: []string{nobody}, Nodes: 3, Wait: time.Second,
	}})
	if !errors.Is(err, store.ErrNoLeader) || !strings.Contains(err.Error(), "needs 2 of them up") {
		t.Fatalf("got %v, want ErrNoLeader saying a cluster of 3 needs 2", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("gave up after %s, want about a second", d)
	}
}
