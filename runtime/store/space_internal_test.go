package store

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/events"
)

// The policy: low under the floor (1 GiB, or 5 % of a small disk) or
// under what the event streams may still add.
func TestSpaceLow(t *testing.T) {
	const gib = 1 << 30
	for _, tc := range []struct {
		name              string
		free, total, room uint64
		wantFloor         uint64
		wantLow           bool
	}{
		{"plenty", 100 * gib, 500 * gib, 10 * gib, gib, false},
		{"under the floor", gib - 1, 500 * gib, 0, gib, true},
		{"at the floor", gib, 500 * gib, 0, gib, false},
		{"small disk: 5 %", 600 << 20, 10 * gib, 0, gib / 2, false},
		{"small disk under 5 %", 400 << 20, 10 * gib, 0, gib / 2, true},
		{"under the caps' room", 50 * gib, 500 * gib, 60 * gib, gib, true},
		{"the caps' room fits", 60 * gib, 500 * gib, 60 * gib, gib, false},
		{"unknown size", 0, 0, 0, 0, false},
	} {
		floor, reason := spaceLow(tc.free, tc.total, tc.room)
		if diff := cmp.Diff([]any{tc.wantFloor, tc.wantLow}, []any{floor, reason != ""}); diff != "" {
			t.Errorf("%s: floor, low (-want +got):\n%s (reason %q)", tc.name, diff, reason)
		}
	}
}

// SpaceWatch logs a crossing once — low, then enough again — not at
// every check, and a figure it cannot read once, keeping the last state.
func TestSpaceWatchLogsCrossings(t *testing.T) {
	const gib = 1 << 30
	var log strings.Builder
	free := []uint64{100 * gib, 0, 0, 0, 10 * gib, 20 * gib, 0, 0, 5 * gib}
	fail := []bool{false, false, false, true, false, false, false, true, false}
	i := -1
	w := &SpaceWatch{
		Dir: "/data",
		Statfs: func(string) (uint64, uint64, error) {
			if fail[i] {
				return 0, 0, errors.New("statfs: gone")
			}
			return free[i], 500 * gib, nil
		},
		Room: func(context.Context) (uint64, error) { return 8 * gib, nil },
		Log:  slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{ReplaceAttr: dropTime})),
	}
	var lows []bool
	for i = range free {
		lows = append(lows, w.Check(context.Background()).Low)
	}
	if diff := cmp.Diff([]bool{false, true, true, true, false, false, true, true, true}, lows); diff != "" {
		t.Errorf("Low by check (-want +got):\n%s", diff)
	}
	var msgs []string
	for _, l := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		_, m, _ := strings.Cut(l, "msg=")
		msgs = append(msgs, m[:min(len(m), 24)])
	}
	want := []string{
		`"disk space low under th`,
		`"the free space under th`,
		`"disk space under the st`,
		`"disk space low under th`,
		`"the free space under th`,
	}
	if diff := cmp.Diff(want, msgs); diff != "" {
		t.Errorf("log (-want +got):\n%s\n%s", diff, log.String())
	}
	if got := w.Space(); got.Free != 5*gib || got.EventsRoom != 8*gib || !got.Low || got.Err != "" {
		t.Errorf("last Space: %+v", got)
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}

// EventsRoom is each event stream's cap less what it holds.
func TestEventsRoom(t *testing.T) {
	s, err := Open(Options{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	a, err := s.EventLog(ctx, "a", Limits{MaxBytes: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.EventLog(ctx, "b", Limits{MaxBytes: 2 << 20}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.KV(ctx, "registrations", "a"); err != nil {
		t.Fatal(err) // a bucket (a stream too) is not an event stream
	}
	room, err := s.EventsRoom(ctx)
	if err != nil || room != 3<<20 {
		t.Fatalf("EventsRoom, empty streams: %d, %v; want %d", room, err, 3<<20)
	}
	if _, err := a.Append(ctx, events.Event{Time: time.Now(), Kind: events.CallStarted, Call: "c1"}, 0); err != nil {
		t.Fatal(err)
	}
	info, err := a.stream.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	room, err = s.EventsRoom(ctx)
	if want := uint64(3<<20) - info.State.Bytes; err != nil || room != want || info.State.Bytes == 0 {
		t.Errorf("EventsRoom after an event of %d bytes: %d, %v; want %d", info.State.Bytes, room, err, want)
	}
}
