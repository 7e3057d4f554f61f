package store

import (
	"context"
	"encoding/json"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// WaitGone waits until key is not in the bucket: at once if it is not
// there, else until the watcher sees its removal — the marker the server
// leaves when a key's time to live runs out (LimitMarkerTTL), or a delete.
func (k *KV) WaitGone(ctx context.Context, key string) error {
	w, err := k.kv.Watch(ctx, kvKey(key))
	if err != nil {
		return err
	}
	defer w.Stop()
	present := false
	for {
		select {
		case e := <-w.Updates():
			switch {
			case e == nil: // the current value, if any, has been delivered
				if !present {
					return nil
				}
			case e.Operation() == jetstream.KeyValuePut:
				present = true
			default: // a delete, a purge, or the expiry's marker
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// KVMaxValue is Store.KV with messages limited to max bytes: a put of a
// larger one is refused by the server, not the client.
func (s *Store) KVMaxValue(ctx context.Context, kind, site string, max int32) (*KV, error) {
	b := name(kind, site)
	kv, err := s.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: b, Storage: s.storage(), History: 1, LimitMarkerTTL: limitMarkerTTL, MaxValueSize: max,
	})
	if err != nil {
		return nil, err
	}
	return &KV{js: s.js, kv: kv, prefix: "$KV." + b + "."}, nil
}

// Replicas is how many copies of the object store its stream keeps.
func (o *Objects) Replicas(ctx context.Context) (int, error) {
	st, err := o.obs.Status(ctx)
	if err != nil {
		return 0, err
	}
	return st.Replicas(), nil
}

// WithSyncAlways is o with the server fsyncing every write before it
// answers (measured, not chosen: BenchmarkDurability).
func WithSyncAlways(o Options) Options {
	o.syncAlways = true
	return o
}

// Conn is the store's connection to its server: a test listens there for
// what the store's requests reach.
func (s *Store) Conn() *nats.Conn { return s.nc }

// ObjectsStream is the stream of the object store kind of site.
func ObjectsStream(kind, site string) string { return "OBJ_" + name(kind, site) }

// Leader names the node that leads the event stream's replicas; "" while
// none does (or the cluster does not answer).
func (l *EventLog) Leader(ctx context.Context) string { return streamLeader(ctx, l.js, l.name) }

// MoveLeader asks the event stream's leader to step down in favour of
// node (JetStream's stream leader stepdown, with a preferred placement).
func (l *EventLog) MoveLeader(ctx context.Context, node string) error {
	return moveStreamLeader(ctx, l.js, l.name, node)
}

// Leader names the node that leads the bucket's stream, as
// EventLog.Leader.
func (k *KV) Leader(ctx context.Context) string { return streamLeader(ctx, k.js, k.stream) }

// MoveLeader asks the bucket's stream leader to step down in favour of
// node, as EventLog.MoveLeader.
func (k *KV) MoveLeader(ctx context.Context, node string) error {
	return moveStreamLeader(ctx, k.js, k.stream, node)
}

func streamLeader(ctx context.Context, js jetstream.JetStream, stream string) string {
	st, err := js.Stream(ctx, stream) // asks for the stream's info
	if err != nil || st.CachedInfo().Cluster == nil {
		return ""
	}
	return st.CachedInfo().Cluster.Leader
}

func moveStreamLeader(ctx context.Context, js jetstream.JetStream, stream, node string) error {
	body, err := json.Marshal(map[string]any{"placement": map[string]string{"preferred": node}})
	if err != nil {
		return err
	}
	m, err := js.Conn().RequestWithContext(ctx, "$JS.API.STREAM.LEADER.STEPDOWN."+stream, body)
	if err != nil {
		return err
	}
	var r struct {
		Success bool                `json:"success"`
		Error   *jetstream.APIError `json:"error"`
	}
	if err := json.Unmarshal(m.Data, &r); err != nil {
		return err
	}
	if r.Error != nil {
		return r.Error
	}
	return nil
}

// KVStream is the stream of the bucket kind of site.
func KVStream(kind, site string) string { return "KV_" + name(kind, site) }

// Subject is the subject key's values are stored on.
func (k *KV) Subject(key string) string { return k.prefix + kvKey(key) }

// LoseAnswer makes the next insert's answer lost, the insert stored: as
// when the bucket's leader stored it and died before answering.
func (k *KV) LoseAnswer() {
	k.js = &lostAnswer{JetStream: k.js}
}
