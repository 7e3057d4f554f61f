package registrar

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// httpDate formats each second once, but every answer carries its own
// second, whichever way the clock went since the last.
func TestHTTPDate(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	var got []string
	for _, at := range []time.Time{t0, t0.Add(999 * time.Millisecond), t0.Add(time.Second), t0.Add(-time.Hour), t0.In(time.FixedZone("CET", 3600))} {
		got = append(got, httpDate(at))
	}
	want := []string{
		"Sun, 01 Mar 2026 12:00:00 GMT", "Sun, 01 Mar 2026 12:00:00 GMT", "Sun, 01 Mar 2026 12:00:01 GMT",
		"Sun, 01 Mar 2026 11:00:00 GMT", "Sun, 01 Mar 2026 12:00:00 GMT",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Date values (-want +got):\n%s", d)
	}
}
