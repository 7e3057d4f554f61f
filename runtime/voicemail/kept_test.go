package voicemail

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/email"
	"switchboard/runtime/audio"
	"switchboard/runtime/events"
	"switchboard/runtime/line"
	"switchboard/runtime/store"
	"switchboard/runtime/store/storetest"
)

// keptIn is the voicemail Store of site in st, as serve opens it.
func keptIn(t testing.TB, st *store.Store, site string) Store {
	t.Helper()
	objs, err := st.Objects(context.Background(), "voicemail", site)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := st.KV(context.Background(), "mailboxes", site)
	if err != nil {
		t.Fatal(err)
	}
	return Store{Objects: objs, Keys: kv}
}

// withStore keeps the boxes in the test binary's store, under a site of
// the test's own.
func withStore(t testing.TB) func(*Config) {
	st := keptIn(t, storetest.Shared(t), storetest.Site(t))
	return func(c *Config) { c.Store = st }
}

// reopen opens the service again on what e's service kept (a restart).
func (e *testEnv) reopen(edit ...func(*Config)) {
	e.t.Helper()
	cfg := e.s.cfg
	e.s.Close()
	for _, f := range edit {
		f(&cfg)
	}
	e.open(cfg)
}

// localFiles lists the files under e's directory, relative, slashed.
func localFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if rel == inventoryFile {
			return nil // Count's, checked by TestCountKept
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// With a store, a message left is in the store, not in the directory;
// what the owner does to it (heard, deleted), their greeting and PIN are
// kept there too, and all of it is there after a restart.
func TestKeptDepositAndManage(t *testing.T) {
	e := newEnv(t, withStore(t))
	l := newFakeLine(audio.PCMU, e.clk)
	if err := e.deposit(l, "mary", gate, func() { l.speak(2, 697, 0); l.keys("#") }); err != nil {
		t.Fatal(err)
	}
	if got := l.Played(); got[len(got)-1] != "vm-goodbye" || !contains(got, "vm-saved") {
		t.Errorf("played %v", got)
	}
	want := []Message{{ID: 1, Box: "mary", Folder: FolderNew, Time: epoch, DurationMS: 2000, Codec: "PCMU",
		From: From{Account: "device.front-gate", Display: "Front gate", Number: "front-gate"}, Call: "call-gate", Reason: "no answer"}}
	if d := cmp.Diff(want, e.messages("mary")); d != "" {
		t.Errorf("messages (-want +got):\n%s", d)
	}
	// The recording stays a while (keepLocal), against a power cut.
	if d := cmp.Diff([]string{keptMark, "mary/.rec-000001.json", "mary/.rec-000001.wav"}, localFiles(t, e.dir)); d != "" {
		t.Errorf("local files once the message is stored (-want +got):\n%s", d)
	}

	e.reopen()
	if d := cmp.Diff(want, e.messages("mary")); d != "" {
		t.Errorf("messages after a restart (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{keptMark}, localFiles(t, e.dir)); d != "" {
		t.Errorf("local files after a restart (-want +got):\n%s", d)
	}
	if got := string(e.s.MessageSummary("mary")); !strings.Contains(got, "Messages-Waiting: yes\r\n") || !strings.Contains(got, "Voice-Message: 1/0 (0/0)\r\n") {
		t.Errorf("message summary %q", got)
	}
	pcm, err := e.s.PCM("mary", 1)
	if err != nil {
		t.Fatal(err)
	}
	if w, err := audio.ReadWAV(pcm); err != nil || len(w.Samples) != 2*audio.Rate || audio.ToneLevel(w.Samples, 697) < 7000 {
		t.Errorf("played back: %v", err)
	}
	if err := e.s.MarkHeard("mary", 1); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetPIN("mary", "97531", "app.mary"); err != nil {
		t.Fatal(err)
	}
	greeting := wavOf(t, audio.FormatPCM, 2)
	if err := e.s.SetGreeting("mary", greeting, "app.mary"); err != nil {
		t.Fatal(err)
	}

	e.reopen()
	if got := e.s.MessageSummary("mary"); !strings.Contains(string(got), "Messages-Waiting: no") || !strings.Contains(string(got), "Voice-Message: 0/1") {
		t.Errorf("message summary after hearing it %q", got)
	}
	b, _ := e.s.box("mary")
	if !e.s.checkPIN(b, "97531") || e.s.checkPIN(b, "2580") {
		t.Error("the PIN set is not the one asked for after a restart")
	}
	if g, ok, err := e.s.GreetingPCM("mary"); err != nil || !ok || len(g) != len(greeting) {
		t.Errorf("greeting after a restart: %d bytes, %v, %v", len(g), ok, err)
	}
	if err := e.s.Delete("mary", 1, "app.mary"); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	if ms := e.messages("mary"); len(ms) != 0 {
		t.Errorf("deleted message back after a restart: %+v", ms)
	}
	names, err := e.s.cfg.Store.Objects.Names(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"mary/greeting.wav"}, names); d != "" {
		t.Errorf("objects once the message is deleted (-want +got):\n%s", d)
	}
}

// A power cut may lose what the store took last (it syncs its files at
// an interval): a message stored but lost is recovered from its
// recording, kept locally for a while; a message the owner deleted in
// that while is not.
func TestKeptPowerCut(t *testing.T) {
	e := newEnv(t, withStore(t))
	for range 2 {
		l := newFakeLine(audio.PCMU, e.clk)
		if err := e.deposit(l, "mary", gate, func() { l.speak(2, 697, 0); l.keys("#") }); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.s.Delete("mary", 2, "app.mary"); err != nil {
		t.Fatal(err)
	}
	e.s.Close()
	// The cut: message 1's writes never reached the disk.
	ctx := context.Background()
	if err := e.s.cfg.Store.Objects.Delete(ctx, "mary/msg-000001.wav"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.cfg.Store.Keys.Delete(ctx, "mary/msg-000001.json"); err != nil {
		t.Fatal(err)
	}
	e.reopen()
	want := []Message{{ID: 1, Box: "mary", Folder: FolderNew, Time: epoch, DurationMS: 2000, Codec: "PCMU",
		From: From{Account: "device.front-gate", Display: "Front gate", Number: "front-gate"}, Call: "call-gate", Reason: "no answer", Recovered: true}}
	if d := cmp.Diff(want, e.messages("mary")); d != "" {
		t.Errorf("messages after the cut (-want +got):\n%s", d)
	}
}

// wavOf is secs seconds of a tone as a WAV of format f.
func wavOf(t testing.TB, f audio.Format, secs int) []byte {
	t.Helper()
	var buf seekBuffer
	w, err := audio.NewWAVWriter(&buf, f)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.WritePCM(audio.Tone(make([]int16, secs*audio.Rate), 440, 8000, 0)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.b
}

// With a store, a recording cut short by a kill is local; the restart
// stores what was synced, once; a recording stored whose local file a
// kill left behind is not stored again.
func TestKeptRecovery(t *testing.T) {
	e := newEnv(t, withStore(t))
	b, _ := e.s.box("mary")
	r, err := e.s.startMessage(b, audio.PCMA, Message{Time: epoch, From: From{Account: "device.front-gate"}, Call: "c1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 125 { // 2.5 s: synced at 1 s and 2 s
		tone := audio.Tone(make([]int16, audio.FrameSamples), 697, 8000, i*audio.FrameSamples)
		if _, err := r.add(line.Frame{Timestamp: uint32(i * audio.FrameSamples), Samples: tone}); err != nil {
			t.Fatal(err)
		}
	}
	r.f.Close() // killed: no finish
	// A message stored whose recording was not yet removed (a kill in
	// keptShelf.take).
	done := e.addMessage("john", FolderNew, epoch, 2, 440)
	rec := filepath.Join(e.dir, "john", recName(done.ID)+".wav")
	wav, err := e.s.shelf.read("john", done.Name()+".wav")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(rec, wav, 0o640); err != nil {
		t.Fatal(err)
	}
	e.events()

	var mailed []string
	e.reopen(func(c *Config) {
		c.Mailer = mailerFunc(func(m email.Message) error { mailed = append(mailed, string(m.Data)); return nil })
	})
	e.s.Close() // the mails sent

	want := []Message{{ID: 1, Box: "mary", Folder: FolderNew, Time: epoch, DurationMS: 2000, Codec: "PCMA",
		From: From{Account: "device.front-gate"}, Call: "c1", Recovered: true, Mailed: true}}
	if d := cmp.Diff(want, e.messages("mary")); d != "" {
		t.Errorf("recovered (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]Message{done}, e.messages("john")); d != "" {
		t.Errorf("a stored message after its leftover recording (-want +got):\n%s", d)
	}
	if evs := e.events(events.VoicemailRecovered); len(evs) != 1 || evs[0].Target != "mailbox.mary" {
		t.Errorf("recovered events %+v", evs)
	}
	if len(mailed) != 1 || !strings.Contains(mailed[0], "cut off") {
		t.Errorf("mailed %d times", len(mailed))
	}
	if d := cmp.Diff([]string{keptMark}, localFiles(t, e.dir)); d != "" {
		t.Errorf("local files after recovery (-want +got):\n%s", d)
	}
}

// A store that fails: the caller hears that voicemail is unavailable, the
// error is logged, nothing panics, and nothing is told "saved".
func TestKeptStoreFailing(t *testing.T) {
	objs := &failingObjects{fail: true}
	e := newEnv(t, withStore(t), func(c *Config) {
		objs.Objects = c.Store.Objects
		c.Store.Objects = objs
	})
	l := newFakeLine(audio.PCMU, e.clk)
	err := e.deposit(l, "mary", gate, func() { l.speak(2, 697, 0); l.keys("#") })
	if err == nil {
		t.Fatal("a deposit into a failing store reported no error")
	}
	if got := l.Played(); contains(got, "vm-saved") {
		t.Errorf("the caller was told the message was saved: %v", got)
	}
	if got := l.Cause(); got != "voicemail unavailable" {
		t.Errorf("hang-up cause %q, want voicemail unavailable", got)
	}
	if ms := e.messages("mary"); len(ms) != 0 {
		t.Errorf("messages %+v", ms)
	}
	// The recording is kept locally, and stored at the next start.
	objs.fail = false
	e.reopen()
	if ms := e.messages("mary"); len(ms) != 1 || ms[0].DurationMS != 2000 {
		t.Errorf("messages once the store works again: %+v", ms)
	}
}

// failingObjects fails every write while fail is set.
type failingObjects struct {
	Objects
	fail bool
}

func (f *failingObjects) Put(ctx context.Context, name string, data []byte) error {
	if f.fail {
		return errors.New("store down")
	}
	return f.Objects.Put(ctx, name, data)
}

// snapshot is everything a service keeps: every box file (live and
// archived), metadata as text, audio by digest, and what the service says
// of each box.
type snapshot struct {
	Files     map[string]string
	Messages  map[string][]Message
	Summaries map[string]string
}

func takeSnapshot(t *testing.T, s *Service, boxes []string) snapshot {
	t.Helper()
	snap := snapshot{Files: map[string]string{}, Messages: map[string][]Message{}, Summaries: map[string]string{}}
	var all []string
	switch sh := s.shelf.(type) {
	case dirShelf:
		live, _ := sh.boxes()
		archived, _ := dirShelf{root: filepath.Join(sh.root, archiveDir)}.boxes()
		all = live
		for _, a := range archived {
			all = append(all, archiveDir+"/"+a)
		}
	case *keptShelf:
		for b := range sh.files {
			all = append(all, b)
		}
	}
	for _, b := range all {
		names, err := s.shelf.names(b)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			data, err := s.shelf.read(b, n)
			if err != nil {
				t.Fatal(err)
			}
			if isAudio(n) {
				sum := sha256.Sum256(data)
				snap.Files[b+"/"+n] = hex.EncodeToString(sum[:])
			} else {
				snap.Files[b+"/"+n] = string(data)
			}
		}
	}
	for _, b := range boxes {
		snap.Messages[b] = must(s.Messages(b))
		snap.Summaries[b] = string(s.MessageSummary(b))
	}
	return snap
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// oldLayout writes boxes as the file-keeping service keeps them, through
// that service: messages new, heard and mailed, with callers and reasons;
// a greeting; a PIN; an archived box with its mail record; and a
// recording a kill cut short.
func oldLayout(t *testing.T, e *testEnv) {
	t.Helper()
	at := epoch
	e.addMessage("mary", FolderNew, at, 2, 440)
	e.addMessage("mary", FolderSaved, at.Add(time.Hour), 3, 697)
	m := e.addMessage("mary", FolderNew, at.Add(2*time.Hour), 1.5, 770)
	b, _ := e.s.box("mary")
	if _, err := b.update(m.ID, func(m *Message) { m.Mailed, m.Reason = true, "busy" }); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetGreeting("mary", wavOf(t, audio.FormatULaw, 3), "app.mary"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetPIN("mary", "4321", "app.mary"); err != nil {
		t.Fatal(err)
	}
	e.addMessage("john", FolderSaved, at, 2, 440)
	// A removed person's box, archived, its mail sent.
	e.addMessage("gone", FolderNew, at, 2, 440)
	p := *e.prog
	p.Retired = []ir.Retired{{Identity: "gone", User: "gone", ArchiveUntil: at.Add(365 * 24 * time.Hour)}}
	if res := e.s.Retire(&p, at); len(res) != 1 || res[0].Outcome != "archived" || res[0].Err != nil {
		t.Fatalf("retiring: %+v", res)
	}
	if err := e.s.shelf.write(archiveDir+"/gone", archiveMailFile, []byte(`{"to":"owner@example.com"}`+"\n")); err != nil {
		t.Fatal(err)
	}
	// John's recording, cut short by a kill.
	jb, _ := e.s.box("john")
	r, err := e.s.startMessage(jb, audio.PCMU, Message{Time: at.Add(time.Minute), From: From{Number: "+35315550199"}, Call: "c9"})
	if err != nil {
		t.Fatal(err)
	}
	r.add(line.Frame{Samples: audio.Tone(make([]int16, 2*audio.Rate+audio.Rate/2), 440, 8000, 0)})
	r.f.Close()
	e.s.Close()
}

// Migration keeps everything: the boxes an older version kept as files,
// imported into the store, are exactly what the file-keeping service
// (recovering the same crash) holds: every file, every message's
// metadata, every box's message-waiting state, PINs, greetings, archives.
// A kill before the import is marked done imports again, exactly once; one
// after it moves the files aside without importing them again.
func TestMigrationKeepsEverything(t *testing.T) {
	for _, tc := range []struct {
		name string
		// killed leaves what a kill -9 during a first Open left.
		killed func(t *testing.T, dir string, k *keptShelf)
	}{
		{"clean", nil},
		{"killed during the import", func(t *testing.T, dir string, k *keptShelf) {
			// Some files stored, some half (metadata without audio).
			for _, f := range []string{"mary/msg-000001.json", "mary/msg-000001.wav", "mary/msg-000002.json", "john/pin.json"} {
				b, n, _ := strings.Cut(f, "/")
				data, err := os.ReadFile(filepath.Join(dir, b, n))
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if err := k.write(b, n, data); err != nil {
					t.Fatal(err)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			oldLayout(t, e)
			boxes := []string{"mary", "john"}

			// What the files hold, as the file-keeping service opens them.
			copyDir := filepath.Join(t.TempDir(), "voicemail")
			if out, err := exec.Command("cp", "-a", e.dir, copyDir).CombinedOutput(); err != nil {
				t.Fatalf("cp: %v: %s", err, out)
			}
			cfg := e.s.cfg
			cfg.Dir = copyDir
			e.open(cfg)
			want := takeSnapshot(t, e.s, boxes)
			e.s.Close()

			stDir := t.TempDir()
			st, err := store.Open(store.Options{Dir: stDir, Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			kept := keptIn(t, st, "harbour")
			if tc.killed != nil {
				k, err := openKept(kept, e.dir, 1<<22)
				if err != nil {
					t.Fatal(err)
				}
				tc.killed(t, e.dir, k)
			}
			cfg.Dir, cfg.Store = e.dir, kept
			e.open(cfg)
			got := takeSnapshot(t, e.s, boxes)
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("imported (-want +got):\n%s", d)
			}
			b, _ := e.s.box("mary")
			if !e.s.checkPIN(b, "4321") {
				t.Error("Mary's PIN does not open her box after the import")
			}
			if d := cmp.Diff([]string{keptMark}, localFiles(t, e.dir)); d != "" {
				t.Errorf("the voicemail directory after the import (-want +got):\n%s", d)
			}
			aside := localFiles(t, e.dir+".imported")
			for f := range want.Files {
				if !slices.Contains(aside, f) {
					t.Errorf("%s is not in the directory moved aside", f)
				}
			}
			// The plan counts the boxes imported (oldLayout's Mary: three
			// messages, a greeting, a PIN), from the inventory written
			// once the import is done.
			if inv, err := Count(e.dir, "mary"); err != nil || inv != (Inventory{Messages: 3, Greeting: true, PIN: true}) {
				t.Errorf("Count after the import: %+v, %v", inv, err)
			}
			mark, ok, err := kept.Keys.Get(context.Background(), importedKey)
			if err != nil || !ok {
				t.Fatalf("no import mark: %v", err)
			}

			// A kill after the mark, before the files moved aside: they
			// are moved, not imported again (the message deleted since
			// stays deleted).
			if err := e.s.Delete("mary", 1, "app.mary"); err != nil {
				t.Fatal(err)
			}
			e.s.Close()
			if err := os.RemoveAll(e.dir); err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(e.dir+".imported", e.dir); err != nil {
				t.Fatal(err)
			}
			st.Close()
			st, err = store.Open(store.Options{Dir: stDir, Logger: discardLogger()})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			cfg.Store = keptIn(t, st, "harbour")
			e.open(cfg)
			if ms := e.messages("mary"); len(ms) != 2 || ms[0].ID == 1 || ms[1].ID == 1 {
				t.Errorf("after a restart: %+v", ms)
			}
			if _, err := os.Stat(e.dir + ".imported"); err != nil {
				t.Errorf("the files were not moved aside again: %v", err)
			}
			again, _, _ := cfg.Store.Keys.Get(context.Background(), importedKey)
			if !cmp.Equal(mark, again) {
				t.Errorf("the import mark changed: %s, then %s", mark, again)
			}
			e.s.Close()
		})
	}
}

// Audio larger than the longest recording (three minutes of G.711 by
// default) is not written to the store.
func TestKeptBound(t *testing.T) {
	e := newEnv(t, withStore(t))
	limit := e.s.maxFile()
	if want := int64(DefaultMaxMessage/time.Second)*audio.Rate + 1024; limit != want {
		t.Errorf("bound %d bytes, want the longest message (G.711) and a header, %d", limit, want)
	}
	if err := e.s.shelf.write("mary", "msg-000009.wav", make([]byte, limit+1)); err == nil {
		t.Error("an object past the bound was written")
	}
	if err := e.s.shelf.write("mary", "msg-000009.wav", make([]byte, limit)); err != nil {
		t.Errorf("an object at the bound: %v", err)
	}
	if names, _ := e.s.shelf.names("mary"); !slices.Equal(names, []string{"msg-000009.wav"}) {
		t.Errorf("names %v", names)
	}
}
