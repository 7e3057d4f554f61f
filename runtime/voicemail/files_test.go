package voicemail

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/runtime/audio"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
)

// The same operations on the disk and in memory give the same results,
// errors (by kind) and tree: what the service relies on of each.
func TestMemoryFilesAsDisk(t *testing.T) {
	root := t.TempDir()
	disk, mem := files(diskFiles{}), files(NewMemoryFiles())
	p := func(rel string) string { return filepath.Join(root, filepath.FromSlash(rel)) }
	type op struct {
		name string
		do   func(f files) (string, error)
	}
	write := func(rel, data string) op {
		return op{"write " + rel, func(f files) (string, error) { return "", f.writeFile(p(rel), []byte(data), 0o600) }}
	}
	read := func(rel string) op {
		return op{"read " + rel, func(f files) (string, error) {
			b, err := f.readFile(p(rel))
			return string(b), err
		}}
	}
	list := func(rel string) op {
		return op{"list " + rel, func(f files) (string, error) {
			es, err := f.readDir(p(rel))
			var names []string
			for _, e := range es {
				names = append(names, fmt.Sprintf("%s dir=%v", e.Name(), e.IsDir()))
			}
			return strings.Join(names, ","), err
		}}
	}
	stat := func(rel string) op {
		return op{"stat " + rel, func(f files) (string, error) {
			fi, err := f.stat(p(rel))
			if err != nil {
				return "", err
			}
			if fi.IsDir() {
				return fi.Name() + " dir", nil // a directory's size is the file system's
			}
			return fmt.Sprintf("%s size=%d", fi.Name(), fi.Size()), nil
		}}
	}
	simple := func(name string, do func(f files) error) op {
		return op{name, func(f files) (string, error) { return "", do(f) }}
	}
	ops := []op{
		write("box/a.json", "no directory yet"),
		read("box/a.json"),
		list("box"),
		simple("mkdir box", func(f files) error { return f.mkdirAll(p("box")) }),
		write("box/a.json", "one"),
		write("box/a.json", "two"),
		read("box/a.json"),
		stat("box/a.json"),
		stat("box"),
		{"create, write, seek back, write", func(f files) (string, error) {
			w, err := f.create(p("box/.rec-1.wav"), recordingMode)
			if err != nil {
				return "", err
			}
			defer w.Close()
			io.WriteString(w, "HEADER--data")
			if _, err := w.Seek(0, io.SeekStart); err != nil {
				return "", err
			}
			io.WriteString(w, "header")
			if err := w.Sync(); err != nil {
				return "", err
			}
			end, err := w.Seek(0, io.SeekEnd)
			return fmt.Sprint(end, filepath.Base(w.Name())), err
		}},
		read("box/.rec-1.wav"),
		simple("create again", func(f files) error {
			w, err := f.create(p("box/.rec-1.wav"), recordingMode)
			if err == nil {
				w.Close()
			}
			return err
		}),
		simple("create in a missing directory", func(f files) error {
			_, err := f.create(p("nobox/.rec-1.wav"), recordingMode)
			return err
		}),
		{"create temp", func(f files) (string, error) {
			w, err := f.createTemp(p("box"), ".rec-greeting-*.wav")
			if err != nil {
				return "", err
			}
			defer w.Close()
			io.WriteString(w, "greeting")
			base := filepath.Base(w.Name())
			ok := strings.HasPrefix(base, ".rec-greeting-") && strings.HasSuffix(base, ".wav")
			return fmt.Sprint(ok, filepath.Dir(w.Name()) == p("box")), f.remove(w.Name())
		}},
		simple("rename a recording", func(f files) error { return f.rename(p("box/.rec-1.wav"), p("box/.rec-2.wav")) }),
		simple("rename a missing one", func(f files) error { return f.rename(p("box/.rec-1.wav"), p("box/.rec-3.wav")) }),
		simple("take it", func(f files) error { return f.renameSynced(p("box/.rec-2.wav"), p("box/msg-000002.wav")) }),
		simple("rename a file over a file", func(f files) error { return f.rename(p("box/a.json"), p("box/msg-000002.wav")) }),
		read("box/msg-000002.wav"),
		list("box"),
		simple("remove a non-empty directory", func(f files) error { return f.remove(p("box")) }),
		simple("remove a missing file", func(f files) error { return f.remove(p("box/a.json")) }),
		simple("mkdir archive", func(f files) error { return f.mkdirAll(p("archive")) }),
		simple("move the box", func(f files) error { return f.rename(p("box"), p("archive/box")) }),
		list(""),
		list("archive/box"),
		read("archive/box/msg-000002.wav"),
		simple("mkdir over a file", func(f files) error { return f.mkdirAll(p("archive/box/msg-000002.wav/x")) }),
		simple("remove the archive", func(f files) error { return f.removeAll(p("archive")) }),
		simple("remove it again", func(f files) error { return f.removeAll(p("archive")) }),
		list(""),
		stat("archive"),
	}
	kind := func(err error) string {
		switch {
		case err == nil:
			return "ok"
		case errors.Is(err, fs.ErrNotExist):
			return "not exist"
		case errors.Is(err, fs.ErrExist):
			return "exist"
		default:
			return "error"
		}
	}
	for _, o := range ops {
		dv, derr := o.do(disk)
		mv, merr := o.do(mem)
		if d := cmp.Diff(dv+" "+kind(derr), mv+" "+kind(merr)); d != "" {
			t.Errorf("%s: disk %v, memory %v (-disk +memory):\n%s", o.name, derr, merr, d)
		}
	}
}

// A service whose files are in memory takes a message as on disk, and
// writes nothing to the disk: the message is read back from memory, the
// box lists it, and a service opened again on the same memory finds it.
func TestDepositInMemory(t *testing.T) {
	m := NewMemoryFiles()
	e := newEnv(t, func(c *Config) { c.Store.Memory = m })
	l := newFakeLine(audio.PCMU, e.clk)
	if err := e.deposit(l, "mary", gate, func() {
		l.speak(3, 697, 1000)
		l.keys("#")
	}); err != nil {
		t.Fatal(err)
	}
	evs := e.events(events.VoicemailDeposited)
	if len(evs) != 1 || evs[0].Path != "mary/msg-000001.wav" {
		t.Fatalf("deposit events %+v", evs)
	}
	data, err := m.ReadFile(filepath.Join(e.dir, "mary", "msg-000001.wav"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := audio.ReadWAV(data)
	if err != nil {
		t.Fatal(err)
	}
	if w.Seconds() != 3 || audio.ToneLevel(w.Samples, 697) < 7000 {
		t.Errorf("the message holds %.2f s, 697 Hz at %.0f: not the caller's audio", w.Seconds(), audio.ToneLevel(w.Samples, 697))
	}
	es, err := m.readDir(filepath.Join(e.dir, "mary"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, en := range es {
		names = append(names, en.Name())
	}
	if want := []string{"msg-000001.json", "msg-000001.wav"}; !cmp.Equal(names, want) {
		t.Errorf("box files %v, want %v", names, want)
	}
	if disk, _ := os.ReadDir(e.dir); len(disk) != 0 {
		t.Errorf("%d files on disk under the voicemail directory, want none", len(disk))
	}
	if ms := e.messages("mary"); len(ms) != 1 || ms[0].DurationMS != 3000 || ms[0].Call != gate.Call {
		t.Errorf("messages %+v", ms)
	}
	if _, err := e.s.PCM("mary", 1); err != nil {
		t.Errorf("PCM: %v", err)
	}

	e.open(Config{Dir: e.dir, Clock: e.clk, Logger: discardLogger(), Store: Store{Memory: m}})
	if ms := e.messages("mary"); len(ms) != 1 || ms[0].Call != gate.Call {
		t.Errorf("opened again: messages %+v", ms)
	}
}

// A recording cut short in memory (its service gone mid-message) is
// recovered by the next service on the same memory, as a killed one is
// from the disk: recovery reads and removes through the same files.
func TestRecoverRecordingInMemory(t *testing.T) {
	m := NewMemoryFiles()
	e := newEnv(t, func(c *Config) { c.Store.Memory = m; c.SyncEvery = 500 * time.Millisecond })
	b, err := e.s.box("mary")
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.s.startMessage(b, audio.PCMU, Message{Time: epoch, From: From{Account: "device.front-gate"}, Call: "call-cut"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.add(line.Frame{Timestamp: 0, Samples: audio.Tone(make([]int16, 2*audio.Rate), 697, 8000, 0)}); err != nil {
		t.Fatal(err)
	}
	// No finishMessage: the recording stays as .rec-1 in memory.
	e.open(Config{Dir: e.dir, Clock: e.clk, Logger: discardLogger(), Store: Store{Memory: m}})
	ms := e.messages("mary")
	if len(ms) != 1 || !ms[0].Recovered || ms[0].Call != "call-cut" || ms[0].DurationMS != 2000 {
		t.Fatalf("recovered messages %+v", ms)
	}
	es, _ := m.readDir(filepath.Join(e.dir, "mary"))
	var names []string
	for _, en := range es {
		names = append(names, en.Name())
	}
	if want := []string{"msg-000001.json", "msg-000001.wav"}; !cmp.Equal(names, want) {
		t.Errorf("box files %v, want %v", names, want)
	}
}

// Memory and a store are two places for one thing.
func TestMemoryAndStoreRefused(t *testing.T) {
	_, err := Open(Config{Dir: t.TempDir(), Program: newEnv(t).s.cfg.Program, Store: Store{Memory: NewMemoryFiles(), Keys: struct{ Keys }{}}})
	if err == nil {
		t.Fatal("Open took files in memory and a store")
	}
}
