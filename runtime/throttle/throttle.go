// Package throttle counts failures per key in fixed windows: the table
// behind every limit on guessing — SIP digest passwords (runtime/auth),
// HTTP provisioning passwords (runtime/provisioning), voicemail PINs
// (runtime/voicemail), conference PINs (runtime/conference). There is no
// other copy: a new limit is a new Table. A key's window opens with its first
// failure and lasts a given length; the caller decides what a count at its
// limit means.
//
// A table is bounded, and a full one still counts every key: a flood of
// keys (spoofed sources) evicts the oldest windows rather than going
// uncounted, and Evicted tells the caller that windows were lost, so that it
// can throttle harder (a coarser key, a global limit) instead of softer.
// Prefix gives the coarser key of an address: its /24 or /64.
//
// Guard puts four tables together in the shape every password limit takes
// (per source and user, per source, per prefix, global, and stricter under
// a spray); SIP digest and HTTP provisioning use it.
//
// A Table is not safe for concurrent use: callers hold their own lock,
// usually over several tables at once (per account, per source, per prefix).
package throttle

import (
	"container/list"
	"net/netip"
	"time"
)

// Table is a table of failure windows keyed by K.
type Table[K comparable] struct {
	max int
	m   map[K]*list.Element
	// order holds the windows by start, oldest first: a window that
	// restarts moves to the back. With one length per table (as every
	// caller uses) the front is also the first to close, so closed windows
	// are dropped from the front and a full table evicts from there.
	order   *list.List
	evicted time.Time // when an open window was last evicted
}

type window struct {
	key   any
	start time.Time
	n     int
}

// New returns a table holding at most max keys.
func New[K comparable](max int) Table[K] {
	return Table[K]{max: max, m: map[K]*list.Element{}, order: list.New()}
}

// Count returns the failures of k in its window, if that window is still
// open at now for a window of length, and when the window closes.
func (t *Table[K]) Count(k K, now time.Time, length time.Duration) (n int, closes time.Time) {
	e := t.m[k]
	if e == nil {
		return 0, time.Time{}
	}
	w := e.Value.(*window)
	if now.Sub(w.start) >= length {
		return 0, time.Time{}
	}
	return w.n, w.start.Add(length)
}

// Add counts a failure of k at now and returns the failures in its window
// (at least 1: every failure is counted). When the table is full the
// oldest window is evicted to make room, closed or not.
func (t *Table[K]) Add(k K, now time.Time, length time.Duration) int {
	if e := t.m[k]; e != nil {
		w := e.Value.(*window)
		if now.Sub(w.start) >= length {
			w.start, w.n = now, 0
			t.order.MoveToBack(e)
		}
		w.n++
		return w.n
	}
	// Closed windows at the front go first; each is dropped once, so the
	// cost is constant per failure however the table is flooded.
	for e := t.order.Front(); e != nil && now.Sub(e.Value.(*window).start) >= length; e = t.order.Front() {
		t.remove(e)
	}
	if len(t.m) >= t.max && t.max > 0 {
		t.remove(t.order.Front())
		t.evicted = now
	}
	t.m[k] = t.order.PushBack(&window{key: k, start: now, n: 1})
	return 1
}

func (t *Table[K]) remove(e *list.Element) {
	delete(t.m, e.Value.(*window).key.(K))
	t.order.Remove(e)
}

// Evicted reports whether a window still open was evicted within length
// before now: the table is smaller than the keys failing, and counts of
// some keys were lost.
func (t *Table[K]) Evicted(now time.Time, length time.Duration) bool {
	return !t.evicted.IsZero() && now.Sub(t.evicted) < length
}

// Restart opens a new window of k at now with a count of 1, as if its
// earlier window had closed: a record of the latest event rather than a
// count of them. It allocates only for a new key.
func (t *Table[K]) Restart(k K, now time.Time, length time.Duration) {
	if e := t.m[k]; e != nil {
		w := e.Value.(*window)
		w.start, w.n = now, 1
		t.order.MoveToBack(e)
		return
	}
	t.Add(k, now, length)
}

// Forget drops k's count (after it proved itself).
func (t *Table[K]) Forget(k K) {
	if e := t.m[k]; e != nil {
		t.remove(e)
	}
}

// Len is how many keys are held.
func (t *Table[K]) Len() int { return len(t.m) }

// Prefix is the network an address belongs to for throttling: its /24
// for IPv4 (IPv4-mapped IPv6 included), its /64 for IPv6 — the block one
// customer, or one attacker, usually holds. A host that is no address
// (a name) is its own prefix.
func Prefix(host string) string {
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap().WithZone("")
	bits := 64
	if a.Is4() {
		bits = 24
	}
	p, _ := a.Prefix(bits)
	return p.String()
}
