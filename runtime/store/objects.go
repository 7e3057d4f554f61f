package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Objects is an object store of one site: named byte strings too large
// for a key's value (a voicemail message, a greeting), each stored in
// chunks and replaced whole by a Put — a reader sees the old object or
// the new one, never a mix.
type Objects struct {
	obs jetstream.ObjectStore
	// nc and bucket serve a read in a cluster, which asks the store's
	// stream leader (leaderRead).
	nc     *nats.Conn
	bucket string
	// open bounds a read (Store.openTimeout): in a cluster, as long as
	// opening a bucket.
	open func(context.Context) (context.Context, context.CancelFunc)
	// origin marks this store's puts (a header of the object's
	// description) when other nodes share the store, so that Watch tells
	// them from theirs; empty on a single node.
	origin string
}

// Objects opens (creating it if needed) the object store kind of site.
func (s *Store) Objects(ctx context.Context, kind, site string) (*Objects, error) {
	ctx, cancel := s.openTimeout(ctx)
	defer cancel()
	b := name(kind, site)
	obs, err := s.ensureObjects(ctx, jetstream.ObjectStoreConfig{
		Bucket: b, Storage: s.storage(),
		Description: "switchboard: " + kind + " of site " + site,
	})
	if err != nil {
		return nil, fmt.Errorf("store: object store %s: %w", b, err)
	}
	return &Objects{obs: obs, nc: s.nc, bucket: b, origin: s.origin, open: s.openTimeout}, nil
}

// ensureObjects opens the object store cfg describes, creating it, or
// updating one with other settings; as ensureKV does a bucket, and for
// the same reason: the nodes of a cluster starting together each create
// it (settle).
func (s *Store) ensureObjects(ctx context.Context, cfg jetstream.ObjectStoreConfig) (jetstream.ObjectStore, error) {
	cfg.Replicas = s.replicas()
	return settle(ctx, s.clustered, func(ctx context.Context) (jetstream.ObjectStore, error) {
		obs, err := s.js.ObjectStore(ctx, cfg.Bucket)
		if errors.Is(err, jetstream.ErrBucketNotFound) {
			return s.js.CreateObjectStore(ctx, cfg)
		}
		if err != nil {
			return nil, err
		}
		st, err := obs.Status(ctx)
		if err != nil {
			return nil, err
		}
		if bs, ok := st.(*jetstream.ObjectBucketStatus); ok && sameObjects(bs.StreamInfo().Config, cfg) {
			return obs, nil // made by another node, or an earlier run: nothing to change
		}
		return s.js.UpdateObjectStore(ctx, cfg)
	})
}

// sameObjects reports whether an object store's stream has the settings
// of cfg that the store sets.
func sameObjects(sc jetstream.StreamConfig, cfg jetstream.ObjectStoreConfig) bool {
	return sc.Replicas == cfg.Replicas && sc.Storage == cfg.Storage && sc.Description == cfg.Description
}

// ErrTooLarge is Get's error for an object larger than its caller takes.
var ErrTooLarge = errors.New("store: object larger than allowed")

// Put stores data as the object name, replacing any before it. It
// returns once the server has stored every chunk and the object's
// description, the commit.
func (o *Objects) Put(ctx context.Context, name string, data []byte) error {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	meta := jetstream.ObjectMeta{Name: name}
	if o.origin != "" {
		meta.Headers = nats.Header{originHeader: []string{o.origin}}
	}
	if _, err := o.obs.Put(ctx, meta, bytes.NewReader(data)); err != nil {
		return fmt.Errorf("store: put object: %w", err)
	}
	return nil
}

// Get returns the object name; ok is false when there is none. An object
// of more than limit bytes is not read: ErrTooLarge (a reader's bound on
// the memory one object may take).
func (o *Objects) Get(ctx context.Context, name string, limit int64) (data []byte, ok bool, err error) {
	// In a cluster, as long as opening a bucket: a node that just died
	// may have led the store's stream (leaderRead).
	ctx, cancel := o.open(ctx)
	defer cancel()
	if o.origin != "" {
		return o.leaderRead(ctx, name, limit)
	}
	r, err := o.obs.Get(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: get object: %w", err)
	}
	defer r.Close()
	info, err := r.Info()
	if err != nil {
		return nil, false, fmt.Errorf("store: get object: %w", err)
	}
	if info.Size > uint64(limit) {
		return nil, false, fmt.Errorf("%w: %s has %d bytes, at most %d are read", ErrTooLarge, name, info.Size, limit)
	}
	// The reader checks the object's digest at its end.
	data, err = io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, false, fmt.Errorf("store: get object: %w", err)
	}
	if int64(len(data)) > limit {
		return nil, false, fmt.Errorf("%w: %s", ErrTooLarge, name)
	}
	return data, true, nil
}

// Delete removes the object name (nothing when there is none).
func (o *Objects) Delete(ctx context.Context, name string) error {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	if err := o.obs.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("store: delete object: %w", err)
	}
	return nil
}

// Names lists the objects there are.
func (o *Objects) Names(ctx context.Context) ([]string, error) {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	if o.empty(ctx) {
		// The listing waits for the store's last description, which a
		// cluster's replica may not answer for a moment after the store
		// is made, and so lists an empty store only when its time is up.
		return nil, nil
	}
	infos, err := o.obs.List(ctx)
	if errors.Is(err, jetstream.ErrNoObjectsFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("store: list objects: %w", err)
	}
	out := make([]string, 0, len(infos))
	for _, i := range infos {
		out = append(out, i.Name)
	}
	return out, nil
}

// empty reports whether the store has never held an object (asked of its
// stream, which its leader answers); false when that is not known.
func (o *Objects) empty(ctx context.Context) bool {
	sctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	st, err := o.obs.Status(sctx)
	if err != nil {
		return false
	}
	bs, ok := st.(*jetstream.ObjectBucketStatus)
	return ok && bs.StreamInfo().State.Msgs == 0
}

// Watch follows the store: it hands fn every object there is, then
// returns, and from then on hands fn each object put or deleted, in
// order, from one goroutine, until stop. mine says this store put it
// (only told when other nodes share the store: Clustered; a deletion is
// never told mine).
func (o *Objects) Watch(ctx context.Context, fn func(name string, deleted, mine bool)) (stop func(), err error) {
	// The watch lives until stop; ctx bounds only its start.
	w, err := o.obs.Watch(context.Background())
	if err != nil {
		return nil, fmt.Errorf("store: watch objects: %w", err)
	}
	done := make(chan struct{})
	synced := make(chan struct{})
	go func() {
		defer close(done)
		first := true
		for info := range w.Updates() {
			if info == nil { // the objects there were: all handed
				if first {
					first = false
					close(synced)
				}
				continue
			}
			mine := o.origin != "" && !info.Deleted && info.Headers.Get(originHeader) == o.origin
			fn(info.Name, info.Deleted, mine)
		}
		if first {
			close(synced)
		}
	}()
	stop = func() {
		_ = w.Stop()
		<-done
	}
	// An empty store hands nothing first, and a cluster's replica may not
	// say so for a moment after the store is made (Names): asked of the
	// stream instead.
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if o.empty(ctx) {
			return stop, nil
		}
		select {
		case <-synced:
			return stop, nil
		case <-tick.C:
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("store: watch objects: %w", ctx.Err())
		}
	}
}

// leaderRead is Get in a cluster: the object's description and its chunks
// are asked of the store's stream leader, one message at a time, not of
// the nearest replica.
//
// nats.go's ObjectStore.Get reads the description with a direct get,
// which any replica answers, and the chunks with a consumer placed on any
// replica; a replica may be a moment behind the two that acknowledged a
// put. A node told of an object by its watch (voicemail follows the other
// nodes' writes so), or that put the object itself, could then read that
// there is none, or the one it replaced, and nothing would tell it to read
// again. The leader stores a message before it acknowledges it, so it
// holds every put acknowledged, and every one a watch announced.
//
// While the leader is being replaced (a node's loss) a request goes
// unanswered or is refused for a moment: each is bounded and asked again
// (settle) until ctx ends.
func (o *Objects) leaderRead(ctx context.Context, name string, limit int64) (data []byte, ok bool, err error) {
	meta := "$O." + o.bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
	var missing string // the object whose chunks were found missing
	for {
		m, err := leaderGet(ctx, o.nc, "OBJ_"+o.bucket, msgGetRequest{LastFor: meta})
		if errors.Is(err, errNoMessage) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, fmt.Errorf("store: get object: %w", err)
		}
		var info jetstream.ObjectInfo
		if err := json.Unmarshal(m.Data, &info); err != nil || info.NUID == "" {
			return nil, false, fmt.Errorf("store: get object: %s: %w", name, jetstream.ErrBadObjectMeta)
		}
		if info.Deleted {
			return nil, false, nil
		}
		if info.NUID == missing {
			// Not replaced: its chunks are gone for another reason.
			return nil, false, fmt.Errorf("store: get object: %s: chunks missing", name)
		}
		if info.Opts != nil && info.Opts.Link != nil {
			return nil, false, fmt.Errorf("store: get object: %s is a link, which this store does not make", name)
		}
		if info.Size > uint64(limit) {
			return nil, false, fmt.Errorf("%w: %s has %d bytes, at most %d are read", ErrTooLarge, name, info.Size, limit)
		}
		data, err := o.leaderChunks(ctx, &info)
		if errors.Is(err, errNoMessage) {
			// Replaced or deleted since its description was read (a put
			// removes the chunks of the object it replaces): what
			// replaced it is read.
			missing = info.NUID
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("store: get object: %s: %w", name, err)
		}
		return data, true, nil
	}
}

// leaderChunks reads the chunks of the object info describes from the
// stream leader, and checks them against its size and digest.
func (o *Objects) leaderChunks(ctx context.Context, info *jetstream.ObjectInfo) ([]byte, error) {
	subject := "$O." + o.bucket + ".C." + info.NUID
	data := make([]byte, 0, info.Size)
	for seq := uint64(1); uint64(len(data)) < info.Size; {
		m, err := leaderGet(ctx, o.nc, "OBJ_"+o.bucket, msgGetRequest{Seq: seq, NextFor: subject})
		if err != nil {
			return nil, err
		}
		data = append(data, m.Data...)
		seq = m.Seq + 1
	}
	sum := sha256.Sum256(data)
	if uint64(len(data)) != info.Size || info.Digest != "SHA-256="+base64.URLEncoding.EncodeToString(sum[:]) {
		return nil, jetstream.ErrDigestMismatch
	}
	return data, nil
}
