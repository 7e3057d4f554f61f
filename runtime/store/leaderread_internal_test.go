package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"testing"

	"github.com/nats-io/nats.go/jetstream"
)

// A read through the stream leader that finds the chunks of the object
// it was reading gone reads what replaced it: a put removes the chunks of
// the object it replaces (leaderRead's assumption, checked here on a
// single node, whose server answers as a cluster's leader does).
func TestLeaderReadReplacedWhileRead(t *testing.T) {
	s, err := Open(Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	ctx := context.Background()
	o, err := s.Objects(ctx, "voicemail", "replaced")
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Put(ctx, "mary/greeting.wav", []byte("first")); err != nil {
		t.Fatal(err)
	}
	m, err := leaderGet(ctx, o.nc, "OBJ_"+o.bucket, msgGetRequest{LastFor: "$O." + o.bucket + ".M." + base64.URLEncoding.EncodeToString([]byte("mary/greeting.wav"))})
	if err != nil {
		t.Fatal(err)
	}
	var first jetstream.ObjectInfo
	if err := json.Unmarshal(m.Data, &first); err != nil {
		t.Fatal(err)
	}
	if data, err := o.leaderChunks(ctx, &first); err != nil || string(data) != "first" {
		t.Fatalf("the first object's chunks: %q, %v", data, err)
	}
	if err := o.Put(ctx, "mary/greeting.wav", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if data, err := o.leaderChunks(ctx, &first); !errors.Is(err, errNoMessage) {
		t.Fatalf("the replaced object's chunks: %q, %v; want errNoMessage", data, err)
	}
	if data, ok, err := o.leaderRead(ctx, "mary/greeting.wav", 100); err != nil || !ok || string(data) != "second" {
		t.Fatalf("leaderRead: %q, %v, %v; want second", data, ok, err)
	}
	if err := o.Delete(ctx, "mary/greeting.wav"); err != nil {
		t.Fatal(err)
	}
	if data, ok, err := o.leaderRead(ctx, "mary/greeting.wav", 100); err != nil || ok {
		t.Fatalf("leaderRead of the deleted object: %q, %v, %v; want none", data, ok, err)
	}
	if _, ok, err := o.leaderRead(ctx, "mary/never.wav", 100); err != nil || ok {
		t.Fatalf("leaderRead of an object never put: %v, %v; want none", ok, err)
	}
	if err := o.Put(ctx, "mary/large.wav", make([]byte, 200)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := o.leaderRead(ctx, "mary/large.wav", 100); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("leaderRead of 200 bytes with a limit of 100: %v; want ErrTooLarge", err)
	}
}
