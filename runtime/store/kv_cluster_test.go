package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
