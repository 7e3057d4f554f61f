package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// PutAsync's keys are stored once Flush returns, each batch's last the
// only one waiting for an answer; a key the server refused in the middle
// of a batch (no answer asked) makes Flush fail all the same.
func TestKVPutAsync(t *testing.T) {
	ctx := context.Background()
	kv, err := storetest.Shared(t).KVMaxValue(ctx, "bindings", storetest.Site(t), 256)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]byte{}
	for batch := range 2 {
		for i := range 3 {
			k, v := fmt.Sprintf("app.u%d\x00sip:u%d@192.0.2.1", i, i), fmt.Sprintf("b%d-%d", batch, i)
			if err := kv.PutAsync(k, []byte(v), time.Duration(i)*time.Hour); err != nil {
				t.Fatalf("batch %d: PutAsync %d: %v", batch, i, err)
			}
			want[k] = []byte(v)
		}
		if err := kv.Flush(ctx); err != nil {
			t.Fatalf("batch %d: Flush: %v", batch, err)
		}
	}
	if err := kv.Flush(ctx); err != nil {
		t.Fatalf("Flush of nothing: %v", err)
	}
	all, err := kv.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, all); d != "" {
		t.Errorf("stored (-want +got):\n%s", d)
	}

	if err := kv.PutAsync("big", []byte(strings.Repeat("x", 257)), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := kv.PutAsync("small", []byte("y"), time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := kv.Flush(ctx); err == nil || !strings.Contains(err.Error(), "1 of 2 keys not stored") {
		t.Errorf("Flush after a refused put: %v; want 1 of 2 keys not stored", err)
	}
}

// Create claims a key once: of the nodes of a cluster creating it
// together, exactly one is told created; once the key is deleted, or its
// time has run out, it can be created again.
func TestKVCreate(t *testing.T) {
	ctx := context.Background()
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	kvs := make([]interface {
		Create(context.Context, string, []byte, time.Duration) (bool, error)
		Delete(context.Context, string) error
	}, len(cl.Stores))
	for i, st := range cl.Stores {
		kv, err := st.KV(ctx, "mailboxes", site)
		if err != nil {
			t.Fatal(err)
		}
		kvs[i] = kv
	}
	create := func() int {
		t.Helper()
		results := make(chan bool, len(kvs))
		for i, kv := range kvs {
			go func() {
				ok, err := kv.Create(ctx, ".archive/gone/owner-mail.json", []byte(fmt.Sprintf("node %d", i)), 0)
				if err != nil {
					t.Errorf("node %d: Create: %v", i, err)
				}
				results <- ok
			}()
		}
		n := 0
		for range kvs {
			if <-results {
				n++
			}
		}
		return n
	}
	if n := create(); n != 1 {
		t.Errorf("%d nodes created the key, want 1", n)
	}
	if n := create(); n != 0 {
		t.Errorf("%d nodes created the key it has, want 0", n)
	}
	if err := kvs[0].Delete(ctx, ".archive/gone/owner-mail.json"); err != nil {
		t.Fatal(err)
	}
	if n := create(); n != 1 {
		t.Errorf("after a delete, %d nodes created the key, want 1", n)
	}
}

// A claim made with a time to live is free again once it ran out: a node
// that died holding it does not hold it for ever.
func TestKVCreateTTL(t *testing.T) {
	ctx := context.Background()
	kv, err := storetest.Shared(t).KV(ctx, "mailboxes", storetest.Site(t))
	if err != nil {
		t.Fatal(err)
	}
	gone := make(chan struct{}, 1)
	stop, err := kv.Watch(ctx, func(key string, _ []byte, _ time.Time, deleted, _ bool) {
		if key == "claim" && deleted {
			select {
			case gone <- struct{}{}:
			default:
			}
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if ok, err := kv.Create(ctx, "claim", []byte("a"), time.Second); !ok || err != nil {
		t.Fatalf("first Create: %v, %v", ok, err)
	}
	if ok, err := kv.Create(ctx, "claim", []byte("b"), time.Second); ok || err != nil {
		t.Fatalf("Create of a key held: %v, %v", ok, err)
	}
	select {
	case <-gone:
	case <-time.After(30 * time.Second):
		t.Fatal("the claim never ran out")
	}
	if ok, err := kv.Create(ctx, "claim", []byte("c"), time.Second); !ok || err != nil {
		t.Fatalf("Create once the claim ran out: %v, %v", ok, err)
	}
}

// Insert writes a key that has no value, never over one: of the nodes of
// a cluster inserting one key together (each its own value), exactly one
// is told inserted and the key holds its value; once the key is deleted
// it can be inserted again.
func TestKVInsert(t *testing.T) {
	ctx := context.Background()
	cl := storetest.Cluster(t, 3)
	site := storetest.Site(t)
	kvs := make([]*store.KV, len(cl.Stores))
	for i, st := range cl.Stores {
		kv, err := st.KV(ctx, "mailboxes", site)
		if err != nil {
			t.Fatal(err)
		}
		kvs[i] = kv
	}
	const key = "mary/msg-000001.json"
	insert := func(round int) (winners []string) {
		t.Helper()
		results := make(chan string, len(kvs))
		for i, kv := range kvs {
			go func() {
				v := fmt.Sprintf("round %d, node %d", round, i)
				rev, err := kv.Insert(ctx, key, []byte(v))
				if err != nil {
					t.Errorf("node %d: Insert: %v", i, err)
				}
				if rev == 0 {
					v = ""
				}
				results <- v
			}()
		}
		for range kvs {
			if v := <-results; v != "" {
				winners = append(winners, v)
			}
		}
		return winners
	}
	for round, del := range []bool{false, false, true} {
		if del {
			if err := kvs[0].Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
		winners := insert(round)
		want := 1
		if round == 1 {
			want = 0 // the key has round 0's value
		}
		if len(winners) != want {
			t.Fatalf("round %d: inserted by %q, want %d node(s)", round, winners, want)
		}
		v, ok, err := kvs[2].Get(ctx, key)
		if err != nil || !ok {
			t.Fatalf("round %d: Get: %v, %v", round, ok, err)
		}
		if want == 1 && string(v) != winners[0] {
			t.Errorf("round %d: the key holds %q, the winner inserted %q", round, v, winners[0])
		}
	}
}

// DeleteRevision deletes a key only as Revision read it: a key written
// again since stays.
func TestKVDeleteRevision(t *testing.T) {
	ctx := context.Background()
	kv, err := storetest.Shared(t).KV(ctx, "mailboxes", storetest.Site(t))
	if err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	if err := kv.Put(ctx, "k", []byte("1"), 0); err != nil {
		t.Fatal(err)
	}
	v, rev, stored, ok, err := kv.Revision(ctx, "k")
	if err != nil || !ok || string(v) != "1" {
		t.Fatalf("Revision: %q, %v, %v", v, ok, err)
	}
	if stored.Before(before.Add(-time.Second)) || stored.After(time.Now().Add(time.Second)) {
		t.Errorf("stored %v, the put was at %v", stored, before)
	}
	if err := kv.Put(ctx, "k", []byte("2"), 0); err != nil {
		t.Fatal(err)
	}
	if deleted, err := kv.DeleteRevision(ctx, "k", rev); err != nil || deleted {
		t.Fatalf("DeleteRevision of the revision before: %v, %v", deleted, err)
	}
	if v, ok, err := kv.Get(ctx, "k"); err != nil || !ok || string(v) != "2" {
		t.Fatalf("after a refused DeleteRevision: %q, %v, %v", v, ok, err)
	}
	_, rev, _, _, err = kv.Revision(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if deleted, err := kv.DeleteRevision(ctx, "k", rev); err != nil || !deleted {
		t.Fatalf("DeleteRevision of the latest: %v, %v", deleted, err)
	}
	if _, _, _, ok, err := kv.Revision(ctx, "k"); err != nil || ok {
		t.Errorf("Revision after the delete: %v, %v", ok, err)
	}
}

// Update writes a key only over the revision its writer read: of two
// writers changing what each read, the second is refused; a key never
// written is updated from revision 0, a deleted one not (its deletion is
// its latest revision).
func TestKVUpdate(t *testing.T) {
	ctx := context.Background()
	kv, err := storetest.Shared(t).KV(ctx, "mailboxes", storetest.Site(t))
	if err != nil {
		t.Fatal(err)
	}
	first, err := kv.Update(ctx, "k", []byte("1"), 0)
	if err != nil || first == 0 {
		t.Fatalf("Update of a new key: revision %d, %v", first, err)
	}
	_, rev, _, _, err := kv.Revision(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if rev != first {
		t.Errorf("Update said revision %d, Revision reads %d", first, rev)
	}
	second, err := kv.Update(ctx, "k", []byte("2"), rev)
	if err != nil || second == 0 {
		t.Fatalf("first Update over the revision read: revision %d, %v", second, err)
	}
	if _, rev2, _, _, _ := kv.Revision(ctx, "k"); rev2 != second {
		t.Errorf("Update said revision %d, Revision reads %d", second, rev2)
	}
	if third, err := kv.Update(ctx, "k", []byte("3"), rev); err != nil || third != 0 {
		t.Fatalf("second Update over the same revision: revision %d, %v", third, err)
	}
	if v, _, _ := kv.Get(ctx, "k"); string(v) != "2" {
		t.Errorf("the key holds %q, want the first update's", v)
	}
	if err := kv.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if rev, err := kv.Update(ctx, "k", []byte("4"), 0); err != nil || rev != 0 {
		t.Errorf("Update from revision 0 of a deleted key: revision %d, %v", rev, err)
	}
}
