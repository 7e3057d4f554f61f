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
