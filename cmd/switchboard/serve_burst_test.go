package main

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// The burst limit: none while the live heap holds steady or grows slowly,
// the headroom before the burst or twice the growth while it grows fast,
// none again once it stops growing or the growth is older than the window.
func TestBurstLimit(t *testing.T) {
	const mb = 1 << 20
	t0 := time.Date(2026, 12, 5, 22, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	type step struct {
		at   time.Duration
		live uint64 // after the collection at at
	}
	tests := []struct {
		name  string
		steps []step
		gogc  int
		want  uint64 // heapBudget after the last step
	}{
		{"idle", []step{{0, 60 * mb}}, 100, 0},
		{"steady traffic", []step{{0, 60 * mb}, {time.Second, 62 * mb}, {2 * time.Second, 61 * mb}, {3 * time.Second, 63 * mb}}, 100, 0},
		{"growth of a quarter: no limit yet", []step{{0, 60 * mb}, {time.Second, 75 * mb}}, 100, 0},
		{"early in a burst: the headroom before it", []step{{0, 60 * mb}, {time.Second, 70 * mb}, {2 * time.Second, 80 * mb}}, 100, 120 * mb},
		{"late in a burst: 7/4 of the growth", []step{{0, 60 * mb}, {time.Second, 80 * mb}, {2 * time.Second, 100 * mb}}, 100, 130 * mb},
		{"GOGC=50: its headroom before the burst", []step{{0, 60 * mb}, {time.Second, 76 * mb}}, 50, 90 * mb},
		{"GOGC=off", []step{{0, 60 * mb}, {time.Second, 100 * mb}}, -1, 0},
		{"the idle heap long before still counts", []step{{0, 60 * mb}, {10 * time.Minute, 100 * mb}}, 100, 130 * mb},
		{"growth stopped: over", []step{{0, 60 * mb}, {time.Second, 100 * mb}, {2 * time.Second, 95 * mb}, {3500 * time.Millisecond, 96 * mb}}, 100, 0},
		{"still below the highest but not for long", []step{{0, 60 * mb}, {time.Second, 100 * mb}, {2 * time.Second, 95 * mb}}, 100, 121 * mb},
		{"growth older than the window", []step{{0, 60 * mb}, {time.Second, 80 * mb}, {20 * time.Second, 90 * mb}, {32 * time.Second, 100 * mb}}, 100, 0},
		{"a long burst: the growth within the window", []step{{0, 60 * mb}, {10 * time.Second, 80 * mb}, {30 * time.Second, 100 * mb}, {45 * time.Second, 120 * mb}}, 100, 160 * mb},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b burstLimit
			for _, s := range tt.steps {
				b.collected(at(s.at), s.live)
			}
			got := b.heapBudget(tt.steps[len(tt.steps)-1].live, tt.gogc)
			if diff := cmp.Diff(tt.want/mb, got/mb); diff != "" {
				t.Errorf("heap budget, MiB (-want +got):\n%s", diff)
			}
		})
	}
}
