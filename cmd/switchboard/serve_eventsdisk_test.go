package main

import (
	"strings"
	"testing"

	"switchboard/runtime/store"
)

// The caps of the sites' event streams together against the disk's free
// space: the embedded store sets nothing aside, so serve says so at the
// start when they could fill it.
func TestEventsBeyondDisk(t *testing.T) {
	const gib = 1 << 30
	for _, c := range []struct {
		sites    int
		maxBytes int64
		free     uint64
		want     bool
	}{
		{1, 2 * gib, 10 * gib, false},
		{1, 2 * gib, 2 * gib, false},
		{1, 2 * gib, 2*gib - 1, true},
		{5, 2 * gib, 10 * gib, false},
		{6, 2 * gib, 10 * gib, true},
		{200, 2 * gib, 49 * gib, true},
		{200, 64 << 20, 49 * gib, false},
		{3, 0, 1 << 40, true}, // no byte cap
		{0, 2 * gib, 0, false},
	} {
		if got := eventsBeyondDisk(c.sites, c.maxBytes, c.free); got != c.want {
			t.Errorf("eventsBeyondDisk(%d, %d, %d) = %v, want %v", c.sites, c.maxBytes, c.free, got, c.want)
		}
	}
}

// The warning names the figures and what to do; a directory whose free
// space cannot be read says nothing.
func TestWarnEventsBeyondDisk(t *testing.T) {
	var b strings.Builder
	warnEventsBeyondDisk(&b, t.TempDir(), 1, 1<<62)
	for _, want := range []string{"warning: 1 site(s)", "4096.0 PiB", "free", "-events-max-bytes"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("warning %q lacks %q", b.String(), want)
		}
	}
	b.Reset()
	warnEventsBeyondDisk(&b, t.TempDir(), 1, 1)
	warnEventsBeyondDisk(&b, "/nonexistent/switchboard", 1, 1<<62)
	if b.Len() != 0 {
		t.Errorf("warned %q", b.String())
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[uint64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 2 << 30: "2.0 GiB", 49 << 30: "49.0 GiB"} {
		if got := store.ByteSize(n); got != want {
			t.Errorf("ByteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
