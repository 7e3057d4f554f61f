package device

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The telephone-event payload type is read from the peer's rtpmap, as
// the server (or a carrier) numbers it; other codecs are not events.
func TestEventPayloadType(t *testing.T) {
	type got struct {
		PT uint8
		OK bool
	}
	for _, tc := range []struct {
		rtpmap string
		want   got
	}{
		{"101 telephone-event/8000", got{101, true}},
		{"96 telephone-event/8000/1", got{96, true}},
		{"0 PCMU/8000", got{0, false}},
		{"telephone-event/8000", got{0, false}},
		{"x telephone-event/8000", got{0, false}},
		{"300 telephone-event/8000", got{0, false}}, // not a 7-bit payload type
	} {
		pt, ok := eventPayloadType(tc.rtpmap)
		if diff := cmp.Diff(tc.want, got{pt, ok}); diff != "" {
			t.Errorf("%q (-want +got):\n%s", tc.rtpmap, diff)
		}
	}
}
