package store

import (
	"errors"
	"fmt"
	"testing"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// TestTransientDirectGet: the errors a cluster answers for a moment after
// a node's loss are tried again, among them a direct get's 503, which
// nats.go gives as a bare string (TestClusterVoicemailDrill once failed on
// it: reading a message right after a kill -9).
func TestTransientDirectGet(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{errors.New("nats: JetStream system temporarily unavailable"), true},
		{fmt.Errorf("store: get object: %w", errors.New("nats: JetStream system temporarily unavailable")), true},
		{nats.ErrNoResponders, true},
		{jetstream.ErrNoStreamResponse, true},
		{errors.New("nats: unable to get message"), false},
		{jetstream.ErrObjectNotFound, false},
	} {
		if got := transient(tc.err); got != tc.want {
			t.Errorf("transient(%q) = %v, want %v", tc.err, got, tc.want)
		}
	}
}
