package store

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// lostAnswer is a bucket whose first create is answered with a timeout:
// stored, as when the leader that stored it died before answering; or,
// with instead set, not stored, instead run (another node's write before
// the create is sent again).
type lostAnswer struct {
	jetstream.KeyValue
	lost    bool
	instead func()
}

func (l *lostAnswer) Create(ctx context.Context, key string, value []byte, opts ...jetstream.KVCreateOpt) (uint64, error) {
	if !l.lost && l.instead != nil {
		l.lost = true
		l.instead()
		return 0, context.DeadlineExceeded
	}
	rev, err := l.KeyValue.Create(ctx, key, value, opts...)
	if err == nil && !l.lost {
		l.lost = true
		return 0, context.DeadlineExceeded
	}
	return rev, err
}

// An insert whose answer was lost is sent again and finds the key holding
// its own value: inserted, not "taken by another" (its caller would give
// up the key it holds); a key holding another's value is not.
func TestInsertAnswerLost(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	k, err := s.KV(ctx, "mailboxes", "lost")
	if err != nil {
		t.Fatal(err)
	}
	k.kv = &lostAnswer{KeyValue: k.kv}
	if ok, err := k.Insert(ctx, "mine", []byte("a")); err != nil || !ok {
		t.Errorf("Insert whose answer was lost: %v, %v; want inserted", ok, err)
	}
	k.kv = &lostAnswer{KeyValue: k.kv.(*lostAnswer).KeyValue, instead: func() {
		if err := k.Put(ctx, "theirs", []byte("b"), 0); err != nil {
			t.Error(err)
		}
	}}
	if ok, err := k.Insert(ctx, "theirs", []byte("c")); err != nil || ok {
		t.Errorf("Insert over another's value: %v, %v; want not inserted", ok, err)
	}
}
