package store_test

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"

	"switchboard/runtime/events"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// An event stream's byte limit caps that stream; it is not set aside
// against the disk: more sites start than 75 % of the free disk space
// (nats-server's max store when none is given) would hold at their
// limits, and each keeps its events.
func TestEventStreamsBeyondFreeDisk(t *testing.T) {
	dir := t.TempDir()
	var fs syscall.Statfs_t
	if err := syscall.Statfs(dir, &fs); err != nil {
		t.Skipf("no free space figure for %s: %v", dir, err)
	}
	room := int64(fs.Bavail) * int64(fs.Bsize) / 4 * 3
	// The default limit where that takes few streams; on a large disk a
	// larger one, so that the test stays quick. Two streams over what the
	// room holds, in case some space is freed before the server starts.
	const most = 40
	limit := store.DefaultLimits.MaxBytes
	if room/limit+2 > most {
		limit = room/(most-2) + 1
	}
	n := int(room/limit) + 2
	t.Logf("%d streams of %d MiB each; 75 %% of the free space is %d MiB", n, limit>>20, room>>20)

	s, err := store.Open(store.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendEach(t, s, n, limit)
}

// So too in memory (serve -keep-in-memory, the memory store of sites
// given none), where nats-server's max memory when none is given is 75 %
// of the RAM, or of GOMEMLIMIT when that is less: set low here, it would
// hold not one stream at the default limit.
func TestEventStreamsBeyondMemory(t *testing.T) {
	old := debug.SetMemoryLimit(512 << 20)
	s, err := store.Open(store.Options{})
	debug.SetMemoryLimit(old)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	appendEach(t, s, 3, store.DefaultLimits.MaxBytes)
}

// So too on the nodes of an embedded cluster, where the budget was each
// node's and a stream past it found no node to hold it ("no suitable
// peers for placement, insufficient storage"): a stream whose limit is
// more than the whole free space of the nodes' disk is placed on all three.
func TestClusterStreamBeyondFreeDisk(t *testing.T) {
	nodes := storetest.Cluster(t, 3)
	var fs syscall.Statfs_t
	if err := syscall.Statfs(t.TempDir(), &fs); err != nil {
		t.Skipf("no free space figure: %v", err)
	}
	limit := int64(fs.Bavail)*int64(fs.Bsize) + 1
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := nodes.Stores[0].EventLog(ctx, "harbour", store.Limits{MaxBytes: limit})
	if err != nil {
		t.Fatalf("a stream of %d MiB: %v", limit>>20, err)
	}
	e := events.Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Kind: events.DoorOpened, Device: "gate", Relay: "door"}
	if seq, err := l.Append(ctx, e, 0); err != nil || seq != 1 {
		t.Fatalf("Append: %d, %v", seq, err)
	}
}

// An external NATS server, whose limits serve cannot change, does set a
// stream's byte limit aside: refused, the error says what to change.
func TestExternalServerWithoutRoom(t *testing.T) {
	srv, err := server.NewServer(&server.Options{
		Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true,
		JetStreamMaxStore: 1 << 30,
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start()
	defer func() { srv.Shutdown(); srv.WaitForShutdown() }()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("the external server did not start")
	}
	s, err := store.Open(store.Options{Cluster: &store.Cluster{Node: "a", URL: srv.ClientURL(), Wait: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	_, err = s.EventLog(ctx, "harbour", store.Limits{})
	var api *jetstream.APIError
	if !errors.As(err, &api) || api.ErrorCode != 10047 {
		t.Fatalf("a 2 GiB stream on a server of 1 GiB: %v; want JetStream's error 10047", err)
	}
	for _, want := range []string{"-events-max-bytes", "max_file_store on the NATS servers"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if _, err := s.EventLog(ctx, "harbour", store.Limits{MaxBytes: 512 << 20}); err != nil {
		t.Errorf("a 512 MiB stream on a server of 1 GiB: %v", err)
	}
}

// appendEach opens n event streams of byte limit limit in s and stores an
// event in each.
func appendEach(t *testing.T, s *store.Store, n int, limit int64) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range n {
		l, err := s.EventLog(ctx, fmt.Sprintf("site%d", i), store.Limits{MaxBytes: limit})
		if err != nil {
			t.Fatalf("stream %d of %d: %v", i+1, n, err)
		}
		e := events.Event{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Kind: events.DoorOpened, Device: "gate", Relay: "door"}
		if seq, err := l.Append(ctx, e, 0); err != nil || seq != 1 {
			t.Fatalf("stream %d of %d: Append: %d, %v", i+1, n, seq, err)
		}
	}
}
