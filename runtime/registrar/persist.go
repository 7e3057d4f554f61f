package registrar

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sync"
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
// A binding's key lives in the bucket until it expires, also while the
// server is down.
type Persistent struct {
	*Memory
	bucket Bucket
	now    func() time.Time
	log    *slog.Logger

	mu      sync.Mutex
	pending map[string]*Binding // by bucket key; nil: delete it
	syncs   []chan struct{}     // Sync's waiting for the pending writes
	wake    chan struct{}
	closing bool
	done    chan struct{}
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
	p := &Persistent{Memory: NewMemory(), bucket: bucket, now: now, log: log,
		pending: map[string]*Binding{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	all, err := bucket.All(context.Background())
	if err != nil {
		return nil, fmt.Errorf("registrations: %w", err)
	}
	t := now()
	for k, v := range all {
		var b Binding
		if err := json.Unmarshal(v, &b); err != nil || b.Account == "" || persistKey(b.Account, b.Key) != k {
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

// Put adds or replaces b, in memory now and in the bucket soon.
func (p *Persistent) Put(b Binding) {
	p.Memory.Put(b)
	p.queue(persistKey(b.Account, b.Key), &b)
}

// Remove deletes the binding, in memory now and in the bucket soon.
func (p *Persistent) Remove(account, key string) (Binding, bool) {
	b, ok := p.Memory.Remove(account, key)
	if ok {
		p.queue(persistKey(account, key), nil)
	}
	return b, ok
}

// Expire is Memory's: the bucket lets the same bindings go by itself.

func (p *Persistent) queue(k string, b *Binding) {
	p.mu.Lock()
	p.pending[k] = b
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// write stores what is pending until Close, then what is left.
func (p *Persistent) write() {
	defer close(p.done)
	for {
		<-p.wake
		p.mu.Lock()
		batch, syncs, closing := p.pending, p.syncs, p.closing
		p.pending, p.syncs = map[string]*Binding{}, nil
		p.mu.Unlock()
		ab, async := p.bucket.(asyncBucket)
		for k, b := range batch {
			p.store(k, b, async)
		}
		if async && len(batch) > 0 {
			if err := ab.Flush(context.Background()); err != nil {
				p.log.Warn("registrations could not be stored; a restart would lose them", "error", err)
			}
		}
		for _, c := range syncs {
			close(c)
		}
		if closing {
			return
		}
	}
}

// store writes one binding (b nil: deletes it); async, with PutAsync.
func (p *Persistent) store(k string, b *Binding, async bool) {
	ctx := context.Background()
	if b == nil {
		if err := p.bucket.Delete(ctx, k); err != nil {
			p.log.Warn("a removed registration is still stored; it expires by itself", "account", accountOf(k), "error", err)
		}
		return
	}
	ttl := b.Expires.Sub(p.now()) + persistSlack
	if ttl <= persistSlack {
		return // expired before it was written: nothing to keep
	}
	v, err := json.Marshal(b)
	switch {
	case err != nil:
	case async:
		err = p.bucket.(asyncBucket).PutAsync(k, v, ttl)
	default:
		err = p.bucket.Put(ctx, k, v, ttl)
	}
	if err != nil {
		p.log.Warn("a registration could not be stored; a restart would lose it", "account", b.Account, "error", err)
	}
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
	select {
	case p.wake <- struct{}{}:
	default:
	}
	<-c
}

// Close stores what is pending and stops.
func (p *Persistent) Close() {
	p.mu.Lock()
	if p.closing {
		p.mu.Unlock()
		<-p.done
		return
	}
	p.closing = true
	p.mu.Unlock()
	select {
	case p.wake <- struct{}{}:
	default:
	}
	<-p.done
}
