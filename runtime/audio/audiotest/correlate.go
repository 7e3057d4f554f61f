package audiotest

import "math"

// BestCorrelation is the highest normalised correlation of want against
// heard at any offset: near 1 when heard holds want (through a G.711
// codec), whatever came before it; low when heard is other audio. It is
// how a test tells which recording a call played.
func BestCorrelation(heard, want []int16) float64 {
	var ww float64
	for _, v := range want {
		ww += float64(v) * float64(v)
	}
	best := 0.0
	for off := 0; off+len(want) <= len(heard); off++ {
		var hw, hh float64
		for i, v := range want {
			h := float64(heard[off+i])
			hw += h * float64(v)
			hh += h * h
		}
		if hh > 0 && ww > 0 {
			best = max(best, hw/math.Sqrt(hh*ww))
		}
	}
	return best
}
