package store

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
)

// Of a key's puts in a batch, only the last is sent again: an older one
// sent after a newer was stored would take the key back.
func TestLastOfKey(t *testing.T) {
	for _, tc := range []struct {
		name  string
		keys  []string // the batch's puts, by key
		again []int
		want  []int
	}{
		{"distinct keys", []string{"a", "b", "c"}, []int{0, 2}, []int{0, 2}},
		{"older put of a key stored later", []string{"a", "b", "a"}, []int{0, 1}, []int{1}},
		{"both puts of a key failed", []string{"a", "b", "a"}, []int{0, 2}, []int{2}},
		{"newest failed, older stored", []string{"a", "a"}, []int{1}, []int{1}},
		{"three puts of a key", []string{"a", "a", "a", "b"}, []int{0, 1, 3}, []int{3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			msgs := make([]*nats.Msg, len(tc.keys))
			for i, k := range tc.keys {
				msgs[i] = &nats.Msg{Subject: "$KV.b." + k}
			}
			if d := cmp.Diff(tc.want, lastOfKey(msgs, tc.again)); d != "" {
				t.Errorf("sent again (-want +got):\n%s", d)
			}
		})
	}
}
