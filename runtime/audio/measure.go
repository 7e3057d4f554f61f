package audio

import "math"

// RMS is the root-mean-square level of s, in sample units (0 for silence,
// about 23 170 for a full-scale sine).
func RMS(s []int16) float64 {
	if len(s) == 0 {
		return 0
	}
	var sum float64
	for _, v := range s {
		sum += float64(v) * float64(v)
	}
	return math.Sqrt(sum / float64(len(s)))
}

// ToneLevel is the amplitude of the freq Hz component of s (Goertzel's
// algorithm): a sine of amplitude A at freq gives about A, other
// frequencies and silence give little. It is how tests tell which
// participants a mixed stream carries.
func ToneLevel(s []int16, freq float64) float64 {
	if len(s) == 0 {
		return 0
	}
	w := 2 * math.Pi * freq / Rate
	coeff := 2 * math.Cos(w)
	var q1, q2 float64
	for _, v := range s {
		q0 := coeff*q1 - q2 + float64(v)
		q2, q1 = q1, q0
	}
	power := q1*q1 + q2*q2 - coeff*q1*q2
	if power < 0 {
		power = 0
	}
	return 2 * math.Sqrt(power) / float64(len(s))
}

// Tone generates a sine of freq Hz and amplitude amp, starting at sample
// offset start (so consecutive frames join without a click).
func Tone(dst []int16, freq, amp float64, start int) []int16 {
	for i := range dst {
		dst[i] = int16(amp * math.Sin(2*math.Pi*freq*float64(start+i)/Rate))
	}
	return dst
}
