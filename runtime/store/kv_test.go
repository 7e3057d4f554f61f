package store_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

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
