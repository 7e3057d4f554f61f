// Package storetest gives tests the real embedded store, cheaply: one
// server per test binary, in a temporary directory, shared by the tests of
// a package, each test keeping its things under a site name of its own.
package storetest

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"switchboard/runtime/store"
)

var (
	once   sync.Once
	shared *store.Store
	dir    string
	err    error
)

// Shared returns the test binary's store (on disk, in a temporary
// directory), opening it at the first call. Run removes it.
func Shared(t testing.TB) *store.Store {
	t.Helper()
	once.Do(func() {
		if dir, err = os.MkdirTemp("", "switchboard-storetest-"); err != nil {
			return
		}
		shared, err = store.Open(store.Options{Dir: dir})
	})
	if err != nil {
		t.Fatalf("opening the shared store: %v", err)
	}
	return shared
}

// Limits bound a test's event stream in the shared store to 64 MiB:
// JetStream reserves each stream's byte limit against the store's share
// of the free disk (three quarters), and the default 2 GiB a stream let
// only three streams into a test machine with 10 GB free (the next: code
// 10047, "insufficient storage resources available"; seen with go test
// -count=2, and a fuller disk would see it at once).
var Limits = store.Limits{MaxBytes: 64 << 20}

var unsafe = regexp.MustCompile(`[^A-Za-z0-9_-]+`)

// sites is the site name given to each test of this process, and which
// names were given: a test run again (go test -count=N) has the same name
// but must not find its last run's things in the shared store (a key it
// creates would be held already).
var sites struct {
	sync.Mutex
	byTest map[testing.TB]string
	given  map[string]bool
}

// Site returns a site name of t's own, so that tests sharing the store do
// not see each other's things, nor their own from an earlier run in this
// process: the test's name, with a number after it from its second run
// on. Called again for the same t, it returns the same name.
func Site(t testing.TB) string {
	sites.Lock()
	defer sites.Unlock()
	if name, ok := sites.byTest[t]; ok {
		return name
	}
	if sites.byTest == nil {
		sites.byTest, sites.given = map[testing.TB]string{}, map[string]bool{}
	}
	base := unsafe.ReplaceAllString(t.Name(), "_")
	name := base
	for i := 2; sites.given[name]; i++ {
		name = fmt.Sprintf("%s_%d", base, i)
	}
	sites.byTest[t], sites.given[name] = name, true
	return name
}

// Run runs the tests of m, then closes the shared store and removes its
// directory: func TestMain(m *testing.M) { os.Exit(storetest.Run(m)) }.
func Run(m *testing.M) int {
	code := m.Run()
	if shared != nil {
		shared.Close()
	}
	if dir != "" {
		_ = os.RemoveAll(dir)
	}
	return code
}

// Nodes are the stores of a test's cluster, one embedded server each,
// joined by routes over loopback.
type Nodes struct {
	Stores []*store.Store
	closed []bool
}

// Stop closes node i, as a node that goes away (its peers see its routes
// close); the cluster's cleanup closes the others.
func (n *Nodes) Stop(i int) {
	if !n.closed[i] {
		n.closed[i] = true
		n.Stores[i].Close()
	}
}

// Cluster starts count (at least 2) stores clustered on 127.0.0.1, each in
// a directory of its own, and returns once the cluster has its leader.
//
// The route ports are the kernel's choice, so no test races another for
// a port: node 0 starts first, routed to a placeholder listener the test
// holds (JetStream wants a configured route to start clustered), each
// later node to the nodes before it; the routes gossip the rest.
func Cluster(t testing.TB, count int) *Nodes {
	t.Helper()
	placeholder := Placeholder(t)
	n := &Nodes{Stores: make([]*store.Store, count), closed: make([]bool, count)}
	type opened struct {
		i   int
		s   *store.Store
		err error
	}
	results := make(chan opened, count)
	peers := []string{placeholder}
	for i := range count {
		listening := make(chan string, 1)
		c := &store.Cluster{
			Node: fmt.Sprintf("node%d", i+1), Listen: "127.0.0.1:0", Peers: slices.Clone(peers),
			Secret: "test secret", Nodes: count, Wait: 2 * time.Minute,
			Listening: func(a net.Addr) { listening <- a.String() },
		}
		go func() {
			s, err := store.Open(store.Options{Dir: t.TempDir(), Cluster: c, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				close(listening)
			}
			results <- opened{i, s, err}
		}()
		a, ok := <-listening
		if !ok {
			r := <-results
			t.Fatalf("node %d: %v", r.i+1, r.err)
		}
		if i == 0 {
			peers = nil
		}
		peers = append(peers, a)
	}
	var errs []error
	for range count {
		r := <-results
		if r.err != nil {
			errs = append(errs, fmt.Errorf("node %d: %w", r.i+1, r.err))
			continue
		}
		n.Stores[r.i] = r.s
	}
	t.Cleanup(func() {
		for i, s := range n.Stores {
			if s != nil {
				n.Stop(i)
			}
		}
	})
	if len(errs) > 0 {
		t.Fatal(errors.Join(errs...))
	}
	return n
}

// Placeholder is the address of a listener that takes every connection
// and closes it, until the test ends: a route for a first node to be
// configured with (JetStream wants one to start clustered), so that
// every route port can be the kernel's choice.
func Placeholder(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return l.Addr().String()
}
