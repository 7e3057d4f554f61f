package store

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// The leader's read of a key (Revision in a cluster) says what the
// direct get does on a single node, whose server answers as a cluster's
// leader does: a key's value, revision and time; and none for a key
// deleted (KV-Operation DEL), purged (PURGE: Delete), whose time ran out
// (the server's marker, Nats-Marker-Reason), or never put.
func TestLeaderRevisionAsTheDirectGet(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	k, err := s.KV(ctx, "voicemail", "leaderrevision")
	if err != nil {
		t.Fatal(err)
	}
	putGone(t, k, "kept")
	m, err := leaderGet(ctx, k.js.Conn(), k.stream, msgGetRequest{LastFor: k.prefix + kvKey("expired")})
	if err != nil {
		t.Fatal(err)
	}
	if h, err := nats.DecodeHeadersMsg(m.Header); err != nil || h.Get(jetstream.MarkerReasonHeader) == "" {
		t.Fatalf("the expired key's last message has header %q, %v; want the server's marker", m.Header, err)
	}

	for _, key := range []string{"kept", "deleted", "purged", "expired", "never put"} {
		v, rev, stored, ok, err := k.Revision(ctx, key) // the direct get: a single node's
		if err != nil {
			t.Fatal(err)
		}
		lv, lrev, lstored, lok, err := k.leaderRevision(ctx, key)
		if err != nil {
			t.Fatalf("leaderRevision(%s): %v", key, err)
		}
		if lok != (key == "kept") || lok != ok || !bytes.Equal(lv, v) || lrev != rev || !lstored.Equal(stored) {
			t.Errorf("leaderRevision(%s) = %q, %d, %v, %v; the direct get says %q, %d, %v, %v", key, lv, lrev, lstored, lok, v, rev, stored, ok)
		}
	}
}

// An answer to a message get is read within its bound, and a bucket's
// message is a value or a removal, whatever the bytes.
func FuzzMsgGetAnswer(f *testing.F) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 123456789, time.UTC)
	for _, seed := range []any{
		map[string]any{"type": "io.nats.jetstream.api.v1.stream_msg_get_response", "message": storedMsg{Seq: 7, Data: []byte(`{"id":7}`), Time: at}},
		map[string]any{"message": storedMsg{Seq: 8, Header: []byte("NATS/1.0\r\nKV-Operation: PURGE\r\nNats-Rollup: sub\r\n\r\n"), Time: at}},
		map[string]any{"message": storedMsg{Seq: 9, Header: []byte("NATS/1.0\r\nNats-Marker-Reason: MaxAge\r\n\r\n"), Time: at}},
		map[string]any{"message": storedMsg{Seq: 10, Header: []byte("NATS/1.0\r\nSwitchboard-Origin: n1\r\n\r\n"), Data: []byte("v"), Time: at}},
		map[string]any{"error": map[string]any{"code": 404, "err_code": 10037, "description": "no message found"}},
		map[string]any{"error": map[string]any{"code": 503, "err_code": 10008, "description": "JetStream system temporarily unavailable"}},
		map[string]any{},
	} {
		b, err := json.Marshal(seed)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"message":{"seq":1,"hdrs":"TkFUUy8xLjA=","data":"eA==","time":"2026-12-06T10:00:00Z"}}`))
	f.Add([]byte("not json"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 0 {
			if _, err := parseMsgGet(data, len(data)-1); err == nil {
				t.Fatalf("an answer of %d bytes read with a bound of %d", len(data), len(data)-1)
			}
		}
		m, err := parseMsgGet(data, msgGetAnswerLimit(1<<20))
		if err != nil {
			if m != nil {
				t.Fatalf("an error (%v) with a message", err)
			}
			return
		}
		if m == nil {
			t.Fatal("no error and no message")
		}
		v, ok, err := m.kvValue()
		switch {
		case err != nil && (ok || v != nil):
			t.Fatalf("an unreadable header (%v) gives a value %q, %v", err, v, ok)
		case err == nil && ok && !bytes.Equal(v, m.Data):
			t.Fatalf("the value %q is not the message's data %q", v, m.Data)
		case err == nil && !ok && v != nil:
			t.Fatalf("a removal with a value %q", v)
		}
		// What was read reads the same written out again.
		b, err := json.Marshal(map[string]any{"message": m})
		if err != nil {
			return // a time JSON cannot hold (a year past 9999)
		}
		again, err := parseMsgGet(b, len(b))
		if err != nil || again.Seq != m.Seq || !bytes.Equal(again.Header, m.Header) || !bytes.Equal(again.Data, m.Data) || !again.Time.Equal(m.Time) {
			t.Fatalf("read again: %+v, %v; want %+v", again, err, m)
		}
	})
}

// The bound of a message get's answer holds the largest message the
// server takes (header and data), base64 in JSON with its subject.
func TestMsgGetAnswerLimit(t *testing.T) {
	const maxPayload = 1 << 20
	for _, split := range []int{0, 1, 2, maxPayload / 2, maxPayload - 1, maxPayload} {
		m := storedMsg{Seq: 1<<64 - 1, Header: bytes.Repeat([]byte{0xff}, split), Data: bytes.Repeat([]byte{0xff}, maxPayload-split),
			Time: time.Date(2026, 12, 6, 10, 0, 0, 123456789, time.FixedZone("", -11*3600))}
		b, err := json.Marshal(map[string]any{
			"type":    "io.nats.jetstream.api.v1.stream_msg_get_response",
			"message": map[string]any{"subject": "$KV." + string(bytes.Repeat([]byte("a"), 4096)), "seq": m.Seq, "hdrs": m.Header, "data": m.Data, "time": m.Time},
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseMsgGet(b, msgGetAnswerLimit(maxPayload)); err != nil {
			t.Errorf("a message of %d bytes (header %d): %v", maxPayload, split, err)
		}
	}
}

// The listing read up to the leader's last message (All in a cluster)
// lists what All does on a single node, whose server answers as a
// cluster's leader does: the keys with a value, not those deleted,
// purged or whose time ran out; and an empty bucket at once.
func TestLeaderAllAsAll(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	k, err := s.KV(ctx, "voicemail", "leaderall")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.leaderAll(ctx); err != nil || len(got) != 0 {
		t.Fatalf("an empty bucket: %q, %v", got, err)
	}
	putGone(t, k, "kept", "kept too")
	want, err := k.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := k.leaderAll(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" || len(got) != 2 {
		t.Errorf("leaderAll (-All +leaderAll):\n%s\n%q", d, got)
	}
}

// putGone puts kept into k, then three keys that are there no more, each
// its own way: "deleted" (a delete marker), "purged" (a purge marker) and
// "expired" (its TTL passed, the server's marker).
func putGone(t *testing.T, k *KV, kept ...string) {
	t.Helper()
	ctx := context.Background()
	for _, key := range append(kept, "deleted", "purged") {
		if err := k.Put(ctx, key, []byte("value of "+key), 0); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Put(ctx, "expired", []byte("value of expired"), time.Second); err != nil {
		t.Fatal(err)
	}
	if err := k.kv.Delete(ctx, kvKey("deleted")); err != nil {
		t.Fatal(err)
	}
	if err := k.Delete(ctx, "purged"); err != nil {
		t.Fatal(err)
	}
	if err := k.WaitGone(ctx, "expired"); err != nil {
		t.Fatal(err)
	}
}
