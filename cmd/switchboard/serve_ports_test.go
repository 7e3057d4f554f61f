package main

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestPortRange(t *testing.T) {
	tests := []struct {
		in     string
		lo, hi int
		ok     bool
	}{
		{"10000-20000", 10000, 20000, true},
		{" 30000 - 30001 ", 30000, 30001, true},
		{"30001-30003", 30001, 30003, true}, // 30002/30003
		{"30001-30002", 0, 0, false},        // no even port with its odd one above
		{"0-0", 0, 0, false},                // no "any port"
		{"10000", 0, 0, false},
		{"a-b", 0, 0, false},
		{"0-100", 0, 0, false},
		{"65534-65536", 0, 0, false},
		{"20000-10000", 0, 0, false},
	}
	type result struct {
		Lo, Hi int
		OK     bool
	}
	for _, tt := range tests {
		lo, hi, err := portRange(tt.in)
		if diff := cmp.Diff(result{tt.lo, tt.hi, tt.ok}, result{lo, hi, err == nil}); diff != "" {
			t.Errorf("portRange(%q) (-want +got):\n%s (error %v)", tt.in, diff, err)
		}
	}
}
