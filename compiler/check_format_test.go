package compiler

import (
	"testing"
	"time"
)

func TestValidE164(t *testing.T) {
	tests := map[string]bool{
		"+353871234567":     true,
		"+14155550100":      true,
		"+1234567":          true,
		"+123456":           false, // too short
		"+1234567890123456": false, // 16 digits
		"353871234567":      false,
		"+0353871234567":    false,
		"+353 87 123 4567":  false,
		"":                  false,
	}
	for in, want := range tests {
		if got := validE164(in); got != want {
			t.Errorf("validE164(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestSuggestE164(t *testing.T) {
	tests := map[string]string{
		"+353 87 123 4567":   "+353871234567",
		"00353 (87) 1234567": "+353871234567",
		"+1-415-555-0100":    "+14155550100",
		"087 123 4567":       "",
		"+353871234567":      "",
		"call me":            "",
	}
	for in, want := range tests {
		if got := suggestE164(in); got != want {
			t.Errorf("suggestE164(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidEmail(t *testing.T) {
	tests := map[string]bool{
		"mary@example.com":          true,
		"Mary.Byrne+pbx@example.ie": true,
		"support@dds.example":       true,
		"mary@localhost":            false,
		"Mary <mary@example.com>":   false,
		" mary@example.com":         false,
		"mary@example.com.":         false,
		"mary.example.com":          false,
		"mary@@example.com":         false,
		"":                          false,
	}
	for in, want := range tests {
		if got := validEmail(in); got != want {
			t.Errorf("validEmail(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestValidHost(t *testing.T) {
	tests := map[string]bool{
		"harbour-view.example.net": true,
		"sip.carrier.example.":     true,
		"192.0.2.10":               true,
		"2001:db8::1":              true,
		"localhost":                false,
		"harbour view.example":     false,
		"-bad.example":             false,
		"bad-.example":             false,
		"under_score.example":      false,
		"1.2.3":                    false,
		"":                         false,
		"a..example":               false,
	}
	for in, want := range tests {
		if got := validHost(in); got != want {
			t.Errorf("validHost(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestFormatDuration(t *testing.T) {
	tests := map[time.Duration]string{time.Second: "1s", 5 * time.Minute: "5m", 90 * time.Second: "90s"}
	for in, want := range tests {
		if got := formatDuration(in); got != want {
			t.Errorf("formatDuration(%v) = %q, want %q", in, got, want)
		}
	}
}
