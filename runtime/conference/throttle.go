package conference

import (
	"sync"
	"time"
)

// Throttle limits PIN guessing across calls: a caller account, or a source
// address, that keys Failures wrong PINs within Window may key no more until
// that window closes. Each window opens with the key's first failure; a
// correct PIN does not reset it (a caller who knows one room's PIN could
// otherwise guess another's without limit).
type Throttle struct {
	Failures int           // wrong PINs allowed per window; 0 or less: no throttling
	Window   time.Duration // how long they are remembered
}

// DefaultThrottle allows six wrong PINs per account and per source address
// in a quarter of an hour: two calls' worth of three tries.
var DefaultThrottle = Throttle{Failures: 6, Window: 15 * time.Minute}

// maxTracked bounds the table of counters; past it, new keys go uncounted
// rather than let a flood of sources grow memory without limit.
const maxTracked = 1 << 16

// window counts failures in a window that opens with the first.
type window struct {
	start time.Time
	n     int
}

// throttle is the bridge's table of counters, keyed by "account:<name>"
// and "source:<host>".
type throttle struct {
	Throttle
	mu      sync.Mutex
	m       map[string]*window
	pruneAt int       // prune when the table reaches this size
	pruned  time.Time // when it was last pruned
}

func newThrottle(l Throttle) *throttle {
	return &throttle{Throttle: l, m: map[string]*window{}, pruneAt: 1024}
}

// keys are the counters a caller's failures count against.
func throttleKeys(account, source string) []string {
	var k []string
	if account != "" {
		k = append(k, "account:"+account)
	}
	if source != "" {
		k = append(k, "source:"+source)
	}
	return k
}

// blocked returns the first of keys at its limit at now, if any.
func (t *throttle) blocked(keys []string, now time.Time) (string, bool) {
	if t.Failures <= 0 {
		return "", false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.blockedLocked(keys, now)
}

func (t *throttle) blockedLocked(keys []string, now time.Time) (string, bool) {
	for _, k := range keys {
		if w := t.m[k]; w != nil && now.Sub(w.start) < t.Window && w.n >= t.Failures {
			return k, true
		}
	}
	return "", false
}

// attempt checks one PIN entry by keys at now, atomically with respect to
// other calls: it refuses without trying (blocked true) when a key is at
// its limit; otherwise it runs try, counts a failure against every key,
// and returns the keys the failure brought to the limit.
func (t *throttle) attempt(keys []string, now time.Time, try func() bool) (ok, blocked bool, reached []string) {
	if t.Failures <= 0 {
		return try(), false, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, b := t.blockedLocked(keys, now); b {
		return false, true, nil
	}
	if try() {
		return true, false, nil
	}
	for _, k := range keys {
		if t.add(k, now) == t.Failures {
			reached = append(reached, k)
		}
	}
	return false, false, reached
}

// add counts a failure of k and returns its failures in the open window
// (0 when the table is full and k is not counted).
func (t *throttle) add(k string, now time.Time) int {
	if w := t.m[k]; w != nil {
		if now.Sub(w.start) >= t.Window {
			w.start, w.n = now, 0
		}
		w.n++
		return w.n
	}
	// Prune when the table has doubled since the last time, or when it is
	// full, but then at most once a second: a full table of open windows
	// must not cost a scan per failure.
	if len(t.m) >= t.pruneAt || len(t.m) >= maxTracked && now.Sub(t.pruned) >= time.Second {
		for key, w := range t.m {
			if now.Sub(w.start) >= t.Window {
				delete(t.m, key)
			}
		}
		t.pruneAt = max(1024, 2*len(t.m))
		t.pruned = now
	}
	if len(t.m) >= maxTracked {
		return 0
	}
	t.m[k] = &window{start: now, n: 1}
	return 1
}

// tracked is how many counters are held.
func (t *throttle) tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.m)
}
