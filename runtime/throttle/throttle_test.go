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

// A full table still counts a new key: it evicts the oldest window, says
// so through Evicted, and drops closed windows before evicting open ones.
func TestFullTable(t *testing.T) {
	const max, length = 5000, time.Minute
	tb := New[int](max)
	for i := range max {
		if n := tb.Add(i, epoch.Add(time.Duration(i)*time.Millisecond), length); n != 1 {
			t.Fatalf("entry %d: %d", i, n)
		}
	}
	if tb.Evicted(epoch.Add(max*time.Millisecond), length) {
		t.Fatal("Evicted before any eviction")
	}
	now := epoch.Add(max * time.Millisecond)
	for i := 1; i <= 3; i++ {
		if n := tb.Add(-1, now, length); n != i {
			t.Fatalf("a full table counted failure %d of a new key as %d", i, n)
		}
	}
	if tb.Len() != max {
		t.Errorf("%d held, want %d", tb.Len(), max)
	}
	if n, _ := tb.Count(0, now, length); n != 0 {
		t.Errorf("the oldest key was not evicted: %d", n)
	}
	if n, _ := tb.Count(1, now, length); n != 1 {
		t.Errorf("a key newer than the evicted one lost its count: %d", n)
	}
	if !tb.Evicted(now, length) || tb.Evicted(now.Add(length), length) {
		t.Error("Evicted does not cover one window after the eviction")
	}
	// Once the windows closed, new keys take their places without eviction.
	later := now.Add(length + time.Second)
	tb.Add(-2, later, length)
	if tb.Len() != 1 {
		t.Errorf("%d entries after the windows closed, want 1", tb.Len())
	}
}

// A window that restarts moves behind the others: it is evicted last.
func TestRestartedWindowEvictedLast(t *testing.T) {
	const length = time.Minute
	tb := New[string](2)
	tb.Add("a", epoch, length)
	tb.Add("b", epoch.Add(time.Second), length)
	tb.Add("a", epoch.Add(length), length) // a's second window
	tb.Add("c", epoch.Add(length+time.Second/2), length)
	if n, _ := tb.Count("a", epoch.Add(length+time.Second/2), length); n != 1 || !tb.Evicted(epoch.Add(length+time.Second/2), length) {
		t.Errorf("the restarted window was evicted: %d", n)
	}
}

func TestPrefix(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.77":           "192.0.2.0/24",
		"::ffff:192.0.2.77":    "192.0.2.0/24",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"door.example.net":     "door.example.net",
	} {
		if got := Prefix(in); got != want {
			t.Errorf("Prefix(%q) = %q, want %q", in, got, want)
		}
	}
}

// Restart records the latest time: the window runs from it, and the key
// goes behind the others for eviction.
func TestRestart(t *testing.T) {
	const length = time.Hour
	tb := New[string](2)
	tb.Restart("a", epoch, length)
	tb.Add("b", epoch.Add(time.Minute), length)
	tb.Restart("a", epoch.Add(50*time.Minute), length)
	if n, closes := tb.Count("a", epoch.Add(90*time.Minute), length); n != 1 || !closes.Equal(epoch.Add(110*time.Minute)) {
		t.Errorf("Count = %d closing %v, want 1 closing 50 minutes after the restart", n, closes)
	}
	tb.Add("c", epoch.Add(51*time.Minute), length) // evicts b, the oldest
	if n, _ := tb.Count("a", epoch.Add(51*time.Minute), length); n != 1 {
		t.Errorf("the restarted key was evicted")
	}
}
