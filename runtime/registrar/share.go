package registrar

import (
	"context"
	"fmt"
	"hash/maphash"
	"strings"
	"time"
)

// watchedBucket is a Bucket whose changes can be followed, its own told
// from other servers' (store.KV).
type watchedBucket interface {
	// Watch hands fn every key's value, then returns, then hands it each
	// change in order until stop: deleted for a key deleted or expired,
	// mine for a change this process wrote.
	Watch(ctx context.Context, fn func(key string, value []byte, stored time.Time, deleted, mine bool)) (stop func(), err error)
}

// Share makes p follow its bucket, which other servers (nodes of a
// cluster) write too: a binding one of them stores appears in p's memory,
// and goes when they remove it or its key's time runs out. Changes p
// wrote itself are not applied again. Call it once, before p is used.
//
// A binding another server holds may be older in the bucket than in that
// server's memory: Put leaves two refreshes in three unwritten, and keeps
// the key in the bucket for twice the interval (plus persistSlack) so
// that it outlives them. So a binding learned from the bucket is kept
// here until its key would go, not until the expiry its value says:
// written at w with expiry e, until e + (e - w). The writer's next
// written refresh comes before then (at the latest at e + (e-w)/2, with
// refreshes at half the interval), and once the device stops refreshing,
// the key's expiry removes the binding everywhere. Other servers'
// bindings are not this server's to report expired (Expire).
//
// Each binding is changed by the server its device registers with; two
// servers changing the same binding at once (a device moving) leave the
// bucket with the last write, and each server's memory with the last
// change it saw.
func (p *Persistent) Share() error {
	w, ok := p.bucket.(watchedBucket)
	if !ok {
		return fmt.Errorf("registrations: the bucket %T cannot be followed", p.bucket)
	}
	p.mu.Lock()
	p.remote = map[uint64]struct{}{}
	p.mu.Unlock()
	p.shared.Store(true)
	stop, err := w.Watch(context.Background(), p.apply)
	if err != nil {
		p.shared.Store(false)
		return fmt.Errorf("registrations: following the bucket: %w", err)
	}
	p.mu.Lock()
	p.stopWatch = stop
	p.mu.Unlock()
	return nil
}

// apply brings a change of the bucket another server made into memory.
func (p *Persistent) apply(k string, v []byte, stored time.Time, deleted, mine bool) {
	if mine {
		return // in memory already, as it is or newer
	}
	account, key, ok := strings.Cut(k, "\x00")
	if !ok {
		return // not a binding's key
	}
	var b Binding
	if !deleted {
		var err error
		if b, err = decodeBinding(v); err != nil || b.Account != account || b.Key != key {
			p.log.Warn("another server's registration could not be read; it is ignored", "account", account, "error", err)
			return
		}
		if later := b.Expires.Add(b.Expires.Sub(stored)); later.After(b.Expires) {
			b.Expires = later
		}
	}
	h := maphash.String(p.seed, k)
	if p.applied != nil {
		defer p.applied(account)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.pending[k]; ok {
		return // this server changed it since: its write comes next, and wins
	}
	// The bucket holds another server's change now: this server's next
	// Put of the binding is written whatever it held before (Memory.Put
	// records nothing written).
	if deleted {
		delete(p.remote, h)
		p.Memory.Remove(account, key)
		return
	}
	p.remote[h] = struct{}{}
	p.Memory.Put(b)
}

// removeShared is Remove when the bucket is shared: under p.mu, like
// apply.
func (p *Persistent) removeShared(account, key string) (Binding, bool) {
	k := persistKey(account, key)
	h := maphash.String(p.seed, k)
	p.mu.Lock()
	b, ok := p.Memory.Remove(account, key)
	if ok {
		delete(p.remote, h)
		p.queueLocked(k, write{})
	}
	p.mu.Unlock()
	if ok {
		signal(p.hurry)
	}
	return b, ok
}
