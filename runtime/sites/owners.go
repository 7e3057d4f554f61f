package sites

import (
	"sync"
	"time"
)

// ownersTTL is how long a Call-ID a site sent a request with is
// remembered after its last datagram, at least (at most twice as long).
// It outlasts every transaction (Timer B, C: 32 s, 3 min) and the
// registrations and subscriptions the sites refresh; a dialog silent for
// longer is still routed by the domain its To and From carry.
const ownersTTL = time.Hour

// owners remembers which site sent requests with each Call-ID, in two
// generations: a lookup promotes what it finds to the current one, and
// the older is dropped whole every ownersTTL — no timer per entry.
type owners struct {
	mu        sync.Mutex
	cur, prev map[string]*entry
	rotated   time.Time
	now       func() time.Time
}

func newOwners() *owners {
	return &owners{cur: map[string]*entry{}, prev: map[string]*entry{}, rotated: time.Now(), now: time.Now}
}

// rotate drops the older generation when its time came; o.mu held.
func (o *owners) rotate() {
	if now := o.now(); now.Sub(o.rotated) >= ownersTTL {
		o.prev, o.cur, o.rotated = o.cur, map[string]*entry{}, now
	}
}

// set records that e sent a request with Call-ID id.
func (o *owners) set(id string, e *entry) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rotate()
	o.cur[id] = e
}

// get is the site that sent a request with Call-ID id, nil when none did
// (lately).
func (o *owners) get(id string) *entry {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rotate()
	if e, ok := o.cur[id]; ok {
		return e
	}
	if e, ok := o.prev[id]; ok {
		o.cur[id] = e
		return e
	}
	return nil
}

// len is how many Call-IDs are remembered, for tests.
func (o *owners) len() int {
	o.mu.Lock()
	defer o.mu.Unlock()
	n := len(o.cur)
	for id := range o.prev {
		if _, ok := o.cur[id]; !ok {
			n++
		}
	}
	return n
}
