package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The idle release: nothing under load; quiet, the garbage when there is
// much, and once per quiet period, poolSweepAfter after its start, the
// pools whatever the heap holds; again after the next busy spell.
func TestIdleRelease(t *testing.T) {
	const mb = 1 << 20
	t0 := time.Date(2026, 12, 6, 1, 0, 0, 0, time.UTC)
	type check struct {
		allocated uint64 // since the check before
		held      uint64 // beyond the live heap of 100 MiB
	}
	busy, quiet, garbage := check{500 * mb, 150 * mb}, check{mb, mb}, check{mb, 40 * mb}
	tests := []struct {
		name   string
		checks []check // one each idleCheck from t0, the first after a busy start
		want   []bool
	}{
		{"under load", []check{busy, busy, busy}, []bool{false, false, false}},
		{"after a burst: its garbage at once, the pools after poolSweepAfter, then nothing",
			[]check{busy, garbage, quiet, quiet, quiet}, []bool{false, true, true, false, false}},
		{"quiet, little held: only the pools", []check{busy, quiet, quiet, quiet}, []bool{false, false, true, false}},
		{"garbage again while quiet", []check{busy, quiet, quiet, garbage}, []bool{false, false, true, true}},
		{"a new busy spell: the pools again", []check{busy, quiet, quiet, busy, quiet, quiet}, []bool{false, false, true, false, false, true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := idleRelease{busy: t0}
			var allocs uint64
			var got []bool
			for i, c := range tt.checks {
				allocs += c.allocated
				got = append(got, r.decide(t0.Add(time.Duration(i)*idleCheck), allocs, 100*mb, 100*mb+c.held))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("released at each check (-want +got):\n%s", diff)
			}
		})
	}
}
