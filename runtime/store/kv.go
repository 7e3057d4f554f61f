package store

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// KV is a key-value bucket of one site: the latest value of each key,
// each key with a time to live of its own when it was put with one (the
// server removes it then, also while serve is down).
type KV struct {
	js     jetstream.JetStream
	kv     jetstream.KeyValue
	prefix string // the subject a key's value is published on, less the key
	stream string // the bucket's stream
	// origin marks this store's writes (the Switchboard-Origin header)
	// when other nodes share the bucket, so that Watch tells them from
	// theirs; empty on a single node, whose writes carry no header.
	origin string
	// open bounds opening the bucket and a watch of it (Store.openTimeout).
	open func(context.Context) (context.Context, context.CancelFunc)

	// PutAsync's, until Flush: each is sent when the next comes, without
	// asking for an answer; the last is held, and Flush sends it asking
	// for one. The stream stores a connection's messages in order, so
	// that answer comes after the others were stored; its sequence
	// counts them (sent since the answer before, seq).
	//
	// Not so when other nodes share the bucket: there each put asks for
	// its answer (acked), carrying an ID (idPrefix and a count) so that
	// one sent again which was stored after all is stored once.
	mu       sync.Mutex
	held     *nats.Msg
	sent     uint64
	seq      uint64
	seqKnown bool
	acked    ackedBatch
	idPrefix string
	nextID   uint64
}

// limitMarkerTTL is how long a bucket keeps the marker of a key whose time
// ran out: long enough for a watcher to see it go.
const limitMarkerTTL = time.Minute

// KV opens (creating it if needed) the bucket kind of site.
func (s *Store) KV(ctx context.Context, kind, site string) (*KV, error) {
	ctx, cancel := s.openTimeout(ctx)
	defer cancel()
	b := name(kind, site)
	kv, err := s.ensureKV(ctx, jetstream.KeyValueConfig{
		Bucket: b, Storage: s.storage(), History: 1, LimitMarkerTTL: limitMarkerTTL,
		Description: "switchboard: " + kind + " of site " + site,
	})
	if err != nil {
		return nil, fmt.Errorf("store: bucket %s: %w", b, err)
	}
	k := &KV{js: s.js, kv: kv, prefix: "$KV." + b + ".", stream: "KV_" + b, origin: s.origin, open: s.openTimeout}
	if s.clustered {
		// The bucket has no TTL of its own, so its duplicate window is
		// jetstream's default for a bucket (resendFor's, 2 minutes).
		k.acked = ackedBatch{pub: s.pub, js: s.js, retryFor: resendFor(s.wait, 0)}
		k.idPrefix = newEpoch() + "-"
	}
	return k, nil
}

// key turns any string into a bucket key: KV keys allow only a few
// characters, and an account or a binding's contact has others.
func kvKey(k string) string { return base64.RawURLEncoding.EncodeToString([]byte(k)) }

// Put sets key to value; with ttl > 0 the key goes after ttl (at least a
// second: the server's granularity).
func (k *KV) Put(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if k.origin != "" {
		// In a cluster the bucket's leader may be a node just lost: the
		// survivors elect another within seconds, and the put is sent
		// again until then (for the cluster's wait, as a bucket is
		// opened). Putting a key twice leaves what putting it once does.
		ctx, cancel := k.open(ctx)
		defer cancel()
		_, err := settle(ctx, true, func(ctx context.Context) (*jetstream.PubAck, error) {
			return k.js.PublishMsg(ctx, k.message(key, value, ttl))
		})
		if err != nil {
			return fmt.Errorf("store: put: %w", err)
		}
		return nil
	}
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	var err error
	switch {
	case ttl > 0:
		// A KV put is a publish on the key's subject; the per-message TTL
		// (nats-server 2.11) and the origin header are set on the
		// publish, since KeyValue.Put takes neither.
		_, err = k.js.PublishMsg(ctx, k.message(key, value, ttl))
	default:
		_, err = k.kv.Put(ctx, kvKey(key), value)
	}
	if err != nil {
		return fmt.Errorf("store: put: %w", err)
	}
	return nil
}

// Create sets key to value only when key has none, atomically across the
// nodes sharing the bucket: of several nodes creating one key, one is
// told created and the others not. It is a claim (one node of a cluster
// does a thing once); with ttl > 0 the key goes after ttl, so a claim
// whose holder died is free again.
//
// It is not sent again while a lost node's bucket leader is replaced, as
// Put is: a create sent twice would see its own first as another's.
func (k *KV) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (created bool, err error) {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	var opts []jetstream.KVCreateOpt
	if ttl > 0 {
		opts = append(opts, jetstream.KeyTTL(max(ttl, time.Second)))
	}
	_, err = k.kv.Create(ctx, kvKey(key), value, opts...)
	if errors.Is(err, jetstream.ErrKeyExists) || wrongLastSequence(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: create: %w", err)
	}
	return true, nil
}

// Insert sets key to value only when key has none, as Create does, for a
// value no other writer would write byte for byte (a voicemail message's
// metadata: its call and the moment it started): a key that is inserted
// is never overwritten by another node's insert. It returns the value's
// revision, 0 when the key was not inserted. In a cluster it is sent
// again while a lost node's bucket leader is replaced, as Put is; when a
// resent insert finds the key holding value, the first was stored after
// all, and it is told inserted.
//
// It is published here, not through KeyValue.Create, to carry the
// origin header (Watch's mine): a node's watch handed its own inserts
// back as another's, and voicemail took its own pending metadata,
// handed back after the node had completed it, for a change.
func (k *KV) Insert(ctx context.Context, key string, value []byte) (rev uint64, err error) {
	ctx, cancel := k.open(ctx)
	defer cancel()
	// The revision the key is created over: none, or its deletion's (a
	// deleted key keeps its marker a while, as KeyValue.Create allows).
	over := uint64(0)
	for range maxInserts {
		sent := 0
		ack, err := settle(ctx, k.origin != "", func(ctx context.Context) (*jetstream.PubAck, error) {
			sent++
			return k.js.PublishMsg(ctx, k.message(key, value, 0), jetstream.WithExpectLastSequencePerSubject(over))
		})
		if err == nil {
			return ack.Sequence, nil
		}
		if !wrongLastSequence(err) {
			return 0, fmt.Errorf("store: insert: %w", err)
		}
		// Read from the stream's leader, not a replica that may lag
		// (leaderGet): a resent insert's own value, stored after all,
		// is seen there (TestKVInsertResentThroughALaggingReplica).
		v, last, _, ok, err := k.last(ctx, key)
		if err != nil {
			return 0, fmt.Errorf("store: insert: %w", err)
		}
		if ok {
			if sent > 1 && bytes.Equal(v, value) {
				return last, nil
			}
			return 0, nil
		}
		over = last // deleted (or its marker gone): created over that
	}
	return 0, nil // the key removed and written again between each try
}

// maxInserts bounds Insert's tries: each is refused only when the key
// was deleted, or its deletion's marker went, since the one before.
const maxInserts = 10

// Revision returns key's value, its revision and when it was stored (the
// server's clock); ok is false when it has none. In a cluster the
// bucket's stream leader answers (leaderRevision), not the nearest
// replica, which may lag: the revision read is the latest when read, and
// Update and DeleteRevision over it do nothing only when the key was
// written or removed since.
func (k *KV) Revision(ctx context.Context, key string) (value []byte, rev uint64, stored time.Time, ok bool, err error) {
	if k.origin != "" {
		return k.leaderRevision(ctx, key)
	}
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	e, err := settle(ctx, false, func(ctx context.Context) (jetstream.KeyValueEntry, error) {
		return k.kv.Get(ctx, kvKey(key))
	})
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, 0, time.Time{}, false, nil
	}
	if err != nil {
		return nil, 0, time.Time{}, false, fmt.Errorf("store: get: %w", err)
	}
	return e.Value(), e.Revision(), e.Created(), true, nil
}

// leaderRevision is Revision in a cluster: the key's last message, asked
// of the bucket's stream leader (leaderGet). nats.go's KeyValue.Get sends
// a direct get, which the asking node's own replica answers when it has
// one, and a replica a moment behind the two that acknowledged a put said
// "not found" of metadata another node had put: a start's sweep left it
// (TestClusterStartSweepsOldMetadata failed so under load), and nothing
// read it again. A revision read from a replica that lags makes Update
// and DeleteRevision refuse alike.
//
// As long as opening a bucket, as Update: while a lost node's bucket
// leader is replaced, the read waits for the next.
func (k *KV) leaderRevision(ctx context.Context, key string) (value []byte, rev uint64, stored time.Time, ok bool, err error) {
	value, rev, stored, ok, err = k.last(ctx, key)
	if err != nil || !ok {
		return nil, 0, time.Time{}, false, err
	}
	return value, rev, stored, true, nil
}

// last reads key's last message from the bucket's stream leader
// (leaderGet): its value, ok false for a removal (or none); its revision
// either way, 0 when the key has no message. As long as opening a bucket,
// as Update: while a lost node's bucket leader is replaced, the read
// waits for the next.
func (k *KV) last(ctx context.Context, key string) (value []byte, rev uint64, stored time.Time, ok bool, err error) {
	ctx, cancel := k.open(ctx)
	defer cancel()
	m, err := leaderGet(ctx, k.js.Conn(), k.stream, msgGetRequest{LastFor: k.prefix + kvKey(key)})
	if errors.Is(err, errNoMessage) {
		return nil, 0, time.Time{}, false, nil
	}
	if err == nil {
		value, ok, err = m.kvValue()
	}
	if err != nil {
		return nil, 0, time.Time{}, false, fmt.Errorf("store: get: %w", err)
	}
	return value, m.Seq, m.Time, ok, nil
}

// Update sets key to value only while its latest value is revision rev
// (Revision's; 0: a key that never had a value, or whose deletion has
// gone): of two writers changing what each read, the second is told not
// updated (revision 0), and reads again; updated, it returns the value's
// revision. In a cluster it is sent again while a lost node's bucket
// leader is replaced, as Put is: an update stored whose answer was lost
// is then told not updated, and its writer, reading again, finds its own
// value. It carries the origin header (Watch's mine), as Insert.
func (k *KV) Update(ctx context.Context, key string, value []byte, rev uint64) (updated uint64, err error) {
	ctx, cancel := k.open(ctx)
	defer cancel()
	ack, err := settle(ctx, k.origin != "", func(ctx context.Context) (*jetstream.PubAck, error) {
		return k.js.PublishMsg(ctx, k.message(key, value, 0), jetstream.WithExpectLastSequencePerSubject(rev))
	})
	if wrongLastSequence(err) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: update: %w", err)
	}
	return ack.Sequence, nil
}

// DeleteRevision removes key only while its latest value is revision rev
// (Revision's): of a writer putting key again and another deleting what
// it read before, the put wins. deleted is false when key has moved on.
func (k *KV) DeleteRevision(ctx context.Context, key string, rev uint64) (deleted bool, err error) {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	err = k.kv.Purge(ctx, kvKey(key), jetstream.LastRevision(rev), jetstream.PurgeTTL(limitMarkerTTL))
	if errors.Is(err, jetstream.ErrKeyRevisionMismatch) || wrongLastSequence(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: delete: %w", err)
	}
	return true, nil
}

// PutAsync is Put without waiting for the server's answer: a writer that
// stores many keys at once sends them all, then waits once (Flush).
//
// Only the last before a Flush asks for an answer: an answer per key (a
// reply subject, the server's acknowledgement, its JSON read back) cost
// about as much CPU as the server storing the key. Not so when other
// nodes share the bucket (see KV.acked): there each put asks for its
// answer, and Flush sends again those whose answer failed.
func (k *KV) PutAsync(key string, value []byte, ttl time.Duration) error {
	m := k.message(key, value, ttl)
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.idPrefix != "" {
		k.nextID++
		if m.Header == nil {
			m.Header = nats.Header{}
		}
		m.Header.Set(jetstream.MsgIDHeader, k.idPrefix+strconv.FormatUint(k.nextID, 36))
		if err := k.acked.publish(m); err != nil {
			return fmt.Errorf("store: put: %w", err)
		}
		return nil
	}
	if k.held != nil {
		if err := k.js.Conn().PublishMsg(k.held); err != nil {
			k.held = m // the one held is lost; this one takes its place
			return fmt.Errorf("store: put: %w", err)
		}
	}
	k.held = m
	k.sent++
	return nil
}

// message is a put of key to value, with the origin header, and its
// time to live in the header the server reads (at least a second: the
// server's granularity); none for 0. PutAsync's messages are published
// as they are, without jetstream's publish options.
func (k *KV) message(key string, value []byte, ttl time.Duration) *nats.Msg {
	m := &nats.Msg{Subject: k.prefix + kvKey(key), Data: value}
	if ttl > 0 || k.origin != "" {
		m.Header = nats.Header{}
	}
	if ttl > 0 {
		// Whole seconds, as the server reads it (Duration.String's
		// "2h0m4.987654321s" cost a stored registration more).
		m.Header.Set(jetstream.MsgTTLHeader, strconv.FormatInt(int64(max(ttl, time.Second)/time.Second), 10)+"s")
	}
	if k.origin != "" {
		m.Header.Set(originHeader, k.origin)
	}
	return m
}

// ttl is the publish option of a key's time to live (at least a second:
// the server's granularity); none for 0.
func (k *KV) ttl(ttl time.Duration) []jetstream.PublishOpt {
	if ttl <= 0 {
		return nil
	}
	return []jetstream.PublishOpt{jetstream.WithMsgTTL(max(ttl, time.Second))}
}

// originHeader names the store that wrote a bucket's message.
const originHeader = "Switchboard-Origin"

// Flush waits until the PutAsyncs before it are stored; it fails when
// the server's answer says some were not (or there was none).
func (k *KV) Flush(ctx context.Context) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.idPrefix != "" {
		return k.flushShared(ctx)
	}
	if k.held == nil {
		return nil
	}
	m, sent := k.held, k.sent
	k.held, k.sent = nil, 0
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	ack, err := k.js.PublishMsg(ctx, m)
	if err != nil {
		// Whether the others were stored is not known; the next answer
		// starts the count afresh.
		k.seqKnown = false
		return fmt.Errorf("store: put: %w", err)
	}
	prev, known := k.seq, k.seqKnown
	k.seq, k.seqKnown = ack.Sequence, true
	// Other writes to the bucket (Put, Delete, another node's, the
	// server's expiry markers) only add to the difference: a shortfall
	// is ours.
	if known && ack.Sequence-min(ack.Sequence, prev) < sent {
		return fmt.Errorf("store: put: %d of %d keys not stored", sent-(ack.Sequence-prev), sent)
	}
	return nil
}

// flushShared is Flush when other nodes share the bucket: it waits for
// every put's answer, and sends again those whose answer failed or never
// came (ackedBatch), bar one of a key put again later in the batch.
//
// A put sent again lands after the batch's others, so an older value
// sent again after a newer one of its key would take the key back: of a
// key's puts in the batch only the last is sent again (lastOfKey), none
// when that one was stored. Flush holds k.mu while it sends again, so
// no later PutAsync comes in between. A write of the key from elsewhere
// (Put, Delete, another node) while this sends again is not looked for:
// the registrar writes its keys from one goroutine, each Flush before
// the next batch, and a device moves to another node only after its
// registration retry interval, while this sends again for the seconds
// an election takes (at most retryFor).
func (k *KV) flushShared(ctx context.Context) error {
	if len(k.acked.msgs) == 0 {
		return nil
	}
	_, sent, left, err := k.acked.wait(ctx, lastOfKey)
	if left > 0 {
		return fmt.Errorf("store: put: %d of %d keys not stored: %w", left, sent, err)
	}
	return nil
}

// lastOfKey is again (indexes into msgs, the puts to send again) less
// each put whose key (subject) is put again later in msgs.
func lastOfKey(msgs []*nats.Msg, again []int) []int {
	later := make(map[string]bool, len(msgs))
	keep := again[:0:0]
	j := len(again) - 1
	for i := len(msgs) - 1; i >= 0 && j >= 0; i-- {
		if again[j] == i {
			if !later[msgs[i].Subject] {
				keep = append(keep, i)
			}
			j--
		}
		later[msgs[i].Subject] = true
	}
	slices.Reverse(keep)
	return keep
}

// Get returns key's value; ok is false when it has none.
//
// In a cluster any replica answers (a direct get), and one may be a
// moment behind the two that acknowledged a put: a key another node wrote
// is followed with Watch, which hands its value, not read back with Get.
func (k *KV) Get(ctx context.Context, key string) (value []byte, ok bool, err error) {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	e, err := k.kv.Get(ctx, kvKey(key))
	if k.origin != "" && errors.Is(err, nats.ErrNoResponders) {
		// In a cluster a get is answered by any replica (direct get):
		// none does for a moment after the bucket is made, or after a
		// node's loss. Asked again, as a bucket is opened (settle).
		e, err = settle(ctx, true, func(ctx context.Context) (jetstream.KeyValueEntry, error) {
			return k.kv.Get(ctx, kvKey(key))
		})
	}
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("store: get: %w", err)
	}
	return e.Value(), true, nil
}

// Delete removes key (nothing when it has no value).
func (k *KV) Delete(ctx context.Context, key string) error {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	// A purge with a TTL: its marker goes too, so that keys that come and
	// go (registrations) leave nothing behind.
	if k.origin != "" {
		// KeyValue.Purge's message, with the origin header; sent again
		// while a lost node's bucket leader is replaced, as Put is.
		ctx, cancel := k.open(ctx)
		defer cancel()
		_, err := settle(ctx, true, func(ctx context.Context) (*jetstream.PubAck, error) {
			m := nats.NewMsg(k.prefix + kvKey(key))
			m.Header.Set("KV-Operation", "PURGE")
			m.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
			m.Header.Set(originHeader, k.origin)
			return k.js.PublishMsg(ctx, m, k.ttl(limitMarkerTTL)...)
		})
		if err != nil {
			return fmt.Errorf("store: delete: %w", err)
		}
		return nil
	}
	if err := k.kv.Purge(ctx, kvKey(key), jetstream.PurgeTTL(limitMarkerTTL)); err != nil && !errors.Is(err, jetstream.ErrKeyNotFound) {
		return fmt.Errorf("store: delete: %w", err)
	}
	return nil
}

// All returns every key's value.
//
// In a cluster the listing comes from a consumer the server places on any
// replica of the bucket, and one may lag the writes the leader
// acknowledged: a consumer there says it has handed everything while the
// keys it has not applied yet are missing (voicemail's index at a start
// missed metadata so, and its sweep never saw it:
// TestClusterStartSweepsOldMetadata, 2 runs in 30 under load).
// leaderAll reads on until the leader's last message is handed.
func (k *KV) All(ctx context.Context) (map[string][]byte, error) {
	if k.origin != "" {
		return k.leaderAll(ctx)
	}
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	w, err := k.kv.WatchAll(ctx, jetstream.IgnoreDeletes())
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	defer func() { _ = w.Stop() }()
	out := map[string][]byte{}
	for {
		select {
		case e := <-w.Updates():
			if e == nil { // the values there were when the watch began: all read
				return out, nil
			}
			raw, err := base64.RawURLEncoding.DecodeString(e.Key())
			if err != nil {
				continue // not one of ours
			}
			out[string(raw)] = e.Value()
		case <-ctx.Done():
			return nil, fmt.Errorf("store: list: %w", ctx.Err())
		}
	}
}

// leaderAll is All in a cluster: every key's last message, from a
// consumer on whichever replica the server picks, read until it has
// handed the last message of the bucket that the stream's leader holds
// (leaderGet, asked first): the consumer hands each key's last message in
// the stream's order, so by then it has handed every key the leader had.
// The leader's last message may go before the consumer hands it (the
// marker of a deletion, which goes after limitMarkerTTL): the leader is
// asked again each second, and its last then is the one waited for.
//
// As long as opening a bucket (k.open), as Watch.
func (k *KV) leaderAll(ctx context.Context) (map[string][]byte, error) {
	ctx, cancel := k.open(ctx)
	defer cancel()
	// The sequence of the bucket's last message at the leader; 0: none.
	lastAtLeader := func() (uint64, error) {
		m, err := leaderGet(ctx, k.js.Conn(), k.stream, msgGetRequest{LastFor: k.prefix + ">"})
		if errors.Is(err, errNoMessage) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("store: list: %w", err)
		}
		return m.Seq, nil
	}
	want, err := lastAtLeader()
	if err != nil || want == 0 {
		return map[string][]byte{}, err
	}
	cons, err := settle(ctx, true, func(ctx context.Context) (jetstream.Consumer, error) {
		return k.js.OrderedConsumer(ctx, k.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{k.prefix + ">"}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	var (
		mu     sync.Mutex
		out    = map[string][]byte{}
		handed uint64 // the stream sequence of the last message handed
	)
	more := make(chan struct{}, 1)
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		mu.Lock()
		if raw, err := base64.RawURLEncoding.DecodeString(m.Subject()[len(k.prefix):]); err == nil {
			if deletion(m.Headers()) {
				delete(out, string(raw))
			} else {
				out[string(raw)] = m.Data()
			}
		}
		handed = max(handed, md.Sequence.Stream)
		mu.Unlock()
		select {
		case more <- struct{}{}:
		default:
		}
	})
	if err != nil {
		return nil, fmt.Errorf("store: list: %w", err)
	}
	defer func() {
		cc.Stop()
		<-cc.Closed()
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		mu.Lock()
		if handed >= want {
			all := maps.Clone(out)
			mu.Unlock()
			return all, nil
		}
		mu.Unlock()
		select {
		case <-more:
		case <-tick.C:
			now, err := lastAtLeader()
			if err != nil {
				return nil, err
			}
			// Gone (the leader's last is older now): the one before it
			// is waited for. A newer last is not: All lists what there
			// was when it began.
			want = min(want, now)
		case <-ctx.Done():
			return nil, fmt.Errorf("store: list: %w", ctx.Err())
		}
	}
}

// Watch follows the bucket: it hands fn every key's value there is, then
// returns, and from then on hands fn each change as it is stored, in
// order, from one goroutine, until stop. A deleted key, or one whose time
// ran out, comes with deleted set and no value; stored is when the change
// was stored (the server's clock); mine says this store wrote it (only
// told when other nodes share the store: Clustered).
func (k *KV) Watch(ctx context.Context, fn func(key string, value []byte, stored time.Time, deleted, mine bool)) (stop func(), err error) {
	return k.watch(ctx, func(key string, value []byte, stored time.Time, _ uint64, deleted, mine bool) {
		fn(key, value, stored, deleted, mine)
	})
}

// WatchRevisions is Watch handing each change's revision (the one
// Revision reads, and Insert and Update return) instead of when it was
// stored: revisions grow with each write to the bucket, so a watcher
// that knows a key's revision from its own write can tell a change that
// came before it, handed on after.
func (k *KV) WatchRevisions(ctx context.Context, fn func(key string, value []byte, rev uint64, deleted, mine bool)) (stop func(), err error) {
	return k.watch(ctx, func(key string, value []byte, _ time.Time, rev uint64, deleted, mine bool) {
		fn(key, value, rev, deleted, mine)
	})
}

func (k *KV) watch(ctx context.Context, fn func(key string, value []byte, stored time.Time, rev uint64, deleted, mine bool)) (stop func(), err error) {
	// In a cluster, as long as opening a bucket: a node that just died
	// may have led the bucket's stream, or the cluster.
	ctx, cancel := k.open(ctx)
	defer cancel()
	// Asked again when the answer is slow: a node that just died may have
	// led the bucket's stream, and the request waits for it otherwise.
	cons, err := settle(ctx, k.origin != "", func(ctx context.Context) (jetstream.Consumer, error) {
		return k.js.OrderedConsumer(ctx, k.stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{k.prefix + ">"}, DeliverPolicy: jetstream.DeliverLastPerSubjectPolicy,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: watch: %w", err)
	}
	synced := make(chan struct{})
	var once sync.Once
	cc, err := cons.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		if raw, err := base64.RawURLEncoding.DecodeString(m.Subject()[len(k.prefix):]); err == nil {
			h := m.Headers()
			deleted := deletion(h)
			mine := k.origin != "" && h.Get(originHeader) == k.origin
			var v []byte
			if !deleted {
				v = m.Data()
			}
			fn(string(raw), v, md.Timestamp, md.Sequence.Stream, deleted, mine)
		}
		if md.NumPending == 0 { // caught up: every value there was is handed
			once.Do(func() { close(synced) })
		}
	})
	if err != nil {
		return nil, fmt.Errorf("store: watch: %w", err)
	}
	stop = func() {
		cc.Stop()
		<-cc.Closed()
	}
	// An empty bucket hands nothing first. (Not the consumer's Info: the
	// ordered consumer holds its lock while it asks, and a consumer
	// placed on a node that just died keeps its handler, and its reset,
	// waiting as long.)
	empty := func() bool {
		sctx, scancel := context.WithTimeout(ctx, 2*time.Second)
		defer scancel()
		st, err := k.kv.Status(sctx)
		return err == nil && st.Values() == 0
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		if empty() {
			once.Do(func() { close(synced) })
		}
		select {
		case <-synced:
			return stop, nil
		case <-tick.C: // the values there were may have expired unseen
		case <-ctx.Done():
			stop()
			return nil, fmt.Errorf("store: watch: %w", ctx.Err())
		}
	}
}

// wrongLastSequence reports whether err is JetStream's "wrong last
// sequence": another writer's revision came first. nats.go's Create says
// ErrKeyExists for that, except when the key was deleted and it creates
// over the delete marker: then a replicated bucket's refusal (code 10164)
// comes back bare (TestKVCreate's third round, three nodes creating a
// deleted key at once, failed so in CI).
func wrongLastSequence(err error) bool {
	var api *jetstream.APIError
	return errors.As(err, &api) && (api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence ||
		api.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant)
}
