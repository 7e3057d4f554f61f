// Package audio is the sample-level toolkit of the runtime's own media:
// G.711 (RFC 3551's PCMU and PCMA) to and from 16-bit linear PCM, WAV files
// as voicemail stores them, and the measurements (energy, the strength of
// one frequency) that tests and the simulator use to prove that audio, not
// just packets, arrived.
//
// Everything here is 8 kHz mono: the rate of G.711 and of every door
// station and desk phone's narrowband audio.
package audio

import "slices"

// Rate is the sample rate of G.711, in samples per second.
const Rate = 8000

// FrameSamples is the number of samples in a 20 ms packet, the ptime every
// device here uses.
const FrameSamples = Rate / 50

// Codec is a G.711 variant.
type Codec uint8

const (
	PCMU Codec = iota // µ-law, RTP payload type 0
	PCMA              // A-law, RTP payload type 8
)

// PayloadType is the codec's static RTP payload type (RFC 3551).
func (c Codec) PayloadType() uint8 {
	if c == PCMA {
		return 8
	}
	return 0
}

// String is the codec's SDP encoding name.
func (c Codec) String() string {
	if c == PCMA {
		return "PCMA"
	}
	return "PCMU"
}

// CodecForPayloadType returns the G.711 codec of a static payload type.
func CodecForPayloadType(pt uint8) (Codec, bool) {
	switch pt {
	case 0:
		return PCMU, true
	case 8:
		return PCMA, true
	}
	return 0, false
}

// Decode appends the linear samples of src to dst. dst grows once, to
// its final length: a message read back whole (ReadWAV) grown a sample
// at a time was reallocated a dozen times on the way.
func (c Codec) Decode(dst []int16, src []byte) []int16 {
	table := &ulawTable
	if c == PCMA {
		table = &alawTable
	}
	n := len(dst)
	dst = slices.Grow(dst, len(src))[:n+len(src)]
	out := dst[n:]
	for i, b := range src {
		out[i] = table[b]
	}
	return dst
}

// Encode appends the G.711 bytes of src to dst, which grows once (see
// Decode).
func (c Codec) Encode(dst []byte, src []int16) []byte {
	n := len(dst)
	dst = slices.Grow(dst, len(src))[:n+len(src)]
	out := dst[n:]
	if c == PCMA {
		for i, s := range src {
			out[i] = EncodeALaw(s)
		}
		return dst
	}
	for i, s := range src {
		out[i] = EncodeULaw(s)
	}
	return dst
}

// Silence is the codec's byte for a zero sample.
func (c Codec) Silence() byte {
	if c == PCMA {
		return 0xD5
	}
	return 0xFF
}

// Decoding is a table lookup; the tables are built once from the ITU-T
// G.711 expansion rules.
var ulawTable, alawTable [256]int16

func init() {
	for i := range 256 {
		ulawTable[i] = DecodeULaw(byte(i))
		alawTable[i] = DecodeALaw(byte(i))
	}
}

const (
	ulawBias = 0x84
	ulawClip = 32635
)

// EncodeULaw compresses one sample to µ-law (ITU-T G.711).
func EncodeULaw(s int16) byte {
	v := int(s)
	sign := 0
	if v < 0 {
		v = -v
		sign = 0x80
	}
	if v > ulawClip {
		v = ulawClip
	}
	v += ulawBias
	exp := 7
	for mask := 0x4000; v&mask == 0 && exp > 0; mask >>= 1 {
		exp--
	}
	mant := (v >> (exp + 3)) & 0x0F
	return ^byte(sign | exp<<4 | mant)
}

// DecodeULaw expands one µ-law byte.
func DecodeULaw(b byte) int16 {
	b = ^b
	exp := int(b>>4) & 0x07
	mant := int(b & 0x0F)
	v := ((mant << 3) + ulawBias) << exp
	v -= ulawBias
	if b&0x80 != 0 {
		return int16(-v)
	}
	return int16(v)
}

// EncodeALaw compresses one sample to A-law (ITU-T G.711).
func EncodeALaw(s int16) byte {
	v := int(s)
	sign := 0x80
	if v < 0 {
		v = -v - 1
		sign = 0
	}
	if v > 32767 {
		v = 32767
	}
	var out int
	if v < 256 {
		out = v >> 4
	} else {
		exp := 1
		for t := v >> 8; t > 1; t >>= 1 {
			exp++
		}
		out = exp<<4 | (v>>(exp+3))&0x0F
	}
	return byte(out|sign) ^ 0x55
}

// DecodeALaw expands one A-law byte.
func DecodeALaw(b byte) int16 {
	b ^= 0x55
	exp := int(b>>4) & 0x07
	mant := int(b & 0x0F)
	var v int
	if exp == 0 {
		v = mant<<4 + 8
	} else {
		v = (mant<<4 + 0x108) << (exp - 1)
	}
	if b&0x80 == 0 {
		return int16(-v)
	}
	return int16(v)
}
