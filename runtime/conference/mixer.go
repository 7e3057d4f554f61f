package conference

import "switchboard/runtime/audio"

// frame is one 20 ms frame of linear samples.
type frame = [audio.FrameSamples]int16

// Mixer mixes one 20 ms frame of a room: every participant hears the sum of
// everyone else. The zero Mixer is ready to use; it is not safe for
// concurrent use, and it never allocates.
type Mixer struct {
	sum [audio.FrameSamples]int32
}

// Mix sets every out[i] to the sum of all in[j] with j != i, saturated to
// int16: participant i's own frame is in[i], and its output leaves it out.
// Entries of in beyond len(out) are sources that everyone hears and that
// have no output of their own (join and leave tones, announcements).
//
// A nil or short in[j] is silence (for its missing samples), a longer one is
// cut to audio.FrameSamples; each out[i] must hold at least
// audio.FrameSamples samples, and only those are written. len(in) must be
// at least len(out).
//
// The sum is taken once, in int32, so one frame costs O(len(in)) whatever
// the room's size: each output is the total less its own frame.
func (m *Mixer) Mix(out, in [][]int16) {
	if len(in) < len(out) {
		panic("conference: Mix with fewer inputs than outputs")
	}
	sum := &m.sum
	*sum = [audio.FrameSamples]int32{}
	for _, s := range in {
		if len(s) >= audio.FrameSamples {
			f := (*frame)(s)
			for k := range sum {
				sum[k] += int32(f[k])
			}
			continue
		}
		for k, v := range s {
			sum[k] += int32(v)
		}
	}
	for i, o := range out {
		dst := (*frame)(o)
		self := in[i]
		if len(self) >= audio.FrameSamples {
			f := (*frame)(self)
			for k := range dst {
				dst[k] = saturate(sum[k] - int32(f[k]))
			}
			continue
		}
		for k := range dst {
			v := sum[k]
			if k < len(self) {
				v -= int32(self[k])
			}
			dst[k] = saturate(v)
		}
	}
}

// saturate clamps v to the range of int16.
func saturate(v int32) int16 {
	return int16(min(max(v, -32768), 32767))
}

// addSaturated adds src to dst sample by sample, clamping to int16.
func addSaturated(dst *frame, src *frame) {
	for k := range dst {
		dst[k] = saturate(int32(dst[k]) + int32(src[k]))
	}
}
