package store_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/store"
)

// An object store keeps objects whole across a restart: replaced by a
// put, gone after a delete, never read past the reader's bound; two sites
// do not share one.
func TestObjects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s, err := store.Open(store.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	o, err := s.Objects(ctx, "voicemail", "harbour")
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("0123456789abcdef"), 40_000) // 640 kB: several chunks
	for name, data := range map[string][]byte{"mary/msg-000001.wav": []byte("first"), "mary/greeting.wav": big, ".archive/gone/msg-000001.wav": {}} {
		if err := o.Put(ctx, name, data); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Put(ctx, "mary/msg-000001.wav", []byte("second")); err != nil {
		t.Fatal(err)
	}
	if err := o.Delete(ctx, ".archive/gone/msg-000001.wav"); err != nil {
		t.Fatal(err)
	}
	if err := o.Delete(ctx, "never"); err != nil {
		t.Errorf("deleting an object there is not: %v", err)
	}
	other, err := s.Objects(ctx, "voicemail", "other site")
	if err != nil {
		t.Fatal(err)
	}
	if names, err := other.Names(ctx); err != nil || len(names) != 0 {
		t.Errorf("another site's objects: %v, %v", names, err)
	}
	s.Close()

	s, err = store.Open(store.Options{Dir: dir, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if o, err = s.Objects(ctx, "voicemail", "harbour"); err != nil {
		t.Fatal(err)
	}
	names, err := o.Names(ctx)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if d := cmp.Diff([]string{"mary/greeting.wav", "mary/msg-000001.wav"}, names); d != "" {
		t.Errorf("names after a restart (-want +got):\n%s", d)
	}
	for _, c := range []struct {
		name string
		want []byte
		ok   bool
	}{
		{"mary/msg-000001.wav", []byte("second"), true},
		{"mary/greeting.wav", big, true},
		{".archive/gone/msg-000001.wav", nil, false},
	} {
		got, ok, err := o.Get(ctx, c.name, int64(len(big)))
		if err != nil || ok != c.ok || !bytes.Equal(got, c.want) {
			t.Errorf("Get(%q): %d bytes, %v, %v; want %d bytes, %v", c.name, len(got), ok, err, len(c.want), c.ok)
		}
	}
	if _, _, err := o.Get(ctx, "mary/greeting.wav", int64(len(big)-1)); !errors.Is(err, store.ErrTooLarge) {
		t.Errorf("Get past the bound: %v, want ErrTooLarge", err)
	}
}
