package store_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/events"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// leaderChild is set in the child process of
// TestEventLogBatchSurvivesLeaderKill: "dir peer", the directory of the
// node it runs and the address it routes to first.
const leaderChild = "SWITCHBOARD_STORE_LEADER_CHILD"

// The nodes of the test's cluster (storetest.Cluster's settings).
const (
	childNode     = "node3"
	clusterSecret = "test secret"
)

// A batch sent (AppendAsync) while the stream's leader is killed (kill -9:
// no stepdown, no goodbye, as in issue 20's drill) is stored whole, each
// event once, when the survivors have elected another: Flush sends again
// what reached no leader, rather than counting it lost (the drill saw
// "2 of 4 events not stored"). When another node writes in between, a
// count of the stream's sequence would not even see the loss: the events
// themselves are checked.
//
// The leader runs in a child process, so that it can be killed; a node
// closed in this process would first hand its leadership over.
func TestEventLogBatchSurvivesLeaderKill(t *testing.T) {
	if v := os.Getenv(leaderChild); v != "" {
		runLeaderChild(v)
		return
	}
	for _, tc := range []struct {
		name   string
		others int // events another node stores after the new leader is in, before the Flush
	}{
		{"alone", 0},
		{"another node writes between", 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			kill, nodes := clusterWithChild(t)
			logs := make([]*store.EventLog, 2)
			for i, s := range nodes {
				var err error
				if logs[i], err = s.EventLog(ctx, "drill", store.Limits{}); err != nil {
					t.Fatalf("node %d: %v", i+1, err)
				}
			}
			// logs[0] writes the batch, logs[1] is the other survivor. The
			// child leads the stream: the leader to kill.
			waitLeader(t, logs[0], func(leader string) bool {
				if leader == childNode {
					return true
				}
				mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				_ = logs[0].MoveLeader(mctx, childNode) // asked again until it is
				return false
			})
			if _, err := logs[0].Append(ctx, events.Event{Kind: events.CallStarted, Call: "before"}, 0); err != nil {
				t.Fatal(err)
			}

			kill()
			// What the writer sends before the survivors elect a leader
			// (seconds: their election timeout) reaches none.
			const batch = 4
			var want []string
			for i := range batch {
				call := fmt.Sprint("batch-", i)
				want = append(want, call)
				if err := logs[0].AppendAsync(events.Event{Kind: events.CallStarted, Call: call}, 0); err != nil {
					t.Fatalf("AppendAsync %d: %v", i, err)
				}
			}
			waitLeader(t, logs[1], func(leader string) bool { return leader != "" && leader != childNode })
			for i := range tc.others {
				if _, err := logs[1].Append(ctx, events.Event{Kind: events.CallEnded, Call: fmt.Sprint("other-", i)}, 0); err != nil {
					t.Fatal(err)
				}
			}
			if failed, err := logs[0].Flush(ctx); failed != 0 || err != nil {
				t.Errorf("Flush after the leader's loss: %d not stored, %v; want all stored", failed, err)
			}
			// The next event's ID is the stream's, whatever was resent.
			id, err := logs[0].Append(ctx, events.Event{Kind: events.CallStarted, Call: "after"}, 0)
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, "after")

			rs, err := logs[1].Read(ctx, 1, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				if r.Lost != 0 {
					t.Errorf("event %d (%s) says %d events were lost before it", r.Seq, r.Call, r.Lost)
				}
				if r.Call == "after" && r.Seq != id {
					t.Errorf("Append said ID %d, the stream keeps the event at %d", id, r.Seq)
				}
				if strings.HasPrefix(r.Call, "batch-") || r.Call == "after" {
					got = append(got, r.Call)
				}
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("the writer's events in the stream (-want +got):\n%s", d)
			}
		})
	}
}

// clusterWithChild starts a cluster of three nodes on 127.0.0.1: node3 in
// a child process (kill kills it with SIGKILL and waits until it is gone),
// node1 and node2 in this one (closed at the test's end). Ports are the
// kernel's, as storetest.Cluster's: the child routes to a placeholder
// listener and says its route address; the others route to it.
func clusterWithChild(t *testing.T) (kill func(), nodes []*store.Store) {
	t.Helper()
	placeholder := storetest.Placeholder(t)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestEventLogBatchSurvivesLeaderKill$")
	cmd.Env = append(os.Environ(), leaderChild+"="+t.TempDir()+" "+placeholder)
	cmd.Stderr = os.Stderr
	// The child lives while its stdin is open: it goes with this process,
	// however this one ends.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once bool
	kill = func() {
		if once {
			return
		}
		once = true
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	}
	t.Cleanup(func() { stdin.Close(); kill(); cancel() })
	route := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if a, ok := strings.CutPrefix(sc.Text(), "route "); ok {
				route <- a
			}
		}
		close(route)
	}()
	var peers []string
	select {
	case a, ok := <-route:
		if !ok {
			t.Fatal("the child node ended without saying its route address")
		}
		peers = append(peers, a)
	case <-time.After(time.Minute):
		t.Fatal("the child node did not say its route address within a minute")
	}
	// Two of three make a majority: each Open returns once the child and
	// the nodes before it have a leader.
	for i := range 2 {
		s, err := store.Open(store.Options{Dir: t.TempDir(), Logger: slog.New(slog.DiscardHandler), Cluster: clusterNode(fmt.Sprint("node", i+1), peers, nil)})
		if err != nil {
			t.Fatalf("node %d: %v", i+1, err)
		}
		t.Cleanup(s.Close)
		nodes = append(nodes, s)
		peers = append(peers, s.RouteAddr().String())
	}
	return kill, nodes
}

func clusterNode(name string, peers []string, listening func(net.Addr)) *store.Cluster {
	return &store.Cluster{
		Node: name, Listen: "127.0.0.1:0", Peers: peers, Secret: clusterSecret, Nodes: 3, Wait: 2 * time.Minute,
		Listening: listening,
	}
}

// runLeaderChild runs node3 until its stdin closes (or it is killed).
func runLeaderChild(v string) {
	dir, peer, _ := strings.Cut(v, " ")
	s, err := store.Open(store.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler), Cluster: clusterNode(childNode, []string{peer}, func(a net.Addr) {
		fmt.Println("route", a)
	})})
	if err != nil {
		fmt.Fprintln(os.Stderr, "child node:", err)
		return
	}
	defer s.Close()
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// waitLeader waits until ok holds of the stream's leader ("" while
// it has none). The cluster tells no one: it is asked, again, as
// Store.Open asks for the meta leader.
func waitLeader(t testing.TB, l interface{ Leader(context.Context) string }, ok func(leader string) bool) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		leader := l.Leader(ctx)
		cancel()
		if ok(leader) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stream's leader is still %q after a minute", leader)
		}
		<-tick.C
	}
}
