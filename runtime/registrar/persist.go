package registrar

import (
	"context"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// Bucket is where Persistent keeps bindings: a key-value bucket whose keys
// expire (store.KV is one, in NATS JetStream).
type Bucket interface {
	// Put sets key to value, to go after ttl.
	Put(ctx context.Context, key string, value []byte, ttl time.Duration) error
	Delete(ctx context.Context, key string) error
	// All returns every key's value.
	All(ctx context.Context) (map[string][]byte, error)
}

// asyncBucket is a Bucket that can send many puts and wait once
// (store.KV): a burst of registrations costs one wait, not one each.
type asyncBucket interface {
	PutAsync(key string, value []byte, ttl time.Duration) error
	Flush(ctx context.Context) error
}

// Persistent is a Store that keeps its bindings in a Bucket too, so that a
// restart of the server keeps the bindings that have not expired: devices
// need not register again to be reached. Reads are Memory's; writes go to
// the bucket behind the REGISTER's answer (a writer goroutine, the latest
// state of each binding once), so the bucket costs the hot path no wait.
//
// A write costs about as much CPU as the rest of a REGISTER (the
// JetStream server stores it), and most REGISTERs are refreshes that change nothing
// but the expiry. So a binding's key lives in the bucket for twice its
// interval (plus persistSlack), its value holding the real expiry, and a
// refresh that changes nothing else is not written while the stored key
// outlives the new expiry: with refreshes at half the interval, one in
// three is written. Close writes the refreshes left unwritten, so that a
// restart finds every binding as it was; after a crash a binding whose
// refresh was not written comes back with the expiry last written, and
// not at all once that has passed (until the device registers again).
// New bindings, changed ones and removals are always written.
type Persistent struct {
	*Memory
	bucket Bucket
	now    func() time.Time
	log    *slog.Logger
	seed   maphash.Seed

	// What the bucket holds of each binding this server wrote is kept
	// with the binding in Memory (compact.written): 16 bytes a binding
	// in its allocation, not a map entry's ~80.
	mu      sync.Mutex
	pending map[string]write // by bucket key
	spare   map[string]write // the last batch's map, emptied, for the next (write)
	syncs   []chan struct{}  // Sync's waiting for the pending writes
	wake    chan struct{}
	hurry   chan struct{} // ends the writer's gathering window now
	closing bool
	done    chan struct{}

	// shared: other servers write the bucket too, and p follows it
	// (Share, share.go); remote holds the bindings learned from them.
	shared    atomic.Bool
	remote    map[uint64]struct{} // by the bucket key's hash (seed)
	stopWatch func()
	applied   func(account string) // tests: called after each change apply took in from another server
}

// write is a pending change of a bucket key.
type write struct {
	b     *Binding  // nil: delete the key
	until time.Time // when the bucket is to drop the key
}

// persistSlack is added to a binding's time to live in the bucket: the
// registrar sweeps a binding at its expiry, the bucket a little later, so
// that a refresh arriving at the last moment is never lost in between.
const persistSlack = 5 * time.Second

// NewPersistent returns a store of the bindings in bucket that have not
// expired at now(), which keeps what changes there.
func NewPersistent(bucket Bucket, now func() time.Time, log *slog.Logger) (*Persistent, error) {
	if log == nil {
		log = slog.Default()
	}
	p := &Persistent{Memory: NewMemory(), bucket: bucket, now: now, log: log, seed: maphash.MakeSeed(),
		pending: map[string]write{}, wake: make(chan struct{}, 1), hurry: make(chan struct{}, 1), done: make(chan struct{})}
	all, err := bucket.All(context.Background())
	if err != nil {
		return nil, fmt.Errorf("registrations: %w", err)
	}
	t := now()
	for k, v := range all {
		b, err := decodeBinding(v)
		if err != nil || b.Account == "" || persistKey(b.Account, b.Key) != k {
			log.Warn("a stored registration could not be read; it is dropped", "key", k, "error", err)
			continue
		}
		if b.Expires.After(t) {
			p.Memory.Put(b)
		}
	}
	go p.write()
	return p, nil
}

func persistKey(account, key string) string { return account + "\x00" + key }

// keyHash is maphash.String(seed, persistKey(account, key)), without
// making the key: a refresh Put does not write needs only its hash.
func keyHash(seed maphash.Seed, account, key string) uint64 {
	var h maphash.Hash
	h.SetSeed(seed)
	h.WriteString(account)
	h.WriteByte(0)
	h.WriteString(key)
	return h.Sum64()
}

// Put adds or replaces b, in memory now and in the bucket soon, unless
// the bucket already holds b but for its expiry and CSeq and keeps it
// past b's expiry (a refresh; Close writes it).
func (p *Persistent) Put(b Binding) {
	now := p.now()
	var w write
	queue := false
	note := func(old *compact, c compact) written {
		// A refresh that shortens the binding is written: a restart must
		// not bring back the longer one.
		if old != nil && old.written.expires != 0 && old.sameButExpiry(&c) &&
			c.expires >= old.written.expires && c.expires+int64(persistSlack) <= old.written.until {
			return old.written
		}
		until := now.Add(2*b.Expires.Sub(now) + persistSlack)
		// A copy to queue, so that b itself stays off the heap: a refresh
		// that is not written allocates nothing.
		nb := b
		w, queue = write{b: &nb, until: until}, true
		return written{expires: c.expires, until: until.UnixNano()}
	}
	if p.shared.Load() {
		// Under p.mu, like a change another server made (share.go): the
		// two reach memory in the order they reach p.pending.
		p.mu.Lock()
		p.Memory.put(&b, note)
		delete(p.remote, keyHash(p.seed, b.Account, b.Key)) // this server's binding now
	} else {
		p.Memory.put(&b, note)
		if !queue {
			return
		}
		p.mu.Lock()
	}
	if queue {
		p.queueLocked(persistKey(b.Account, b.Key), w)
	}
	p.mu.Unlock()
}

// Remove deletes the binding, in memory now and in the bucket soon.
func (p *Persistent) Remove(account, key string) (Binding, bool) {
	if p.shared.Load() {
		return p.removeShared(account, key)
	}
	b, ok := p.Memory.Remove(account, key)
	if ok {
		k := persistKey(account, key)
		p.mu.Lock()
		p.queueLocked(k, write{})
		p.mu.Unlock()
		signal(p.hurry) // a removal is not left waiting: the device is gone now
	}
	return b, ok
}

// Expire is Memory's (the bucket lets the same bindings go by itself).
// Of a shared bucket's, it returns only this server's: another server's
// binding is that server's to report.
func (p *Persistent) Expire(now time.Time) []Binding {
	out := p.Memory.Expire(now)
	if len(out) > 0 && p.shared.Load() {
		p.mu.Lock()
		n := 0
		for i := range out {
			h := maphash.String(p.seed, persistKey(out[i].Account, out[i].Key))
			if _, theirs := p.remote[h]; theirs {
				delete(p.remote, h)
				continue
			}
			out[n] = out[i]
			n++
		}
		out = out[:n]
		p.mu.Unlock()
	}
	return out
}

// queueLocked makes w the pending change of k and wakes the writer; p.mu
// is held.
func (p *Persistent) queueLocked(k string, w write) {
	p.pending[k] = w
	signal(p.wake)
}

// signal sends on c (capacity 1) unless a signal is already waiting.
func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// batchWindow is how long the writer gathers changes after the first:
// a burst of REGISTERs is then one batch, with one wait for the server's
// answers, and a key changed twice within it is written once. A crash
// loses at most that much more.
const batchWindow = 5 * time.Millisecond

// gather waits out the batch window, or less when Sync, Close or a
// removal hurries it.
func (p *Persistent) gather() {
	t := time.NewTimer(batchWindow)
	defer t.Stop()
	select {
	case <-t.C:
	case <-p.hurry:
	}
}

// write stores what is pending until Close, then what is left.
func (p *Persistent) write() {
	defer close(p.done)
	var retry time.Duration // the pause before the next try of a failed batch; 0: none failed
	for {
		<-p.wake
		p.gather()
		p.mu.Lock()
		batch, syncs, closing := p.pending, p.syncs, p.closing
		p.pending, p.spare, p.syncs = p.spare, nil, nil
		if p.pending == nil {
			p.pending = map[string]write{}
		}
		p.mu.Unlock()
		ab, async := p.bucket.(asyncBucket)
		failed := false
		for k, w := range batch {
			if !p.store(k, w, async, retry == 0) {
				failed = true
			}
		}
		if async && len(batch) > 0 {
			if err := ab.Flush(context.Background()); err != nil {
				failed = true
				if retry == 0 {
					p.log.Warn("registrations could not be stored; a restart would lose them", "error", err)
				}
			}
		}
		for _, c := range syncs {
			close(c)
		}
		if closing {
			return
		}
		switch {
		case failed && p.shared.Load():
			// The other nodes see a binding once it is stored: a batch
			// that failed (the bucket's leader died, and the cluster is
			// electing another) is tried again, less what changed since.
			retry = min(max(2*retry, 100*time.Millisecond), 5*time.Second)
			p.mu.Lock()
			for k, w := range batch {
				if _, newer := p.pending[k]; !newer {
					p.pending[k] = w
				}
			}
			p.mu.Unlock()
			time.AfterFunc(retry, func() { signal(p.wake) })
		case retry > 0 && !failed:
			p.log.Info("registrations are stored again")
			retry = 0
		}
		// The batch's map serves the next batch: a burst of
		// registrations grew a new one batch after batch (a third of
		// the writer's garbage). One that grew large is let go.
		if len(batch) <= spareBatch {
			clear(batch)
			p.mu.Lock()
			p.spare = batch
			p.mu.Unlock()
		}
	}
}

// spareBatch is the largest batch whose map write keeps for the next.
const spareBatch = 1024

// store writes one change; async, with PutAsync. It reports whether it
// went out (an async put is known stored only at Flush); loud, it logs a
// failure.
func (p *Persistent) store(k string, w write, async, loud bool) bool {
	ctx := context.Background()
	b := w.b
	if b == nil {
		if err := p.bucket.Delete(ctx, k); err != nil {
			if loud {
				p.log.Warn("a removed registration is still stored; it expires by itself", "account", accountOf(k), "error", err)
			}
			return false
		}
		return true
	}
	now := p.now()
	if !b.Expires.After(now) {
		return true // expired before it was written: nothing to keep
	}
	ttl := w.until.Sub(now)
	v := appendBinding(nil, b)
	var err error
	switch {
	case async:
		err = p.bucket.(asyncBucket).PutAsync(k, v, ttl)
	default:
		err = p.bucket.Put(ctx, k, v, ttl)
	}
	if err != nil {
		if loud {
			p.log.Warn("a registration could not be stored; a restart would lose it", "account", b.Account, "error", err)
		}
		return false
	}
	return true
}

func accountOf(k string) string {
	for i := range len(k) {
		if k[i] == 0 {
			return k[:i]
		}
	}
	return k
}

// Sync returns once what was pending when it was called is stored (or
// failed to be: the writer logs that).
func (p *Persistent) Sync() {
	c := make(chan struct{})
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.syncs = append(p.syncs, c)
	p.mu.Unlock()
	signal(p.wake)
	signal(p.hurry)
	<-c
}

// Close stores what is pending, and the refreshes Put did not write,
// and stops.
func (p *Persistent) Close() {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		<-p.done
		return
	}
	stop := p.stopWatch
	p.stopWatch = nil
	p.mu.Unlock()
	if stop != nil {
		stop()
	}
	now := p.now()
	type refresh struct {
		k string
		w write
	}
	var refreshes []refresh
	p.Memory.each(func(account string, c *compact) {
		// Put skips only refreshes that extend a binding this server
		// wrote.
		if c.written.expires != 0 && c.expires > c.written.expires {
			b := c.binding(account)
			until := now.Add(2*b.Expires.Sub(now) + persistSlack)
			c.written = written{expires: c.expires, until: until.UnixNano()}
			refreshes = append(refreshes, refresh{persistKey(account, b.Key), write{b: &b, until: until}})
		}
	})
	p.mu.Lock()
	for _, r := range refreshes {
		p.pending[r.k] = r.w
	}
	p.closing = true
	p.mu.Unlock()
	signal(p.wake)
	signal(p.hurry)
	<-p.done
}
