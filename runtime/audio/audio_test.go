package audio

import (
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"switchboard/runtime/audio/audiotest"
)

func TestG711KnownValues(t *testing.T) {
	// Reference points from ITU-T G.711's tables.
	tests := []struct {
		codec Codec
		b     byte
		want  int16
	}{
		{PCMU, 0xFF, 0},
		{PCMU, 0x7F, 0},
		{PCMU, 0x80, 32124},
		{PCMU, 0x00, -32124},
		{PCMU, 0xFE, 8},
		{PCMU, 0x7E, -8},
		{PCMA, 0xD5, 8},
		{PCMA, 0x55, -8},
		{PCMA, 0xAA, 32256},
		{PCMA, 0x2A, -32256},
	}
	for _, tt := range tests {
		if got := tt.codec.Decode(nil, []byte{tt.b})[0]; got != tt.want {
			t.Errorf("%v decode %#02x = %d, want %d", tt.codec, tt.b, got, tt.want)
		}
	}
}

// Decode and Encode append: what dst held stays, a buffer is converted
// byte for byte as one byte at a time would be, and spare capacity of dst
// is used without touching what a caller's other slice of it holds.
func TestG711Appends(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		src := make([]byte, 256)
		for i := range src {
			src[i] = byte(i)
		}
		var one []int16
		for _, b := range src {
			one = append(one, c.Decode(nil, []byte{b})...)
		}
		for _, base := range [][]int16{nil, {1, 2, 3}, make([]int16, 2, 600)} {
			prefix := slices.Clone(base)
			got := c.Decode(base, src)
			if !slices.Equal(got[:len(prefix)], prefix) || !slices.Equal(got[len(prefix):], one) {
				t.Fatalf("%v: Decode onto %d samples: prefix or samples differ", c, len(prefix))
			}
			back := c.Encode([]byte{0xAB}, got[len(prefix):])
			if back[0] != 0xAB || len(back) != 1+len(src) {
				t.Fatalf("%v: Encode onto 1 byte gave %d bytes starting %#02x", c, len(back), back[0])
			}
			for i, s := range got[len(prefix):] {
				if want := c.Encode(nil, []int16{s})[0]; back[1+i] != want {
					t.Fatalf("%v: Encode of sample %d = %#02x, one at a time %#02x", c, i, back[1+i], want)
				}
			}
		}
	}
}

func BenchmarkDecodeMessage(b *testing.B) {
	src := make([]byte, Rate) // a second of a voicemail message
	for i := range src {
		src[i] = byte(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = PCMU.Decode(nil, src)
	}
}

func TestG711RoundTrip(t *testing.T) {
	for _, c := range []Codec{PCMU, PCMA} {
		// Every code word decodes to a value that encodes back to itself
		// (µ-law's two zeros aside).
		for i := range 256 {
			b := byte(i)
			s := c.Decode(nil, []byte{b})[0]
			back := c.Encode(nil, []int16{s})[0]
			if back != b && !(c == PCMU && (b == 0x7F || b == 0xFF)) {
				t.Errorf("%v: %#02x → %d → %#02x", c, b, s, back)
			}
		}
		// Quantisation error stays within G.711's 8-bit log steps.
		for v := -32768; v <= 32767; v += 7 {
			got := c.Decode(nil, c.Encode(nil, []int16{int16(v)}))[0]
			if err := math.Abs(float64(got) - float64(v)); err > math.Max(16, math.Abs(float64(v))/16) {
				t.Fatalf("%v: %d → %d (error %.0f)", c, v, got, err)
			}
		}
		if got := c.Decode(nil, []byte{c.Silence()})[0]; got < -8 || got > 8 {
			t.Errorf("%v silence decodes to %d", c, got)
		}
	}
}

func TestWAVRoundTrip(t *testing.T) {
	tone := Tone(make([]int16, Rate), 1000, 8000, 0)
	for _, f := range []Format{FormatPCM, FormatULaw, FormatALaw} {
		path := filepath.Join(t.TempDir(), "m.wav")
		file, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		w, err := NewWAVWriter(file, f)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < len(tone); i += FrameSamples {
			if err := w.WritePCM(tone[i : i+FrameSamples]); err != nil {
				t.Fatal(err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		file.Close()
		b, _ := os.ReadFile(path)
		wav, err := ReadWAV(b)
		if err != nil {
			t.Fatalf("format %d: %v", f, err)
		}
		if wav.Format != f || len(wav.Samples) != Rate || wav.Seconds() != 1 {
			t.Fatalf("format %d: read format %d, %d samples", f, wav.Format, len(wav.Samples))
		}
		if lvl := ToneLevel(wav.Samples, 1000); lvl < 7500 || lvl > 8500 {
			t.Errorf("format %d: 1 kHz level %.0f, want about 8000", f, lvl)
		}
	}
}

// A recording cut off between Syncs is still a readable WAV of what was
// synced: the crash-safety voicemail relies on.
func TestWAVSyncSurvivesTruncation(t *testing.T) {
	var f audiotest.File
	w, err := NewWAVWriter(&f, FormatULaw)
	if err != nil {
		t.Fatal(err)
	}
	frame := PCMU.Encode(nil, Tone(make([]int16, FrameSamples), 440, 5000, 0))
	for range 50 {
		w.WriteEncoded(frame)
	}
	if err := w.Sync(); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		w.WriteEncoded(frame) // never synced: the "crash"
	}
	wav, err := ReadWAV(f.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got := len(wav.Samples); got != 50*FrameSamples {
		t.Errorf("read %d samples, want the %d synced", got, 50*FrameSamples)
	}
	// A header that claims more than the file holds reads what is there.
	wav, err = ReadWAV(f.Bytes()[:headerSize+100])
	if err != nil || len(wav.Samples) != 100 {
		t.Errorf("truncated file: %v, %d samples", err, len(wav.Samples))
	}
}

func TestReadWAVRejects(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":  nil,
		"noRIFF": []byte("RIFX....WAVEfmt "),
		"nodata": []byte("RIFF\x04\x00\x00\x00WAVE"),
	} {
		if _, err := ReadWAV(b); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestToneLevel(t *testing.T) {
	s := Tone(make([]int16, 1600), 697, 10000, 0)
	if got := ToneLevel(s, 697); math.Abs(got-10000) > 300 {
		t.Errorf("level at 697 Hz = %.0f, want about 10000", got)
	}
	if got := ToneLevel(s, 1209); got > 500 {
		t.Errorf("level at 1209 Hz = %.0f, want little", got)
	}
	if got := RMS(s); math.Abs(got-10000/math.Sqrt2) > 100 {
		t.Errorf("RMS = %.0f", got)
	}
}

func FuzzReadWAV(f *testing.F) {
	var m audiotest.File
	w, _ := NewWAVWriter(&m, FormatALaw)
	w.WriteEncoded([]byte{1, 2, 3})
	w.Close()
	f.Add(m.Bytes())
	f.Fuzz(func(t *testing.T, b []byte) {
		wav, err := ReadWAV(b)
		if err == nil && len(wav.Samples) > len(b) {
			t.Fatalf("%d samples from %d bytes", len(wav.Samples), len(b))
		}
	})
}
