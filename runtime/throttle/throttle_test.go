package throttle

import (
	"testing"
	"time"
)

var epoch = time.Unix(1_800_000_000, 0)

// A window opens with the first failure and closes length later; the next
// failure after that starts a new one.
func TestWindows(t *testing.T) {
	tb := New[string](10)
	const length = time.Minute
	for i := 1; i <= 3; i++ {
		if n := tb.Add("a", epoch.Add(time.Duration(i)*time.Second), length); n != i {
			t.Fatalf("failure %d counted as %d", i, n)
		}
	}
	if n, closes := tb.Count("a", epoch.Add(30*time.Second), length); n != 3 || !closes.Equal(epoch.Add(time.Second+length)) {
		t.Errorf("Count = %d, closing %v", n, closes)
	}
	if n, _ := tb.Count("a", epoch.Add(time.Second+length), length); n != 0 {
		t.Errorf("the window is open at its end: %d", n)
	}
	if n := tb.Add("a", epoch.Add(2*length), length); n != 1 {
		t.Errorf("a failure after the window counted as %d", n)
	}
	if n, _ := tb.Count("b", epoch, length); n != 0 {
		t.Errorf("an unknown key has %d", n)
	}
	tb.Forget("a")
	if tb.Len() != 0 {
		t.Errorf("%d keys after Forget", tb.Len())
	}
}

// A table that filled up with open windows counts no new key, and is
// pruned once they close, so new keys are counted again.
func TestFullTable(t *testing.T) {
	const max, length = 5000, time.Minute
	tb := New[int](max)
	for i := range max {
		if n := tb.Add(i, epoch, length); n != 1 {
			t.Fatalf("entry %d: %d", i, n)
		}
	}
	if n := tb.Add(-1, epoch, length); n != 0 || tb.Len() != max {
		t.Fatalf("a full table tracked a new key: %d, %d held", n, tb.Len())
	}
	if n := tb.Add(-2, epoch.Add(length+time.Second), length); n != 1 {
		t.Fatalf("after every window closed, a new key is not counted: %d", n)
	}
	if tb.Len() != 1 {
		t.Errorf("%d entries after the prune, want 1", tb.Len())
	}
}
