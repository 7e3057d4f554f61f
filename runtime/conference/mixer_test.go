package conference

import (
	"fmt"
	"testing"

	"switchboard/runtime/audio"
)

// mixTones runs the mixer over one second of participants sending sine
// tones (0 Hz: silent, nil frames) and returns what each heard.
func mixTones(freqs []float64, amp float64, common []int16) [][]int16 {
	var m Mixer
	n := len(freqs)
	heard := make([][]int16, n)
	out := make([][]int16, n)
	for i := range out {
		out[i] = make([]int16, audio.FrameSamples)
	}
	for f := range 50 {
		in := make([][]int16, n, n+1)
		for i, freq := range freqs {
			if freq != 0 {
				in[i] = audio.Tone(make([]int16, audio.FrameSamples), freq, amp, f*audio.FrameSamples)
			}
		}
		if common != nil {
			in = append(in, common[f*audio.FrameSamples:(f+1)*audio.FrameSamples])
		}
		m.Mix(out, in)
		for i := range out {
			heard[i] = append(heard[i], out[i]...)
		}
	}
	return heard
}

// Three participants send 440, 660 and 880 Hz: each must hear the other
// two at their full level and not its own.
func TestMixHearsOthersNotSelf(t *testing.T) {
	freqs := []float64{440, 660, 880}
	heard := mixTones(freqs, 8000, nil)
	for i, s := range heard {
		for j, f := range freqs {
			lvl := audio.ToneLevel(s, f)
			if i == j && lvl > 50 {
				t.Errorf("participant %d hears its own %v Hz at %.0f", i, f, lvl)
			}
			if i != j && (lvl < 7800 || lvl > 8200) {
				t.Errorf("participant %d hears %v Hz at %.0f, want about 8000", i, f, lvl)
			}
		}
	}
}

// Through G.711 both ways, as on the wire: µ-law in, mix, µ-law out.
func TestMixThroughG711(t *testing.T) {
	freqs := []float64{440, 660, 880}
	for _, codec := range []audio.Codec{audio.PCMU, audio.PCMA} {
		var m Mixer
		n := len(freqs)
		heard := make([][]int16, n)
		in, out := make([][]int16, n), make([][]int16, n)
		for i := range out {
			out[i] = make([]int16, audio.FrameSamples)
		}
		for f := range 50 {
			for i, freq := range freqs {
				tone := audio.Tone(make([]int16, audio.FrameSamples), freq, 8000, f*audio.FrameSamples)
				in[i] = codec.Decode(nil, codec.Encode(nil, tone))
			}
			m.Mix(out, in)
			for i := range out {
				heard[i] = append(heard[i], codec.Decode(nil, codec.Encode(nil, out[i]))...)
			}
		}
		for i, s := range heard {
			for j, f := range freqs {
				lvl := audio.ToneLevel(s, f)
				if i == j && lvl > 150 {
					t.Errorf("%v: participant %d hears its own %v Hz at %.0f", codec, i, f, lvl)
				}
				if i != j && (lvl < 7500 || lvl > 8500) {
					t.Errorf("%v: participant %d hears %v Hz at %.0f, want about 8000", codec, i, f, lvl)
				}
			}
		}
	}
}

// Silent (nil) participants add nothing and still hear everyone; a common
// source (a tone) reaches every participant.
func TestMixSilentAndCommon(t *testing.T) {
	common := audio.Tone(make([]int16, audio.Rate), 1000, 3000, 0)
	heard := mixTones([]float64{440, 0, 0}, 8000, common)
	for i, s := range heard {
		if lvl := audio.ToneLevel(s, 1000); lvl < 2900 || lvl > 3100 {
			t.Errorf("participant %d hears the common tone at %.0f, want 3000", i, lvl)
		}
		want := 8000.0
		if i == 0 {
			want = 0
		}
		if lvl := audio.ToneLevel(s, 440); lvl < want-200 || lvl > want+200 {
			t.Errorf("participant %d hears 440 Hz at %.0f, want %.0f", i, lvl, want)
		}
	}
}

// The sum saturates instead of wrapping, and one's own frame is taken from
// the exact sum before saturating: two loud participants cancelling a
// third must not leave the clipping residue a saturate-then-subtract mixer
// would.
func TestMixSaturates(t *testing.T) {
	constant := func(v int16) []int16 {
		s := make([]int16, audio.FrameSamples)
		for i := range s {
			s[i] = v
		}
		return s
	}
	tests := []struct {
		in   []int16 // each participant's constant level
		want []int16 // what each hears
	}{
		{[]int16{30000, 30000, 30000}, []int16{32767, 32767, 32767}},
		{[]int16{-30000, -30000, -30000}, []int16{-32768, -32768, -32768}},
		{[]int16{30000, 30000, -30000}, []int16{0, 0, 32767}},
		{[]int16{32767, 32767, -32768, -32768}, []int16{-32768, -32768, 32766, 32766}},
		{[]int16{1000, 2000}, []int16{2000, 1000}},
	}
	var m Mixer
	for _, tt := range tests {
		in, out := make([][]int16, len(tt.in)), make([][]int16, len(tt.in))
		for i, v := range tt.in {
			in[i], out[i] = constant(v), make([]int16, audio.FrameSamples)
		}
		m.Mix(out, in)
		for i, o := range out {
			for k, v := range o {
				if v != tt.want[i] {
					t.Errorf("%v: participant %d sample %d = %d, want %d", tt.in, i, k, v, tt.want[i])
					break
				}
			}
		}
	}
}

// Short frames are padded with silence, long ones cut.
func TestMixFrameLengths(t *testing.T) {
	var m Mixer
	short := []int16{100, 200}
	long := make([]int16, 2*audio.FrameSamples)
	for i := range long {
		long[i] = 7
	}
	out := [][]int16{make([]int16, audio.FrameSamples), make([]int16, audio.FrameSamples+5), make([]int16, audio.FrameSamples)}
	out[1][audio.FrameSamples] = -1 // beyond the frame: left alone
	m.Mix(out, [][]int16{short, long, nil})
	check := func(i, k int, want int16) {
		t.Helper()
		if out[i][k] != want {
			t.Errorf("out[%d][%d] = %d, want %d", i, k, out[i][k], want)
		}
	}
	check(0, 0, 7)
	check(0, 5, 7)
	check(1, 0, 100)
	check(1, 1, 200)
	check(1, 2, 0)
	check(1, audio.FrameSamples, -1)
	check(2, 0, 107)
	check(2, 2, 7)
}

func TestMixDoesNotAllocate(t *testing.T) {
	var m Mixer
	in, out := make([][]int16, 10), make([][]int16, 10)
	for i := range in {
		in[i] = audio.Tone(make([]int16, audio.FrameSamples), float64(300+100*i), 3000, 0)
		out[i] = make([]int16, audio.FrameSamples)
	}
	in[3] = nil
	if n := testing.AllocsPerRun(100, func() { m.Mix(out, in) }); n != 0 {
		t.Errorf("Mix allocates %v times per frame", n)
	}
}

func ExampleMixer() {
	var m Mixer
	a := []int16{1000}
	b := []int16{-300}
	out := [][]int16{make([]int16, audio.FrameSamples), make([]int16, audio.FrameSamples)}
	m.Mix(out, [][]int16{a, b})
	fmt.Println(out[0][0], out[1][0])
	// Output: -300 1000
}
