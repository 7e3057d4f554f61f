package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// msgGetRequest is JetStream's message get (JSApiMsgGetRequest): the last
// message on LastFor, or the first at Seq or after on NextFor.
type msgGetRequest struct {
	Seq     uint64 `json:"seq,omitempty"`
	LastFor string `json:"last_by_subj,omitempty"`
	NextFor string `json:"next_by_subj,omitempty"`
}

// storedMsg is the message a message get answers (the server's
// StoredMsg: its header and data base64 in JSON).
type storedMsg struct {
	Seq    uint64    `json:"seq"`
	Header []byte    `json:"hdrs,omitempty"`
	Data   []byte    `json:"data,omitempty"`
	Time   time.Time `json:"time"`
}

// errNoMessage is leaderGet's error when the stream has no such message.
var errNoMessage = errors.New("store: no such message")

// leaderGet sends a message get to the leader of stream: the
// STREAM.MSG.GET request, which only the leader answers. nats.go's
// Stream.GetMsg and GetLastMsgForSubject, and so KeyValue.Get and
// ObjectStore.Get, send a direct get instead when the stream allows them
// (buckets and object stores do), and any replica answers that, the
// asking node's own first: one may be a moment behind the two that
// acknowledged a write. The leader stores a message before it
// acknowledges it, so it holds every write acknowledged.
//
// While the leader is being replaced (a node's loss) a request goes
// unanswered or is refused for a moment: each is bounded and asked again
// (settle) until ctx ends.
func leaderGet(ctx context.Context, nc *nats.Conn, stream string, req msgGetRequest) (*storedMsg, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return nil, err
	}
	return settle(ctx, true, func(ctx context.Context) (*storedMsg, error) {
		r, err := nc.RequestWithContext(ctx, "$JS.API.STREAM.MSG.GET."+stream, body)
		if err != nil {
			return nil, err
		}
		return parseMsgGet(r.Data, msgGetAnswerLimit(nc.MaxPayload()))
	})
}

// msgGetAnswerLimit bounds the answer to a message get on a connection
// whose server takes messages of at most maxPayload bytes: the most a
// stored message can be (its header and data), base64, with room for its
// subject and the JSON around them.
func msgGetAnswerLimit(maxPayload int64) int {
	return int(4*(max(maxPayload, 0)/3+3)) + 16<<10
}

// parseMsgGet reads the answer to a message get (JSApiMsgGetResponse),
// refusing one of more than limit bytes.
func parseMsgGet(data []byte, limit int) (*storedMsg, error) {
	if len(data) > limit {
		return nil, fmt.Errorf("a message get answered %d bytes, more than the %d a stored message takes", len(data), limit)
	}
	var resp struct {
		Error   *jetstream.APIError `json:"error"`
		Message *storedMsg          `json:"message"`
	}
	if err := json.Unmarshal(data, &resp); err != nil {
		return nil, err
	}
	switch {
	case resp.Error != nil && resp.Error.ErrorCode == jetstream.JSErrCodeMessageNotFound:
		return nil, errNoMessage
	case resp.Error != nil:
		return nil, resp.Error
	case resp.Message == nil:
		return nil, jetstream.ErrInvalidJetStreamResponse
	}
	return resp.Message, nil
}

// kvValue reads m, a bucket's message, as a key's value: ok is false for
// a delete or a purge (the KV-Operation header), or the marker the server
// leaves when a key's time runs out (Nats-Marker-Reason), as Watch tells
// them.
func (m *storedMsg) kvValue() (value []byte, ok bool, err error) {
	if len(m.Header) == 0 {
		return m.Data, true, nil
	}
	h, err := nats.DecodeHeadersMsg(m.Header)
	if err != nil {
		return nil, false, err
	}
	if deletion(h) {
		return nil, false, nil
	}
	return m.Data, true, nil
}

// deletion reports whether a bucket's message with header h removes its
// key: a delete or a purge, or the server's marker of a key whose time
// ran out.
func deletion(h nats.Header) bool {
	op := h.Get("KV-Operation")
	return op == "DEL" || op == "PURGE" || h.Get(jetstream.MarkerReasonHeader) != ""
}
