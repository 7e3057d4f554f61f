package conference

import (
	"sync"
	"time"

	"switchboard/runtime/throttle"
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

// maxTracked bounds the table of counters; past it the oldest windows are
// evicted (throttle.Table), so a flood of sources cannot grow memory
// without limit, nor leave a new key uncounted. Callers reach a bridge
// only once authenticated, so the keys are the site's accounts and their
// addresses.
const maxTracked = 1 << 16

// pinThrottle is the bridge's table of counters, keyed by "account:<name>"
// and "source:<host>".
type pinThrottle struct {
	Throttle
	mu sync.Mutex
	t  throttle.Table[string]
}

func newThrottle(l Throttle) *pinThrottle {
	return &pinThrottle{Throttle: l, t: throttle.New[string](maxTracked)}
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

// blocked reports whether any of keys is at its limit at now.
func (t *pinThrottle) blocked(keys []string, now time.Time) bool {
	if t.Failures <= 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.blockedLocked(keys, now)
}

func (t *pinThrottle) blockedLocked(keys []string, now time.Time) bool {
	for _, k := range keys {
		if n, _ := t.t.Count(k, now, t.Window); n >= t.Failures {
			return true
		}
	}
	return false
}

// attempt checks one PIN entry by keys at now, atomically with respect to
// other calls: it refuses without trying (blocked true) when a key is at
// its limit; otherwise it runs try, counts a failure against every key,
// and returns the keys the failure brought to the limit.
func (t *pinThrottle) attempt(keys []string, now time.Time, try func() bool) (ok, blocked bool, reached []string) {
	if t.Failures <= 0 {
		return try(), false, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.blockedLocked(keys, now) {
		return false, true, nil
	}
	if try() {
		return true, false, nil
	}
	for _, k := range keys {
		if t.t.Add(k, now, t.Window) == t.Failures {
			reached = append(reached, k)
		}
	}
	return false, false, reached
}

// tracked is how many counters are held.
func (t *pinThrottle) tracked() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.t.Len()
}
