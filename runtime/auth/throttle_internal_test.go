package auth

import (
	"testing"
	"time"
)

// A table that filled up with open windows is pruned once they close, so
// new sources are counted again (it used to stop pruning for good).
func TestFailuresPruneAFullTable(t *testing.T) {
	var f failures[int]
	f.init()
	start := time.Unix(0, 0)
	const window = time.Minute
	for i := range maxTracked {
		if n := f.add(i, start, window); n != 1 {
			t.Fatalf("entry %d: %d", i, n)
		}
	}
	if n := f.add(-1, start, window); n != 0 {
		t.Fatalf("a full table tracked a new source: %d", n)
	}
	later := start.Add(window + time.Second)
	if n := f.add(-2, later, window); n != 1 {
		t.Fatalf("after every window closed, a new source is not tracked: %d", n)
	}
	if len(f.m) != 1 {
		t.Errorf("%d entries after the prune, want 1", len(f.m))
	}
}
