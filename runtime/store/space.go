package store

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
)

// A disk that fills under the embedded store stops JetStream for every
// site at once (nats-server shuts it down on a failed write; the store
// sets no server-wide budget that would refuse writes first: unreserved).
// SpaceWatch is the operator's warning before that happens: serve checks
// the free space under -data while it runs, says so in its log once when
// it runs low and once when it recovers, and shows the last check in
// /admin/status.

// SpaceFloor is the least free space under the store's directory that is
// not "low" whatever the event streams' caps: 1 GiB, or 5 % of a disk
// smaller than 20 GiB (a small test machine or VM would otherwise warn
// from the start). Registrations, voicemail and the JetStream index files
// grow outside the event caps, so the caps alone do not bound the store.
func SpaceFloor(total uint64) uint64 {
	return min(1<<30, total/20)
}

// Space is one check of the free space under the store's directory.
type Space struct {
	// Low is set when Free is under Floor or under EventsRoom; Reason
	// then says which.
	Low    bool   `json:"low"`
	Reason string `json:"reason,omitempty"`
	// Free is what an unprivileged writer may still use, of Total.
	Free  uint64 `json:"free_bytes"`
	Total uint64 `json:"total_bytes"`
	Floor uint64 `json:"floor_bytes"`
	// EventsRoom is how much the event streams kept in the store may
	// still grow before their -events-max-bytes caps: at its cap a stream
	// drops its oldest events, so it adds nothing more.
	EventsRoom uint64    `json:"events_room_bytes"`
	Checked    time.Time `json:"checked"`
	// Err is why the space could not be read (then nothing else is set).
	Err string `json:"error,omitempty"`
}

// spaceLow is the policy: low when free is under the floor for a disk of
// total bytes, or under what the event streams may still add.
func spaceLow(free, total, room uint64) (floor uint64, reason string) {
	floor = SpaceFloor(total)
	switch {
	case free < floor:
		return floor, fmt.Sprintf("under the floor of %s", ByteSize(floor))
	case free < room:
		return floor, fmt.Sprintf("under the %s the event streams may still add before their caps (-events-max-bytes)", ByteSize(room))
	}
	return floor, ""
}

// EventsRoom is how much the event streams in the store may still grow:
// for each, its byte cap less the bytes it holds. Every event stream
// counts, a removed site's kept one too (it grows again if the site comes
// back) and, on a node of a cluster, the other nodes' replicas kept here.
// A stream without a byte cap counts for nothing here (its growth has no
// figure; the floor still applies).
func (s *Store) EventsRoom(ctx context.Context) (uint64, error) {
	ctx, cancel := ctxTimeout(ctx)
	defer cancel()
	var room uint64
	l := s.js.ListStreams(ctx)
	for info := range l.Info() {
		if !strings.HasPrefix(info.Config.Name, "events_") || info.Config.MaxBytes <= 0 {
			continue
		}
		if max := uint64(info.Config.MaxBytes); max > info.State.Bytes {
			room += max - info.State.Bytes
		}
	}
	if err := l.Err(); err != nil {
		return 0, fmt.Errorf("store: listing the event streams: %w", err)
	}
	return room, nil
}

// SpaceWatch checks the free space under Dir (Check, Run).
type SpaceWatch struct {
	Dir string
	// Statfs reads the free and total bytes under dir; nil: statfs(2).
	Statfs func(dir string) (free, total uint64, err error)
	// Room is what the event streams may still add (Store.EventsRoom);
	// nil: nothing, only the floor applies.
	Room func(ctx context.Context) (uint64, error)
	Log  *slog.Logger

	mu   sync.Mutex
	last Space
}

// Space is the last check (zero before the first).
func (w *SpaceWatch) Space() Space {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.last
}

// Check reads the space now, logs a crossing — a warning when it turns
// low, a line when it is enough again, nothing while it stays either —
// and returns it. A figure that cannot be read is logged once too, and
// does not count as a crossing.
func (w *SpaceWatch) Check(ctx context.Context) Space {
	statfs := w.Statfs
	if statfs == nil {
		statfs = Statfs
	}
	now := Space{Checked: time.Now()}
	free, total, err := statfs(w.Dir)
	var room uint64
	if err == nil && w.Room != nil {
		room, err = w.Room(ctx)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	prev := w.last
	if err != nil {
		now.Err = err.Error()
		now.Low = prev.Low // unknown: the last state stands
		if prev.Err == "" {
			w.Log.Warn("the free space under the store's directory cannot be read", "dir", w.Dir, "error", err)
		}
		w.last = now
		return now
	}
	now.Free, now.Total, now.EventsRoom = free, total, room
	now.Floor, now.Reason = spaceLow(free, total, room)
	now.Low = now.Reason != ""
	switch {
	case now.Low && !prev.Low:
		w.Log.Warn("disk space low under the store's directory: a full disk stops the store (JetStream) for every site; make room or lower -events-max-bytes",
			"dir", w.Dir, "free", ByteSize(free), "why", now.Reason)
	case !now.Low && prev.Low:
		w.Log.Info("disk space under the store's directory is enough again", "dir", w.Dir, "free", ByteSize(free))
	}
	w.last = now
	return now
}

// Run checks every period until ctx ends (Check before it for one at
// once).
func (w *SpaceWatch) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			w.Check(ctx)
		}
	}
}

// ByteSize is n in the largest binary unit that keeps it at least 1.
func ByteSize(n uint64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if u == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}
