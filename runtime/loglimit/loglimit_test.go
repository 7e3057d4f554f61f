package loglimit

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestFlood logs what a flood of malformed messages makes sipgo log: the
// log keeps Burst lines per interval, each cut, and the next interval's
// first line says how many were suppressed.
func TestFlood(t *testing.T) {
	var buf bytes.Buffer
	h := New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo}))
	now := time.Unix(1_800_000_000, 0)
	h.now = func() time.Time { return now }
	log := slog.New(h).With("caller", "Transport<UDP>")
	data := strings.Repeat("X", 60_000) + "\r\n"
	for range 200 {
		log.Error("failed to parse", "data", data, "error", errors.New("bad start line "+data))
	}
	log.Info("reloaded") // another kind is not held back
	if lines := strings.Count(buf.String(), "\n"); lines != Burst+1 {
		t.Errorf("%d lines, want %d", lines, Burst+1)
	}
	if buf.Len() > (Burst+1)*3*MaxValue {
		t.Errorf("%d bytes logged for 200 × 60 KB, want at most %d", buf.Len(), (Burst+1)*3*MaxValue)
	}
	now = now.Add(Interval)
	buf.Reset()
	log.Error("failed to parse", "data", "short")
	if !strings.Contains(buf.String(), "suppressed=190") {
		t.Errorf("next interval's line %q does not say 190 were suppressed", buf.String())
	}
}

func TestCut(t *testing.T) {
	long := strings.Repeat("é", 200) // 400 bytes
	tests := []struct{ in, want string }{
		{"short", "short"},
		{"bad \xff byte", "bad \uFFFD byte"},
		{long, strings.Repeat("é", MaxValue/2) + "… (400 bytes)"},
	}
	for _, tc := range tests {
		if diff := cmp.Diff(tc.want, cut(tc.in)); diff != "" {
			t.Errorf("cut(%.20q) (-want +got):\n%s", tc.in, diff)
		}
	}
}
