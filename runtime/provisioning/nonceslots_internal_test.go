package provisioning

import (
	"testing"
	"time"
)

// WithNonceSlots sizes the ring: a nonce goes stale once that many newer
// ones were issued (a server of many small sites gives each a small ring),
// and the default ring keeps it fresh far longer.
func TestNonceSlots(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	for _, tc := range []struct {
		slots int
		fresh bool
	}{{16, false}, {0, true}} {
		var c config
		WithNonceSlots(tc.slots)(&c)
		n := newNonces(time.Minute, c.nonceSlots)
		o, ok := n.Open(n.Issue(now))
		if !ok {
			t.Fatal("a nonce just issued does not open")
		}
		for range 16 {
			n.Issue(now)
		}
		if got := n.Fresh(o, now); got != tc.fresh {
			t.Errorf("slots %d: after 16 newer nonces, fresh = %v, want %v", tc.slots, got, tc.fresh)
		}
	}
}
