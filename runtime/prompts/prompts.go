// Package prompts holds the runtime's default spoken prompts — voicemail's
// greeting and menus, the conference bridge's announcements, the number
// words they compose and the ring test's call of commissioning — as 8 kHz
// mono linear samples ready for line.Line.Play.
//
// The recordings are generated from text by scripts/prompts.sh (espeak-ng
// and sox), which holds the text of every prompt. They are committed under
// wav/ as IMA ADPCM WAV files (4 bits a sample, so the whole set stays
// under TestSizeBudget's 300 KB) and embedded; a µ-law, A-law or 16-bit
// PCM WAV dropped in their place is read too. Each is decoded once, on the
// first Get.
//
// Names are "vm-…" (voicemail), "conf-…" (conference bridge), "num-<n>"
// (number words, see NumberNames), "ring-test" (what a person answering
// the ring test hears before the beep) and Beep, a generated tone. Names
// lists them all.
package prompts

import (
	"embed"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"

	"switchboard/runtime/audio"
)

//go:embed wav/*.wav
var files embed.FS

// Beep is the name of the tone that says "speak now": 1 kHz for 250 ms.
const Beep = "beep"

// aliases are prompts that share another's recording.
var aliases = map[string]string{
	"conf-wrong-pin": "vm-wrong-pin", // "That PIN is not correct."
}

var all = sync.OnceValue(func() map[string][]int16 {
	m := map[string][]int16{}
	entries, err := fs.ReadDir(files, "wav")
	if err != nil {
		panic("prompts: " + err.Error())
	}
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), ".wav")
		if !ok {
			continue
		}
		b, err := files.ReadFile(path.Join("wav", e.Name()))
		if err != nil {
			panic("prompts: " + err.Error())
		}
		s, err := decodeWAV(b)
		if err != nil {
			// The files are embedded at build time and TestAllDecode
			// reads every one, so this is a broken build.
			panic(fmt.Sprintf("prompts: %s: %v", e.Name(), err))
		}
		m[name] = s
	}
	for alias, name := range aliases {
		if s, ok := m[name]; ok {
			m[alias] = s
		}
	}
	m[Beep] = audio.Tone(make([]int16, audio.Rate/4), 1000, 8000, 0)
	return m
})

// Get returns the samples of the named prompt. The slice is shared by
// every caller: do not modify it.
func Get(name string) ([]int16, bool) {
	s, ok := all()[name]
	return s, ok
}

// Names lists every prompt, sorted.
func Names() []string {
	m := all()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Join concatenates the named prompts into a new slice. It reports false,
// and returns nil, when one of them does not exist.
func Join(names ...string) ([]int16, bool) {
	n := 0
	for _, name := range names {
		s, ok := Get(name)
		if !ok {
			return nil, false
		}
		n += len(s)
	}
	out := make([]int16, 0, n)
	for _, name := range names {
		s, _ := Get(name)
		out = append(out, s...)
	}
	return out, true
}

// MaxNumber is the largest number NumberNames can say.
const MaxNumber = 99

// NumberNames returns the prompts that say n in English ("num-20",
// "num-3" for 23), or nil when n is outside 0…MaxNumber.
func NumberNames(n int) []string {
	switch {
	case n < 0 || n > MaxNumber:
		return nil
	case n <= 20 || n%10 == 0:
		return []string{"num-" + strconv.Itoa(n)}
	}
	return []string{"num-" + strconv.Itoa(n/10*10), "num-" + strconv.Itoa(n%10)}
}

// WAVE format tag of IMA ADPCM (RFC 2361).
const formatIMAADPCM = 0x11

// decodeWAV reads an 8 kHz mono WAV: IMA ADPCM here, anything else through
// audio.ReadWAV.
func decodeWAV(b []byte) ([]int16, error) {
	if len(b) < 12 || string(b[0:4]) != "RIFF" || string(b[8:12]) != "WAVE" {
		return nil, errors.New("not a RIFF WAVE file")
	}
	var (
		haveFmt         bool
		format          uint16
		blockAlign      int
		samplesPerBlock int
		total           = -1
	)
	for p := 12; p+8 <= len(b); {
		id, size := string(b[p:p+4]), int64(binary.LittleEndian.Uint32(b[p+4:]))
		body := b[p+8:]
		if size > int64(len(body)) {
			size = int64(len(body))
		}
		body = body[:size]
		switch id {
		case "fmt ":
			if size < 16 {
				return nil, errors.New("short fmt chunk")
			}
			format = binary.LittleEndian.Uint16(body[0:])
			if format != formatIMAADPCM {
				w, err := audio.ReadWAV(b)
				if err != nil {
					return nil, err
				}
				return w.Samples, nil
			}
			channels := binary.LittleEndian.Uint16(body[2:])
			rate := binary.LittleEndian.Uint32(body[4:])
			blockAlign = int(binary.LittleEndian.Uint16(body[12:]))
			bits := binary.LittleEndian.Uint16(body[14:])
			if channels != 1 || rate != audio.Rate || bits != 4 {
				return nil, fmt.Errorf("IMA ADPCM with %d channel(s) at %d Hz, %d bits; want mono at %d Hz, 4 bits", channels, rate, bits, audio.Rate)
			}
			if blockAlign <= 4 {
				return nil, fmt.Errorf("IMA ADPCM block of %d bytes", blockAlign)
			}
			samplesPerBlock = (blockAlign-4)*2 + 1
			if size >= 20 {
				if spb := int(binary.LittleEndian.Uint16(body[18:])); spb != samplesPerBlock {
					return nil, fmt.Errorf("IMA ADPCM: %d samples per block of %d bytes", spb, blockAlign)
				}
			}
			haveFmt = true
		case "fact":
			if size >= 4 {
				total = int(binary.LittleEndian.Uint32(body))
			}
		case "data":
			if !haveFmt {
				return nil, errors.New("data chunk before fmt chunk")
			}
			out := decodeIMA(body, blockAlign, samplesPerBlock)
			if total >= 0 && total < len(out) {
				out = out[:total]
			}
			return out, nil
		}
		p += 8 + int(size) + int(size&1)
	}
	return nil, errors.New("no data chunk")
}

var imaIndex = [16]int{-1, -1, -1, -1, 2, 4, 6, 8, -1, -1, -1, -1, 2, 4, 6, 8}

var imaStep = [89]int{
	7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45,
	50, 55, 60, 66, 73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230,
	253, 279, 307, 337, 371, 408, 449, 494, 544, 598, 658, 724, 796, 876, 963,
	1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272, 2499, 2749, 3024, 3327,
	3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493, 10442,
	11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794,
	32767,
}

// decodeIMA decodes mono IMA ADPCM blocks (Microsoft's WAV layout: a 4-byte
// header holding the first sample and the step index, then two samples a
// byte, low nibble first). A short last block decodes as far as it goes.
func decodeIMA(data []byte, blockAlign, samplesPerBlock int) []int16 {
	out := make([]int16, 0, (len(data)/blockAlign+1)*samplesPerBlock)
	for len(data) >= 4 {
		block := data[:min(blockAlign, len(data))]
		data = data[len(block):]
		pred := int(int16(binary.LittleEndian.Uint16(block)))
		idx := min(max(int(block[2]), 0), 88)
		out = append(out, int16(pred))
		for _, b := range block[4:] {
			for _, n := range [2]byte{b & 0x0F, b >> 4} {
				step := imaStep[idx]
				diff := step >> 3
				if n&4 != 0 {
					diff += step
				}
				if n&2 != 0 {
					diff += step >> 1
				}
				if n&1 != 0 {
					diff += step >> 2
				}
				if n&8 != 0 {
					pred -= diff
				} else {
					pred += diff
				}
				pred = min(max(pred, -32768), 32767)
				idx = min(max(idx+imaIndex[n], 0), 88)
				out = append(out, int16(pred))
			}
		}
	}
	return out
}
