package audiotest

import (
	"testing"

	"switchboard/runtime/audio"
)

func TestBestCorrelation(t *testing.T) {
	want := audio.Tone(make([]int16, 400), 440, 8000, 0)
	// want, 300 samples in, after silence and within a 1 kHz tone.
	heard := audio.Tone(make([]int16, 1200), 1000, 8000, 0)
	clear(heard[:300])
	copy(heard[300:], want)
	tests := []struct {
		name    string
		heard   []int16
		atLeast float64
		below   float64
	}{
		{"holds it at an offset", heard, 0.99, 1.001},
		{"another tone", audio.Tone(make([]int16, 1200), 1000, 8000, 0), 0, 0.3},
		{"silence", make([]int16, 1200), 0, 0.001},
		{"shorter than want", heard[:200], 0, 0.001},
	}
	for _, tt := range tests {
		if c := BestCorrelation(tt.heard, want); c < tt.atLeast || c >= tt.below {
			t.Errorf("%s: %.3f, want in [%.3f, %.3f)", tt.name, c, tt.atLeast, tt.below)
		}
	}
}
