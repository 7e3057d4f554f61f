package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"

	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// Puts sent (PutAsync, as the registrar writes bindings) while the
// bucket's leader is killed (kill -9, as in issue 20's drill) are all
// stored when the survivors have elected another: Flush sends again what
// reached no leader, rather than counting it lost; and when another node
// writes the bucket in between, a count of the stream's sequence would
// not even see the loss (Flush said nothing while keys were missing): the
// keys themselves are checked. A binding lost so is unseen by the other
// nodes until the device registers again.
//
// The leader runs in a child process (clusterWithChild), so that it can
// be killed.
func TestKVBatchSurvivesLeaderKill(t *testing.T) {
	for _, tc := range []struct {
		name   string
		others int // keys another node puts after the new leader is in, before the Flush
	}{
		{"alone", 0},
		{"another node writes between", 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			kill, nodes := clusterWithChild(t)
			writer, err := nodes[0].KV(ctx, "registrations", "drill")
			if err != nil {
				t.Fatal(err)
			}
			other, err := nodes[1].KV(ctx, "registrations", "drill")
			if err != nil {
				t.Fatal(err)
			}
			// The child leads the bucket's stream: the leader to kill.
			waitLeader(t, writer, func(leader string) bool {
				if leader == childNode {
					return true
				}
				mctx, cancel := context.WithTimeout(ctx, 2*time.Second)
				defer cancel()
				_ = writer.MoveLeader(mctx, childNode) // asked again until it is
				return false
			})
			want := map[string][]byte{"before": []byte("before")}
			if err := writer.Put(ctx, "before", want["before"], time.Hour); err != nil {
				t.Fatal(err)
			}

			kill()
			// What the writer sends before the survivors elect a leader
			// (seconds: their election timeout) reaches none.
			const batch = 4
			for i := range batch {
				k := fmt.Sprint("batch-", i)
				want[k] = []byte(k)
				if err := writer.PutAsync(k, want[k], time.Hour); err != nil {
					t.Fatalf("PutAsync %d: %v", i, err)
				}
			}
			waitLeader(t, other, func(leader string) bool { return leader != "" && leader != childNode })
			for i := range tc.others {
				k := fmt.Sprint("other-", i)
				want[k] = []byte(k)
				if err := other.Put(ctx, k, want[k], time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			if err := writer.Flush(ctx); err != nil {
				t.Errorf("Flush after the leader's loss: %v; want all stored", err)
			}

			// Watch, as the other nodes follow the bucket: it hands every
			// key's value before it returns.
			got := map[string][]byte{}
			stop, err := other.Watch(ctx, func(key string, value []byte, _ time.Time, deleted, _ bool) {
				if !deleted {
					got[key] = value
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			stop()
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("the bucket's keys (-want +got):\n%s", d)
			}
		})
	}
}

// Revision reads the latest value a key has, and its revision, through a
// node whose replica of the bucket lags the writes the leader
// acknowledged: its revision decides a conditional write (Update,
// DeleteRevision; voicemail's start sweeps a crash's metadata so), and a
// read from that replica (a direct get, which the asking node's own
// replica answers) said "not found" of a key another node had put, or
// gave the revision before the latest, and the write was then skipped or
// refused. The lagging replica is a stand-in on node 3 answering as the
// replica was before the writes (standInReplica).
func TestKVRevisionThroughALaggingReplica(t *testing.T) {
	nodes := storetest.Cluster(t, 3)
	ctx := context.Background()
	w, err := nodes.Stores[0].KV(ctx, "voicemail", "lag")
	if err != nil {
		t.Fatal(err)
	}
	r, err := nodes.Stores[2].KV(ctx, "voicemail", "lag")
	if err != nil {
		t.Fatal(err)
	}
	// Node 1 leads the bucket's stream: node 3 is a replica that follows.
	leadOn(t, w, "node1")
	for _, kv := range [][2]string{{"mary/msg-000007.json", "first"}, {"mary/msg-000008.json", "deleted"}} {
		if err := w.Put(ctx, kv[0], []byte(kv[1]), 0); err != nil {
			t.Fatal(err)
		}
	}
	// Node 3's replica as it is now, before the writes below: what it
	// answers for each key (a value, or none).
	keys := []string{"mary/msg-000007.json", "mary/msg-000008.json", "mary/msg-000009.json"}
	stream := store.KVStream("voicemail", "lag")
	before := map[string]*nats.Msg{}
	for _, key := range keys {
		subject := "$JS.API.DIRECT.GET." + stream + "." + r.Subject(key)
		m, err := nodes.Stores[2].Conn().RequestWithContext(ctx, subject, nil)
		if err != nil {
			t.Fatal(err)
		}
		before[subject] = &nats.Msg{Header: m.Header, Data: m.Data}
	}
	lagging := standInReplica(t, nodes.Stores[2], stream, func(subject string) *nats.Msg {
		if m, ok := before[subject]; ok {
			return m
		}
		return notFound()
	})

	if err := w.Put(ctx, "mary/msg-000007.json", []byte("second"), 0); err != nil {
		t.Fatal(err)
	}
	if err := w.Delete(ctx, "mary/msg-000008.json"); err != nil {
		t.Fatal(err)
	}
	if err := w.Put(ctx, "mary/msg-000009.json", []byte("new"), 0); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key, value string
		ok         bool
	}{
		{"mary/msg-000007.json", "second", true},
		{"mary/msg-000008.json", "", false},
		{"mary/msg-000009.json", "new", true},
	} {
		// Node 1 leads: its own read is the leader's.
		_, wantRev, wantStored, _, err := w.Revision(ctx, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		v, rev, stored, ok, err := r.Revision(ctx, tc.key)
		if err != nil || ok != tc.ok || string(v) != tc.value || rev != wantRev || !stored.Equal(wantStored) {
			t.Errorf("node 3: Revision(%s) = %q, revision %d, stored %v, %v, %v; want %q, %d, %v, %v",
				tc.key, v, rev, stored, ok, err, tc.value, wantRev, wantStored, tc.ok)
		}
	}
	// The write the read decides: node 3's sweep of a key it read.
	_, rev, _, _, err := r.Revision(ctx, "mary/msg-000007.json")
	if err != nil {
		t.Fatal(err)
	}
	if deleted, err := r.DeleteRevision(ctx, "mary/msg-000007.json", rev); err != nil || !deleted {
		t.Errorf("node 3: DeleteRevision of the revision it read: %v, %v; want deleted", deleted, err)
	}
	if n := lagging.asked(); n > 0 {
		t.Errorf("node 3 asked its own replica (a direct get) %d times; it may lag the writes", n)
	}
}

// leadOn moves the leader of kv's bucket to node, and waits until it is
// there.
func leadOn(t testing.TB, kv *store.KV, node string) {
	t.Helper()
	waitLeader(t, kv, func(leader string) bool {
		if leader == node {
			return true
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = kv.MoveLeader(ctx, node) // asked again until it is
		return false
	})
}

// An insert whose answer was lost, sent again through a node whose
// replica lags the leader, is told inserted: its first was stored. The
// regression read the key back with a direct get, which the node's own
// replica answered "not found", and told the insert it was refused (its
// caller, voicemail, then took another number and left the key
// unclaimed). The lagging replica is a stand-in (standInReplica).
func TestKVInsertResentThroughALaggingReplica(t *testing.T) {
	nodes := storetest.Cluster(t, 3)
	ctx := context.Background()
	w, err := nodes.Stores[0].KV(ctx, "voicemail", "resent")
	if err != nil {
		t.Fatal(err)
	}
	r, err := nodes.Stores[2].KV(ctx, "voicemail", "resent")
	if err != nil {
		t.Fatal(err)
	}
	leadOn(t, w, "node1")
	lagging := standInReplica(t, nodes.Stores[2], store.KVStream("voicemail", "resent"), func(string) *nats.Msg { return notFound() })
	r.LoseAnswer()
	rev, err := r.Insert(ctx, "mary/msg-000001.json", []byte("mine"))
	if err != nil || rev == 0 {
		t.Errorf("node 3: Insert whose answer was lost: revision %d, %v; want inserted", rev, err)
	}
	if v, want, _, ok, err := w.Revision(ctx, "mary/msg-000001.json"); err != nil || !ok || string(v) != "mine" || rev != want {
		t.Errorf("the key holds %q, revision %d (%v, %v); want node 3's value, revision %d", v, want, ok, err, rev)
	}
	if n := lagging.asked(); n > 0 {
		t.Errorf("node 3 asked its own replica (a direct get) %d times; it may lag the writes", n)
	}
}

// A node's inserts and updates come through its own watch as its own
// (mine), and through another node's as not, with the revisions Insert
// and Update returned: voicemail's index tells its own writes from
// another node's so. The regression published them through KeyValue's
// Create and Update, without the origin header: the node's watch handed
// its own pending metadata back as another's, and the node took it for
// a change of the message it had completed meanwhile.
func TestKVInsertAndUpdateComeBackAsMine(t *testing.T) {
	nodes := storetest.Cluster(t, 3)
	ctx := context.Background()
	kvs := make([]*store.KV, 2)
	for i := range kvs {
		kv, err := nodes.Stores[i].KV(ctx, "voicemail", "mine")
		if err != nil {
			t.Fatal(err)
		}
		kvs[i] = kv
	}
	type change struct {
		value string
		rev   uint64
		mine  bool
	}
	const key = "mary/msg-000001.json"
	seen := make([]chan change, 2)
	for i, kv := range kvs {
		ch := make(chan change, 8)
		seen[i] = ch
		stop, err := kv.WatchRevisions(ctx, func(k string, v []byte, rev uint64, deleted, mine bool) {
			if k == key && !deleted {
				ch <- change{string(v), rev, mine}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(stop)
	}
	inserted, err := kvs[0].Insert(ctx, key, []byte("pending"))
	if err != nil || inserted == 0 {
		t.Fatalf("Insert: revision %d, %v", inserted, err)
	}
	updated, err := kvs[0].Update(ctx, key, []byte("complete"), inserted)
	if err != nil || updated == 0 {
		t.Fatalf("Update: revision %d, %v", updated, err)
	}
	// Each watch hands the complete value, and the pending one before it
	// unless its consumer started after that (DeliverLastPerSubject).
	for i, ch := range seen {
		want := map[string]change{"pending": {"pending", inserted, i == 0}, "complete": {"complete", updated, i == 0}}
		for done := false; !done; {
			select {
			case got := <-ch:
				if got != want[got.value] {
					t.Errorf("node %d's watch handed %+v, want %+v", i+1, got, want[got.value])
				}
				done = got.value == "complete"
			case <-time.After(30 * time.Second):
				t.Fatalf("node %d's watch never handed %+v", i+1, want["complete"])
			}
		}
	}
}
