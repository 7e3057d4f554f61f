// Package throttle counts failures per key in fixed windows: the table
// behind every limit on guessing — SIP digest passwords (runtime/auth),
// HTTP provisioning passwords (runtime/provisioning), voicemail PINs
// (runtime/voicemail), conference PINs (runtime/conference). There is no
// other copy: a new limit is a new Table. A key's window opens with its first
// failure and lasts a given length; the caller decides what a count at its
// limit means. The table is bounded: a flood of keys (spoofed sources)
// cannot grow memory without limit.
//
// A Table is not safe for concurrent use: callers hold their own lock,
// usually over two tables at once (per account and per source).
package throttle

import "time"

// Table is a table of failure windows keyed by K.
type Table[K comparable] struct {
	max      int
	m        map[K]*window
	pruneAt  int
	prunedAt time.Time // last prune of a full table
}

type window struct {
	start time.Time
	n     int
}

// New returns a table holding at most max keys.
func New[K comparable](max int) Table[K] {
	return Table[K]{max: max, m: map[K]*window{}, pruneAt: min(max, 1024)}
}

// Count returns the failures of k in its window, if that window is still
// open at now for a window of length, and when the window closes.
func (t *Table[K]) Count(k K, now time.Time, length time.Duration) (n int, closes time.Time) {
	w := t.m[k]
	if w == nil || now.Sub(w.start) >= length {
		return 0, time.Time{}
	}
	return w.n, w.start.Add(length)
}

// Add counts a failure of k at now and returns the failures in its
// window, or 0 when k is not counted because the table is full of open
// windows.
func (t *Table[K]) Add(k K, now time.Time, length time.Duration) int {
	if w := t.m[k]; w != nil {
		if now.Sub(w.start) >= length {
			w.start, w.n = now, 0
		}
		w.n++
		return w.n
	}
	// A full table is pruned at most once a second of the clock: often
	// enough that closed windows make room for new keys, seldom enough
	// that a flood of failures cannot make every one of them a scan. The
	// threshold never passes max, or a table that filled up would never
	// be pruned again and new keys would go uncounted.
	if len(t.m) >= t.pruneAt && (len(t.m) < t.max || now.Sub(t.prunedAt) >= time.Second) {
		for key, w := range t.m {
			if now.Sub(w.start) >= length {
				delete(t.m, key)
			}
		}
		t.prunedAt = now
		t.pruneAt = min(t.max, max(1024, 2*len(t.m)))
	}
	if len(t.m) >= t.max {
		return 0
	}
	t.m[k] = &window{start: now, n: 1}
	return 1
}

// Forget drops k's count (after it proved itself).
func (t *Table[K]) Forget(k K) { delete(t.m, k) }

// Len is how many keys are held.
func (t *Table[K]) Len() int { return len(t.m) }
