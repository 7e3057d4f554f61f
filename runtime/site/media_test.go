package site

import (
	"net/netip"
	"testing"

	"switchboard/runtime/b2bua"
)

// A media port range without an even/odd pair is refused when the site is
// assembled, not at the first call.
func TestNewChecksMediaPorts(t *testing.T) {
	cfg := swapConfig(t, "ports", "alice", "pw")
	tests := []struct {
		name     string
		min, max int
		ok       bool
	}{
		{"kernel picks", 0, 0, true},
		{"a range", 10000, 20000, true},
		{"one pair", 30001, 30003, true},
		{"no pair", 30001, 30002, false},
		{"beyond 65535", 65534, 65536, false},
		{"reversed", 20000, 10000, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := New(cfg, Options{MediaIP: netip.MustParseAddr("127.0.0.1"), MediaPortMin: tt.min, MediaPortMax: tt.max, Services: &b2bua.Services{}})
			if s != nil {
				s.Close()
			}
			if (err == nil) != tt.ok {
				t.Errorf("New with media ports %d-%d: %v, want ok %v", tt.min, tt.max, err, tt.ok)
			}
		})
	}
}
