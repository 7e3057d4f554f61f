package store

import (
	"testing"
	"time"
)

// A batch is resent only within the stream's duplicate window: a longer
// -cluster-wait would otherwise store an event twice.
func TestResendForWithinDuplicateWindow(t *testing.T) {
	for _, c := range []struct{ wait, dup, want time.Duration }{
		{time.Minute, 0, time.Minute},
		{5 * time.Minute, 0, 2 * time.Minute},
		{5 * time.Minute, 3 * time.Minute, 3 * time.Minute},
		{30 * time.Second, time.Hour, 30 * time.Second},
		{0, 0, 0},
	} {
		if got := resendFor(c.wait, c.dup); got != c.want {
			t.Errorf("resendFor(%v, %v) = %v, want %v", c.wait, c.dup, got, c.want)
		}
	}
}
