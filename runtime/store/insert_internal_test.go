package store

import (
	"context"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// lostAnswer is a store whose first publish is answered with a timeout:
// stored, as when the leader that stored it died before answering; or,
// with instead set, not stored, instead run (another node's write before
// the insert is sent again).
type lostAnswer struct {
	jetstream.JetStream
	lost    bool
	instead func()
}

func (l *lostAnswer) PublishMsg(ctx context.Context, m *nats.Msg, opts ...jetstream.PublishOpt) (*jetstream.PubAck, error) {
	if !l.lost && l.instead != nil {
		l.lost = true
		l.instead()
		return nil, context.DeadlineExceeded
	}
	ack, err := l.JetStream.PublishMsg(ctx, m, opts...)
	if err == nil && !l.lost {
		l.lost = true
		return nil, context.DeadlineExceeded
	}
	return ack, err
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
	k.js = &lostAnswer{JetStream: k.js}
	rev, err := k.Insert(ctx, "mine", []byte("a"))
	if _, want, _, _, _ := k.Revision(ctx, "mine"); err != nil || rev == 0 || rev != want {
		t.Errorf("Insert whose answer was lost: revision %d, %v; want inserted, revision %d", rev, err, want)
	}
	k.js = &lostAnswer{JetStream: k.js.(*lostAnswer).JetStream, instead: func() {
		if err := k.Put(ctx, "theirs", []byte("b"), 0); err != nil {
			t.Error(err)
		}
	}}
	if rev, err := k.Insert(ctx, "theirs", []byte("c")); err != nil || rev != 0 {
		t.Errorf("Insert over another's value: revision %d, %v; want not inserted", rev, err)
	}
}
