package voicemail

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidBoxName(t *testing.T) {
	for name, ok := range map[string]bool{
		"mary": true, "apt-1a": true, "a_b": true, "M2": true,
		"": false, ".": false, "..": false, "-x": false, "a/b": false, "a b": false, ".rec": false,
		"ö": false, string(make([]byte, 65)): false,
	} {
		if validBoxName(name) != ok {
			t.Errorf("validBoxName(%q) = %v", name, !ok)
		}
	}
}

func TestParseFile(t *testing.T) {
	type parsed struct {
		Kind string
		ID   int
		Ext  string
		OK   bool
	}
	for name, want := range map[string]parsed{
		"msg-000001.wav":      {"msg", 1, "wav", true},
		"msg-000042.json":     {"msg", 42, "json", true},
		".rec-000007.wav":     {"rec", 7, "wav", true},
		".rec-000007.json":    {"rec", 7, "json", true},
		"msg-1234567.wav":     {"msg", 1234567, "wav", true},
		"msg-000000.wav":      {},
		"msg--1.wav":          {},
		"msg-+1.wav":          {},
		"msg-1.wav.tmp":       {},
		"msg-.wav":            {},
		"msg-1.mp3":           {},
		"greeting.wav":        {},
		"pin.json":            {},
		".rec-greeting-1.wav": {},
		"msg-9999999999.wav":  {},
	} {
		k, id, ext, ok := parseFile(name)
		if d := cmp.Diff(want, parsed{k, id, ext, ok}); d != "" {
			t.Errorf("parseFile(%q) (-want +got):\n%s", name, d)
		}
	}
}

// The metadata file is stable: the same message, the same bytes.
func TestMetadataFile(t *testing.T) {
	e := newEnv(t)
	m := e.addMessage("mary", FolderNew, time.Date(2026, 3, 1, 9, 30, 5, 123_000_000, time.UTC), 2, 440)
	got, err := os.ReadFile(filepath.Join(e.dir, "mary", m.Name()+".json"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "id": 1,
  "box": "mary",
  "folder": "new",
  "time": "2026-03-01T09:30:05.123Z",
  "duration_ms": 2000,
  "codec": "PCMU",
  "from": {
    "account": "device.front-gate",
    "display": "Front gate"
  }
}
`
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("msg-000001.json (-want +got):\n%s", d)
	}
}

// A message whose metadata is unreadable still lists, from its audio.
func TestLoadWithoutMetadata(t *testing.T) {
	e := newEnv(t)
	m := e.addMessage("mary", FolderSaved, epoch, 2, 440)
	os.WriteFile(filepath.Join(e.dir, "mary", m.Name()+".json"), []byte("{broken"), 0o640)
	os.WriteFile(filepath.Join(e.dir, "mary", "msg-1.wav"), []byte("not canonical"), 0o640)
	os.WriteFile(filepath.Join(e.dir, "mary", "notes.txt"), []byte("stray"), 0o640)
	e.open(Config{Dir: e.dir, Clock: e.clk, Logger: discardLogger()})
	ms := e.messages("mary")
	if len(ms) != 1 || ms[0].DurationMS != 2000 || ms[0].Folder != FolderNew || ms[0].Codec != "PCMU" {
		t.Errorf("messages %+v", ms)
	}
}

func FuzzParseFile(f *testing.F) {
	for _, s := range []string{"msg-000001.wav", ".rec-000002.json", "msg-0.wav", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		kind, id, ext, ok := parseFile(name)
		if !ok {
			return
		}
		if id < 1 || (ext != "wav" && ext != "json") || (kind != "msg" && kind != "rec") {
			t.Fatalf("parseFile(%q) = %q %d %q", name, kind, id, ext)
		}
		// The canonical name of what parsed parses the same.
		canon := msgName(id) + "." + ext
		if kind == "rec" {
			canon = recName(id) + "." + ext
		}
		if k2, id2, e2, ok2 := parseFile(canon); !ok2 || k2 != kind || id2 != id || e2 != ext {
			t.Fatalf("canonical %q of %q parses as %q %d %q %v", canon, name, k2, id2, e2, ok2)
		}
	})
}

func FuzzParseMeta(f *testing.F) {
	f.Add([]byte(`{"id":1,"box":"mary","folder":"saved","time":"2026-03-01T09:30:05Z","duration_ms":2000,"codec":"PCMU"}`))
	f.Add([]byte(`{"folder":"trash","duration_ms":-5}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseMeta(b)
		if err != nil {
			return
		}
		if m.Folder != FolderNew && m.Folder != FolderSaved || m.DurationMS < 0 {
			t.Fatalf("parsed %+v", m)
		}
		if _, err := parseMeta(marshalMeta(m)); err != nil {
			t.Fatalf("rewritten metadata does not parse: %v", err)
		}
	})
}

func FuzzParsePINRecord(f *testing.F) {
	data, _ := os.ReadFile("testdata/pin.json")
	f.Add(data, "4711")
	f.Fuzz(func(t *testing.T, b []byte, pin string) {
		r, err := parsePINRecord(b)
		if err != nil {
			return
		}
		if r.Iterations > 5000 {
			return // a valid but slow record: nothing more to learn
		}
		r.matches(pin)
	})
}
