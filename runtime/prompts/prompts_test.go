package prompts

import (
	"bufio"
	"encoding/binary"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/audio"
	"switchboard/runtime/audio/audiotest"
)

// scriptPrompts reads the name|text lines of scripts/prompts.sh.
func scriptPrompts(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open("../../scripts/prompts.sh")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	in := false
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasSuffix(line, "<<'PROMPTS'"):
			in = true
		case line == "PROMPTS":
			in = false
		case in && line != "" && !strings.HasPrefix(line, "#"):
			name, text, ok := strings.Cut(line, "|")
			if !ok || text == "" {
				t.Errorf("prompts.sh: malformed line %q", line)
			}
			out[name] = text
		}
	}
	return out
}

// The embedded files are exactly the script's prompts: a prompt added to
// the script but not regenerated, or a stray file, fails here.
func TestFilesMatchScript(t *testing.T) {
	script := scriptPrompts(t)
	if len(script) == 0 {
		t.Fatal("no prompts read from scripts/prompts.sh")
	}
	var want, got []string
	for name := range script {
		want = append(want, name+".wav")
	}
	entries, _ := fs.ReadDir(files, "wav")
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(want)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("wav/ and scripts/prompts.sh differ (-script +files); run scripts/prompts.sh:\n%s", d)
	}
}

func TestAllDecode(t *testing.T) {
	for _, name := range Names() {
		s, ok := Get(name)
		if !ok {
			t.Fatalf("Get(%q) failed for a listed name", name)
		}
		secs := float64(len(s)) / audio.Rate
		if secs < 0.15 || secs > 6 {
			t.Errorf("%s: %.2f s long", name, secs)
		}
		if rms := audio.RMS(s); rms < 300 {
			t.Errorf("%s: RMS %.0f: silent", name, rms)
		}
		// Trimmed: speech starts and ends within 50 ms of the edges.
		edge := audio.Rate / 20
		if name != Beep && (audio.RMS(s[:edge]) < 5 && audio.RMS(s[len(s)-edge:]) < 5) {
			t.Errorf("%s: silent at both ends; was it trimmed?", name)
		}
	}
	if _, ok := Get("no-such-prompt"); ok {
		t.Error("Get of an unknown name succeeded")
	}
}

// The prompts the services use, by name.
func TestRequiredNames(t *testing.T) {
	required := []string{
		Beep, "vm-greeting", "vm-enter-pin", "vm-wrong-pin", "vm-you-have", "vm-new-messages", "vm-new-message",
		"conf-enter-pin", "conf-wrong-pin", "conf-full", "conf-muted", "conf-unmuted", "conf-alone", "conf-locked", "conf-try-later", "conf-room-locked", "conf-room-unlocked",
		"ring-test",
	}
	for n := 0; n <= MaxNumber; n++ {
		required = append(required, NumberNames(n)...)
	}
	for _, name := range required {
		if _, ok := Get(name); !ok {
			t.Errorf("no prompt %q", name)
		}
	}
}

func TestSizeBudget(t *testing.T) {
	total := 0
	entries, _ := fs.ReadDir(files, "wav")
	for _, e := range entries {
		info, _ := e.Info()
		total += int(info.Size())
	}
	if total > 300<<10 {
		t.Errorf("prompts take %d KB; keep them under 300 KB", total>>10)
	}
	t.Logf("%d prompt files, %d KB", len(entries), total>>10)
}

// The decoder agrees sample for sample with sox's (testdata/vm-goodbye.s16
// is `sox wav/vm-goodbye.wav -t raw -e signed -b 16 -L`).
func TestIMAMatchesSox(t *testing.T) {
	raw, err := os.ReadFile("testdata/vm-goodbye.s16")
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int16, len(raw)/2)
	for i := range want {
		want[i] = int16(binary.LittleEndian.Uint16(raw[2*i:]))
	}
	got, _ := Get("vm-goodbye")
	// sox decodes whole blocks; the fact chunk says how many samples are
	// real (3970 of the 8 blocks' 4040).
	if len(got) != 3970 || len(want) != 4040 {
		t.Fatalf("%d samples, sox decodes %d", len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("sample %d: %d, sox %d", i, got[i], want[i])
		}
	}
}

// Other formats fall through to audio.ReadWAV.
func TestDecodeULaw(t *testing.T) {
	var m audiotest.File
	w, _ := audio.NewWAVWriter(&m, audio.FormatULaw)
	tone := audio.Tone(make([]int16, 800), 500, 6000, 0)
	w.WritePCM(tone)
	w.Close()
	s, err := decodeWAV(m.Bytes())
	if err != nil || len(s) != len(tone) {
		t.Fatalf("decodeWAV: %v, %d samples", err, len(s))
	}
	if lvl := audio.ToneLevel(s, 500); lvl < 5500 {
		t.Errorf("500 Hz level %.0f", lvl)
	}
}

func TestNumberNames(t *testing.T) {
	for _, tt := range []struct {
		n    int
		want []string
	}{
		{-1, nil}, {0, []string{"num-0"}}, {7, []string{"num-7"}}, {13, []string{"num-13"}},
		{20, []string{"num-20"}}, {21, []string{"num-20", "num-1"}}, {40, []string{"num-40"}},
		{99, []string{"num-90", "num-9"}}, {100, nil},
	} {
		if d := cmp.Diff(tt.want, NumberNames(tt.n)); d != "" {
			t.Errorf("NumberNames(%d) (-want +got):\n%s", tt.n, d)
		}
	}
}

func TestJoin(t *testing.T) {
	a, _ := Get("vm-you-have")
	b, _ := Get("num-3")
	got, ok := Join("vm-you-have", "num-3")
	if !ok || len(got) != len(a)+len(b) || got[len(a)] != b[0] {
		t.Errorf("Join: ok %v, %d samples", ok, len(got))
	}
	if _, ok := Join("vm-you-have", "nope"); ok {
		t.Error("Join of an unknown name succeeded")
	}
}

func FuzzDecodeWAV(f *testing.F) {
	for _, name := range []string{"vm-goodbye", "num-" + strconv.Itoa(2)} {
		b, _ := files.ReadFile("wav/" + name + ".wav")
		f.Add(b)
	}
	f.Add([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x14\x00\x00\x00\x11\x00\x01\x00\x40\x1f\x00\x00\x00\x00\x00\x00\x05\x00\x04\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeWAV(b)
		// At most two samples a byte (IMA ADPCM), plus one a block header.
		if err == nil && len(s) > 2*len(b)+1 {
			t.Fatalf("%d samples from %d bytes", len(s), len(b))
		}
	})
}
