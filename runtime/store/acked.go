package store

import (
	"context"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ackWait is how long a message of a clustered store waits for the
// stream's answer before it is sent again: the leader answers within
// milliseconds, unless it died with the message.
const ackWait = requestTimeout / 2

// ackedBatch is a clustered store's batch of messages to one stream
// (EventLog.AppendAsync's events, KV.PutAsync's puts), each asking for
// its answer, until the writer's Flush waits for them (wait). Counting
// the shortfall from the last's answer does not do in a cluster: other
// nodes write the same stream, and when the stream's leader dies with a
// batch under way the messages sent to it are gone while the last,
// answered by the next leader, is stored (issue 20's drill lost events
// and registrations so). Each message carries an ID (Nats-Msg-Id), so
// that one sent again which was stored after all is stored once.
type ackedBatch struct {
	pub jetstream.JetStream // Store.pub: its answers time out after ackWait
	js  jetstream.JetStream // Store.js, which sends again
	// retryFor bounds sending again, from the batch's first send: within
	// the stream's duplicate window (resendFor).
	retryFor time.Duration

	msgs  []*nats.Msg
	acks  []jetstream.PubAckFuture
	since time.Time // when the first of msgs was sent
}

// publish sends m, which carries its ID, asking for its answer.
func (b *ackedBatch) publish(m *nats.Msg) error {
	// While the store's publisher waits for as many answers as it
	// allows (every site's batches), this waits for room rather than
	// fails.
	f, err := b.pub.PublishMsgAsync(m, jetstream.WithStallWait(ackWait))
	if err != nil {
		return err
	}
	if len(b.msgs) == 0 {
		b.since = time.Now()
	}
	b.msgs = append(b.msgs, m)
	b.acks = append(b.acks, f)
	return nil
}

// wait waits for the answers of the batch sent since the last wait, and
// sends again those whose answer failed or never came (resend). keep,
// when not nil, chooses among those the ones to send again. It returns
// the batch's sequences (0 for a message not stored), how many messages
// it held, and how many of them are still not stored, and why.
func (b *ackedBatch) wait(ctx context.Context, keep func(msgs []*nats.Msg, again []int) []int) (seqs []uint64, sent, left int, err error) {
	msgs, acks, since := b.msgs, b.acks, b.since
	b.msgs, b.acks = nil, nil
	seqs = make([]uint64, len(msgs))
	var again []int
	for i, f := range acks {
		// Each answer comes, fails, or times out (ackWait: the
		// publisher's timeout) on its own.
		select {
		case a := <-f.Ok():
			seqs[i] = a.Sequence
		case <-f.Err():
			again = append(again, i)
		}
	}
	if keep != nil && len(again) > 0 {
		again = keep(msgs, again)
	}
	if len(again) > 0 {
		again, err = b.resend(ctx, since, msgs, again, seqs)
	}
	return seqs, len(msgs), len(again), err
}

// resend sends the messages of msgs that again lists, in order, each
// until the stream answers (seqs takes its sequence), while ctx lasts and
// for at most b.retryFor from since, when the batch was first sent: in a
// cluster the stream's leader may have died with the batch, and the
// others elect another within seconds. A message the dead leader stored
// after all is not stored twice (its ID): retryFor stays within the
// stream's duplicate window. A message sent again lands after those of
// the batch already stored: the stream's order is then not quite the
// order sent. It returns the messages still not stored, and why.
func (b *ackedBatch) resend(ctx context.Context, since time.Time, msgs []*nats.Msg, again []int, seqs []uint64) (left []int, err error) {
	ctx, cancel := context.WithDeadline(ctx, since.Add(b.retryFor))
	defer cancel()
	pause := 100 * time.Millisecond
	for {
		for len(again) > 0 {
			actx, acancel := context.WithTimeout(ctx, ackWait)
			var ack *jetstream.PubAck
			ack, err = b.js.PublishMsg(actx, msgs[again[0]])
			acancel()
			if err != nil {
				break
			}
			seqs[again[0]] = ack.Sequence
			again = again[1:]
		}
		if len(again) == 0 {
			return nil, nil
		}
		t := time.NewTimer(pause)
		select {
		case <-ctx.Done():
			t.Stop()
			return again, err
		case <-t.C:
		}
		pause = min(2*pause, 2*time.Second)
	}
}
