package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/store"
)

// TestEventsMaxBytesInMemory: with -keep-in-memory each site's event
// stream is capped at memoryMaxBytes unless -events-max-bytes says
// otherwise; on disk the default stays store.DefaultLimits'. Before, a
// stream in memory could grow to the disk default, 2 GiB of RAM a site.
func TestEventsMaxBytesInMemory(t *testing.T) {
	for _, tc := range []struct {
		args string
		want int64
	}{
		{"", store.DefaultLimits.MaxBytes},
		{"-keep-in-memory", memoryMaxBytes},
		{"-keep-in-memory -events-max-bytes 3000000000", 3_000_000_000},
		{"-keep-in-memory -events-max-bytes 2147483648", 2 << 30}, // the disk default, asked for: kept
		{"-events-max-bytes 1000000", 1_000_000},
		{"-events-max-bytes 1048576 -keep-in-memory", 1 << 20},
	} {
		var o serveOptions
		fs := serveFlags(&o).fs
		if err := fs.Parse(strings.Fields(tc.args)); err != nil {
			t.Fatalf("%q: %v", tc.args, err)
		}
		if diff := cmp.Diff(tc.want, o.store.limits().MaxBytes); diff != "" {
			t.Errorf("%q: MaxBytes (-want +got):\n%s", tc.args, diff)
		}
	}
	var o serveOptions
	fs := serveFlags(&o).fs
	fs.SetOutput(new(strings.Builder))
	if err := fs.Parse([]string{"-events-max-bytes", "lots"}); err == nil || !strings.Contains(err.Error(), `invalid value "lots" for flag -events-max-bytes: parse error`) {
		t.Errorf("-events-max-bytes lots: %v, want the flag package's parse error", err)
	}
}
