package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"switchboard/runtime/events"
)

// Limits bound what an event stream keeps: the oldest events go first
// once any one is reached. Zero fields take DefaultLimits'.
type Limits struct {
	MaxAge   time.Duration
	MaxMsgs  int64
	MaxBytes int64
}

// DefaultLimits keep a quarter of a year of a large building's events:
// a 400-flat block logs some 30 000 events a day, most of them
// registrations, at 300-odd bytes each.
var DefaultLimits = Limits{MaxAge: 90 * 24 * time.Hour, MaxMsgs: 5_000_000, MaxBytes: 2 << 30}

// EventLog is a site's event stream kept in JetStream. Each event is a
// message whose stream sequence is its ID; the stream's epoch (made when
// it was created, kept in its metadata) names the sequence's lifetime, so
// a client holding an ID of another epoch knows it must start again.
type EventLog struct {
	js      jetstream.JetStream
	stream  jetstream.Stream
	name    string
	epoch   string
	subject string // name + "."; an event's subject is subject + kind
	// shared: other nodes write the stream too (a clustered store), so
	// Tail follows the stream rather than this process's writes; every
	// event asks for an answer of its own (acked), and one whose answer
	// fails or never comes (the stream's leader died) is sent again for
	// up to retryFor, each event with an ID (Nats-Msg-Id) so that the
	// stream keeps it once.
	shared   bool
	idPrefix string
	nextID   atomic.Uint64

	mu   sync.Mutex
	held *nats.Msg // AppendAsync's last event, until the next or Flush
	sent uint64    // events since the last Flush, held included
	// seq is the stream's last sequence after the last Flush (when
	// seqKnown): the next answer less it is how many events were stored.
	// Shared, it is the ID the last event stored got (its answer's).
	seq      uint64
	seqKnown bool

	// acked is the batch as sent since the last Flush (shared only),
	// each event with its answer to come.
	acked ackedBatch

	// batch is what AppendAsync sent since the last Flush, as stored
	// (Storable), for the tails: Flush numbers them from its answer
	// (not shared: a clustered store's tails follow the stream).
	batch []Record
	// fed is the last ID handed to the tails: every event up to it is
	// stored, or was lost for good.
	fed   uint64
	tails map[*tail]struct{}
}

// Record is a stored event with its ID (stream sequence). Lost is how many
// events the recorder could not store just before this one.
type Record struct {
	Seq  uint64
	Lost uint64
	events.Event
}

const (
	epochKey   = "switchboard_epoch"
	lostHeader = "Switchboard-Lost"
)

// EventLog opens (creating it if needed) the event stream of site with
// limits l. A stream that exists is kept, its limits updated.
func (s *Store) EventLog(ctx context.Context, site string, l Limits) (*EventLog, error) {
	ctx, cancel := s.openTimeout(ctx)
	defer cancel()
	l.MaxAge = cmpOr(l.MaxAge, DefaultLimits.MaxAge)
	l.MaxMsgs = cmpOr(l.MaxMsgs, DefaultLimits.MaxMsgs)
	l.MaxBytes = cmpOr(l.MaxBytes, DefaultLimits.MaxBytes)
	n := name("events", site)
	cfg := jetstream.StreamConfig{
		Name: n, Subjects: []string{n + ".>"}, Storage: s.storage(),
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardOld,
		MaxAge: l.MaxAge, MaxMsgs: l.MaxMsgs, MaxBytes: l.MaxBytes,
		Description: "switchboard: the event stream of site " + site,
	}
	cfg.Replicas = s.replicas()
	st, epoch, err := s.ensureEventStream(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: event stream: %w", err)
	}
	info := st.CachedInfo()
	return &EventLog{
		js: s.js, stream: st, name: n, epoch: epoch, subject: n + ".", shared: s.clustered, idPrefix: newEpoch() + "-",
		seq: info.State.LastSeq, seqKnown: true, fed: info.State.LastSeq, tails: map[*tail]struct{}{},
		acked: ackedBatch{pub: s.pub, js: s.js, retryFor: resendFor(s.wait, info.Config.Duplicates)},
	}, nil
}

// resendFor is how long a batch whose answer failed is sent again: the
// cluster's wait, but never past the stream's duplicate window (NATS's
// default two minutes when the stream names none), past which a resent
// event that had been stored after all would be stored twice.
func resendFor(wait, duplicates time.Duration) time.Duration {
	if duplicates <= 0 {
		duplicates = 2 * time.Minute
	}
	return min(wait, duplicates)
}

// ensureEventStream opens the event stream cfg describes, keeping the
// epoch of one that exists (its limits updated when they differ), or
// creates it with a new epoch. Several nodes may do so at once: the node
// whose create finds the stream made by another in between takes that
// one's epoch, and a node finding the settings it would write leaves the
// stream as it is.
func (s *Store) ensureEventStream(ctx context.Context, cfg jetstream.StreamConfig) (jetstream.Stream, string, error) {
	type opened struct {
		st    jetstream.Stream
		epoch string
	}
	o, err := settle(ctx, s.clustered, func(ctx context.Context) (opened, error) {
		st, err := s.js.Stream(ctx, cfg.Name)
		if err == nil {
			have := st.CachedInfo().Config
			epoch := have.Metadata[epochKey]
			if epoch == "" {
				epoch = newEpoch()
			}
			cfg.Metadata = map[string]string{epochKey: epoch}
			if sameStream(have, cfg) {
				return opened{st, epoch}, nil
			}
			st, err = s.js.UpdateStream(ctx, cfg)
			return opened{st, epoch}, err
		}
		if !errors.Is(err, jetstream.ErrStreamNotFound) {
			return opened{}, err
		}
		epoch := newEpoch()
		cfg.Metadata = map[string]string{epochKey: epoch}
		// Refused when another node made it just now: settle tries
		// again, and takes that one's epoch.
		st, err = s.js.CreateStream(ctx, cfg)
		return opened{st, epoch}, err
	})
	return o.st, o.epoch, err
}

func newEpoch() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// sameStream reports whether a stream has the settings of cfg that
// EventLog sets (the server adds metadata of its own: only the epoch is
// compared).
func sameStream(have, cfg jetstream.StreamConfig) bool {
	return have.Metadata[epochKey] == cfg.Metadata[epochKey] && slices.Equal(have.Subjects, cfg.Subjects) &&
		have.Storage == cfg.Storage && have.Retention == cfg.Retention && have.Discard == cfg.Discard &&
		have.MaxAge == cfg.MaxAge && have.MaxMsgs == cfg.MaxMsgs && have.MaxBytes == cfg.MaxBytes &&
		have.Replicas == cfg.Replicas && have.Description == cfg.Description
}

// Delete removes the stream and every event in it.
func (l *EventLog) Delete(ctx context.Context) error {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	if err := l.js.DeleteStream(ctx, l.name); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("store: event stream: %w", err)
	}
	return nil
}

func cmpOr[T comparable](a, b T) T {
	var zero T
	if a != zero {
		return a
	}
	return b
}

// Epoch names the stream's lifetime: the same across restarts of serve on
// the same data, another once the stream was made anew.
func (l *EventLog) Epoch() string { return l.epoch }

// Storable is e as the stream keeps it: without the digits someone keyed
// (a door code, a voicemail PIN typed in a call), which are for no log.
// The one exception is a ring test's confirmation (a DTMF event naming
// the person rung, published only by b2bua.RingTest): a digit the server
// asked for to prove a phone rang, which commissioning reports.
func Storable(e events.Event) events.Event {
	if e.Kind != events.DTMF || e.Target == "" {
		e.Digits = ""
	}
	return e
}

// Append stores e (Storable(e)); lost is how many events were lost just
// before it. It returns e's ID. It is AppendAsync and Flush at once, so
// that the tails see it too.
func (l *EventLog) Append(ctx context.Context, e events.Event, lost uint64) (uint64, error) {
	m, r, err := l.message(e, lost)
	if err != nil {
		return 0, err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.appendLocked(m, r); err != nil {
		return 0, err
	}
	if _, err := l.flushLocked(ctx); err != nil {
		return 0, err
	}
	return l.seq, nil
}

// Bounds returns the IDs of the oldest and the newest event kept (first
// is last+1 when none is).
func (l *EventLog) Bounds(ctx context.Context) (first, last uint64, err error) {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	info, err := l.stream.Info(ctx)
	if err != nil {
		return 0, 0, fmt.Errorf("store: event stream: %w", err)
	}
	first, last = info.State.FirstSeq, info.State.LastSeq
	if info.State.Msgs == 0 {
		first = last + 1
	}
	return first, last, nil
}

// Read returns up to n events from ID from on, oldest first (IDs that
// are no longer kept are skipped).
func (l *EventLog) Read(ctx context.Context, from uint64, n int) ([]Record, error) {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	var out []Record
	for seq := max(from, 1); len(out) < n; {
		// The next message at or after seq: skips what retention removed.
		m, err := l.stream.GetMsg(ctx, seq, jetstream.WithGetMsgSubject(l.subject+">"))
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			break
		}
		if err != nil {
			return out, fmt.Errorf("store: event stream: %w", err)
		}
		r, err := record(m.Sequence, m.Header, m.Data)
		if err != nil {
			return out, err
		}
		out = append(out, r)
		seq = m.Sequence + 1
	}
	return out, nil
}

func record(seq uint64, h nats.Header, data []byte) (Record, error) {
	r := Record{Seq: seq}
	if err := json.Unmarshal(data, &r.Event); err != nil {
		return r, fmt.Errorf("store: event %d: %w", seq, err)
	}
	if v := h.Get(lostHeader); v != "" {
		r.Lost, _ = strconv.ParseUint(v, 10, 64)
	}
	return r, nil
}

// Follow calls fn with every event from ID from on (1: all kept), in
// order, as they are stored, until stop; kinds, when given, are the only
// ones it is called with (the stream skips the others). fn runs on one
// goroutine; stop waits for a call in progress.
func (l *EventLog) Follow(ctx context.Context, from uint64, kinds []events.Kind, fn func(Record)) (stop func(), err error) {
	cfg := jetstream.OrderedConsumerConfig{DeliverPolicy: jetstream.DeliverAllPolicy}
	if from > 1 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, from
	}
	for _, k := range kinds {
		cfg.FilterSubjects = append(cfg.FilterSubjects, l.subject+string(k))
	}
	cctx, cancel := ctxTimeout(ctx)
	defer cancel()
	c, err := l.stream.OrderedConsumer(cctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store: event stream: %w", err)
	}
	var mu sync.Mutex
	stopped := false
	cc, err := c.Consume(func(m jetstream.Msg) {
		md, err := m.Metadata()
		if err != nil {
			return
		}
		r, err := record(md.Sequence.Stream, m.Headers(), m.Data())
		if err != nil {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		if !stopped {
			fn(r)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("store: event stream: %w", err)
	}
	return func() {
		cc.Stop()
		<-cc.Closed()
		mu.Lock()
		stopped = true
		mu.Unlock()
	}, nil
}

// TailStart returns the ID from which the stream holds the last n events
// of kinds (all kinds when none is given): where a reader that shows only
// the last n starts. It asks the server how many such events follow a
// point, halving the range: some twenty questions however long the
// stream.
func (l *EventLog) TailStart(ctx context.Context, kinds []events.Kind, n uint64) (uint64, error) {
	first, last, err := l.Bounds(ctx)
	if err != nil || first > last {
		return first, err
	}
	var filters []string
	for _, k := range kinds {
		filters = append(filters, l.subject+string(k))
	}
	if len(filters) == 0 {
		filters = []string{l.subject + ">"}
	}
	pending := func(from uint64) (uint64, error) {
		ctx, cancel := ctxTimeout(ctx)
		defer cancel()
		c, err := l.stream.CreateConsumer(ctx, jetstream.ConsumerConfig{
			FilterSubjects: filters, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
			AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: time.Minute, MemoryStorage: true,
		})
		if err != nil {
			return 0, err
		}
		info := c.CachedInfo()
		_ = l.stream.DeleteConsumer(ctx, info.Name)
		return info.NumPending, nil
	}
	all, err := pending(first)
	if err != nil || all <= n {
		return first, err
	}
	// The largest start from which at least n such events follow.
	lo, hi := first, last // pending(lo) >= n
	for lo < hi {
		mid := lo + (hi-lo+1)/2
		p, err := pending(mid)
		if err != nil {
			return lo, err
		}
		if p >= n {
			lo = mid
		} else {
			hi = mid - 1
		}
	}
	return lo, nil
}

// AppendAsync is Append without waiting for the server's answer; Flush
// waits for the answers of those before it.
//
// Only the last event before a Flush asks the server for an answer (a
// JetStream acknowledgement); the others are published without one. An
// answer per event — the server's reply, the client parsing its JSON, a
// future each — was a large part of the CPU of a call (issue 19), and one
// answer says as much: the events come over one connection, in order, and
// the stream's sequence counts those it stored, so the answer's sequence
// less the one before tells how many of the batch were stored.
//
// Not so in a clustered store: there every event asks for its answer.
// Other nodes write the same stream, so the count no longer tells, and
// when the stream's leader dies with a batch under way the events sent
// to it are gone while the last, answered by the next leader, is stored:
// the answers say which to send again (issue 20's drill lost events so).
func (l *EventLog) AppendAsync(e events.Event, lost uint64) error {
	m, r, err := l.message(e, lost)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.appendLocked(m, r)
}

// message is e as the stream keeps it, and as the tails are handed it.
func (l *EventLog) message(e events.Event, lost uint64) (*nats.Msg, Record, error) {
	e = Storable(e)
	// What a reader of the stream gets back has no monotonic clock
	// reading: neither has what the tails are handed.
	e.Time = e.Time.Round(0)
	// What json.Marshal writes, without its reflection (Event.AppendJSON).
	data, err := e.AppendJSON(make([]byte, 0, 256))
	if err != nil {
		return nil, Record{}, err
	}
	kind := string(e.Kind)
	if kind == "" {
		kind = "unknown"
	}
	// No headers unless some events were lost: a header map per event,
	// and the server parsing it, cost too.
	m := &nats.Msg{Subject: l.subject + kind, Data: data}
	if lost > 0 {
		m.Header = nats.Header{lostHeader: []string{strconv.FormatUint(lost, 10)}}
	}
	if l.shared {
		if m.Header == nil {
			m.Header = nats.Header{}
		}
		m.Header.Set(jetstream.MsgIDHeader, l.idPrefix+strconv.FormatUint(l.nextID.Add(1), 36))
	}
	return m, Record{Lost: lost, Event: e}, nil
}

func (l *EventLog) appendLocked(m *nats.Msg, r Record) error {
	if l.shared {
		return l.publishLocked(m)
	}
	// The event held back goes now, without asking for an answer; this one
	// is held until the next, or until Flush sends it asking for one.
	if l.held != nil {
		if err := l.js.Conn().PublishMsg(l.held); err != nil {
			// The one held is lost; this one takes its place.
			l.held = m
			l.batch[len(l.batch)-1] = r
			return fmt.Errorf("store: event stream: %w", err)
		}
	}
	l.held = m
	l.sent++
	l.batch = append(l.batch, r)
	return nil
}

// publishLocked sends m to a clustered store's stream, asking for its
// answer, which Flush waits for. The readers of a clustered store follow
// the stream (Tail), so the batch is not kept for them.
func (l *EventLog) publishLocked(m *nats.Msg) error {
	if err := l.acked.publish(m); err != nil {
		return fmt.Errorf("store: event stream: %w", err)
	}
	return nil
}

// Flush waits for the answers to the AppendAsyncs before it; it returns
// how many were not stored, and the first error.
func (l *EventLog) Flush(ctx context.Context) (failed uint64, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.flushLocked(ctx)
}

func (l *EventLog) flushLocked(ctx context.Context) (failed uint64, err error) {
	if l.shared {
		return l.flushShared(ctx)
	}
	if l.held == nil {
		return 0, nil
	}
	m, sent, batch := l.held, l.sent, l.batch
	l.held, l.sent, l.batch = nil, 0, nil
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	ack, err := l.js.PublishMsg(ctx, m)
	if err != nil {
		// Whether the others were stored is not known: counted as not,
		// and the next answer is taken as the count's new start.
		l.seqKnown = false
		return sent, fmt.Errorf("store: event stream: %w", err)
	}
	prev, known := l.seq, l.seqKnown
	l.seq, l.seqKnown = ack.Sequence, true
	l.feed(batch, ack.Sequence, known)
	// The tails took copies: the next batch reuses the array.
	l.batch = batch[:0]
	if !known || ack.Sequence-min(ack.Sequence, prev) >= sent {
		return 0, nil
	}
	stored := ack.Sequence - prev
	return sent - stored, fmt.Errorf("store: event stream: %d of %d events not stored", sent-stored, sent)
}

// flushShared is flushLocked in a clustered store: it waits for every
// event's answer, and sends again those whose answer failed or never came
// (ackedBatch). The IDs are the answers': other nodes' events are
// numbered among ours.
func (l *EventLog) flushShared(ctx context.Context) (failed uint64, err error) {
	if len(l.acked.msgs) == 0 {
		return 0, nil
	}
	seqs, sent, left, err := l.acked.wait(ctx, nil)
	if left > 0 {
		return uint64(left), fmt.Errorf("store: event stream: %d of %d events not stored: %w", left, sent, err)
	}
	l.seq, l.seqKnown = seqs[len(seqs)-1], true
	return 0, nil
}

// tailQueue is how many events a tail may be behind before its queue is
// dropped and it reads them back from the stream instead: a reader that
// stalls costs the process no more memory than that.
const tailQueue = 1 << 14

// tail is a reader in this process of the events this EventLog stores
// (Tail).
type tail struct {
	kinds []events.Kind // nil: all
	fn    func(Record)
	fail  func(error)

	mu sync.Mutex
	// cut: the IDs up to it are read from the stream before queue.
	cut   uint64
	queue []Record // IDs above cut, oldest first
	wake  chan struct{}
}

func (t *tail) wants(k events.Kind) bool {
	return t.kinds == nil || slices.Contains(t.kinds, k)
}

// feed hands the events of a batch whose answer said last to the tails.
// Numbered from last back when they are the IDs since the last batch
// (they are, unless events were lost or another writer wrote between)
// and the batch before was answered (known: after a failed answer what
// was stored of that batch is not known, and a count that happens to
// match proves nothing); otherwise the tails read the IDs up to last
// from the stream, which says what was stored under which.
func (l *EventLog) feed(batch []Record, last uint64, known bool) {
	if last <= l.fed {
		return
	}
	exact := known && last-l.fed == uint64(len(batch))
	if exact {
		for i := range batch {
			batch[i].Seq = l.fed + 1 + uint64(i)
		}
	}
	l.fed = last
	for t := range l.tails {
		t.mu.Lock()
		switch {
		case !exact || len(t.queue) >= tailQueue:
			t.cut, t.queue = last, nil
		default:
			for _, r := range batch {
				if t.wants(r.Kind) {
					t.queue = append(t.queue, r)
				}
			}
		}
		t.mu.Unlock()
		select {
		case t.wake <- struct{}{}:
		default:
		}
	}
}

// Tail calls fn with every event from ID from on (1: all kept), of kinds
// (all when none is given), in order, each once, until stop. The events
// stored before Tail are read from the stream; those this EventLog
// stores after are handed to fn as they are stored, without reading them
// back (no JSON to decode, no consumer on the server): what the site's
// recorder writes its readers in the same process take from memory.
// Events another process writes into the same stream are not seen (Follow
// sees them). A read of the stream that fails is passed to fail, and
// what it could not read is skipped (fail may be nil). fn runs on one goroutine; stop waits
// for a call in progress.
//
// In a clustered store other nodes write the same stream: Tail is then
// Follow, so that the readers see every node's events, each once, in the
// stream's order (fail has Follow's error when it cannot start).
func (l *EventLog) Tail(from uint64, kinds []events.Kind, fn func(Record), fail func(error)) (stop func()) {
	if l.shared {
		stop, err := l.Follow(context.Background(), from, kinds, fn)
		if err != nil {
			if fail != nil {
				fail(err)
			}
			return func() {}
		}
		return stop
	}
	t := &tail{kinds: kinds, fn: fn, fail: fail, wake: make(chan struct{}, 1)}
	if len(kinds) == 0 {
		t.kinds = nil
	}
	l.mu.Lock()
	t.cut = l.fed // what is stored so far is read from the stream
	l.tails[t] = struct{}{}
	l.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		next := max(from, 1)
		for {
			t.mu.Lock()
			cut, q := t.cut, t.queue
			t.queue = nil
			t.mu.Unlock()
			if cut >= next {
				if err := l.readRange(ctx, next, cut, kinds, fn); err != nil {
					if ctx.Err() != nil {
						return
					}
					if fail != nil {
						fail(err)
					}
				}
				next = cut + 1
			}
			for _, r := range q {
				if r.Seq >= next {
					fn(r)
					next = r.Seq + 1
				}
			}
			select {
			case <-t.wake:
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		l.mu.Lock()
		delete(l.tails, t)
		l.mu.Unlock()
		cancel()
		<-done
	}
}

// readRange calls fn with the events of kinds (all when none is given)
// with IDs from from to to, in order, read from the stream.
func (l *EventLog) readRange(ctx context.Context, from, to uint64, kinds []events.Kind, fn func(Record)) error {
	if from > to {
		return nil
	}
	var filters []string
	for _, k := range kinds {
		filters = append(filters, l.subject+string(k))
	}
	if len(filters) == 0 {
		filters = []string{l.subject + ">"}
	}
	cctx, cancel := ctxTimeout(ctx)
	c, err := l.stream.CreateConsumer(cctx, jetstream.ConsumerConfig{
		FilterSubjects: filters, DeliverPolicy: jetstream.DeliverByStartSequencePolicy, OptStartSeq: from,
		AckPolicy: jetstream.AckNonePolicy, InactiveThreshold: time.Minute, MemoryStorage: true,
	})
	cancel()
	if err != nil {
		return fmt.Errorf("store: event stream: %w", err)
	}
	info := c.CachedInfo()
	defer func() {
		cctx, cancel := ctxTimeout(context.Background())
		defer cancel()
		_ = l.stream.DeleteConsumer(cctx, info.Name)
	}()
	if info.NumPending == 0 {
		return nil
	}
	it, err := c.Messages()
	if err != nil {
		return fmt.Errorf("store: event stream: %w", err)
	}
	defer it.Stop()
	// Close (ctx) ends a read that waits.
	stopped := context.AfterFunc(ctx, it.Stop)
	defer stopped()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("store: event stream: %w", err)
		}
		md, err := m.Metadata()
		if err != nil {
			return fmt.Errorf("store: event stream: %w", err)
		}
		seq := md.Sequence.Stream
		if seq > to {
			return nil
		}
		r, err := record(seq, m.Headers(), m.Data())
		if err != nil {
			return err
		}
		fn(r)
		// Every event up to to was stored when the read began: none
		// pending after this one means none is left in the range.
		if seq == to || md.NumPending == 0 {
			return nil
		}
	}
}
