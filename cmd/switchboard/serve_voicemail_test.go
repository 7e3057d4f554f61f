package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/runtime/audio"
	"switchboard/runtime/store"
	"switchboard/runtime/voicemail"
)

// TestServeVoicemailImportKilled runs the real binary on a data directory
// holding voicemail as an older version kept it (files: 2 000 messages in
// 40 boxes, read and unread, a greeting, a PIN, an archived box, a
// recording a crash cut short). serve imports it into its store at start;
// it is killed (SIGKILL) while importing, started again and killed once
// ready, then started and stopped: the store holds every file exactly as
// the file-keeping service had it, nothing twice, and the files are moved
// aside, whole.
func TestServeVoicemailImportKilled(t *testing.T) {
	t.Parallel()
	bin := buildSwitchboard(t)
	dir := copyExample(t, "family-home")
	data := t.TempDir()
	vm := filepath.Join(data, "voicemail")
	writeOldVoicemail(t, vm)
	want := recoveredFiles(t, vm)
	env := append(os.Environ(), "SWITCHBOARD_SITE_KEY="+testSiteKey, "NO_COLOR=1")
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	start := func() *served {
		t.Helper()
		return startServe(t, exec.CommandContext(ctx, bin, "serve", "-listen", "127.0.0.1:0", "-http", "", "-admin", "", "-data", data, dir), env)
	}
	ready := regexp.MustCompile(`^switchboard serve: ready: site "[^"]+"`)
	kill := func(s *served) {
		t.Helper()
		if err := s.cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		select {
		case <-s.exit:
		case <-time.After(serveTimeout):
			t.Fatal("serve still running after SIGKILL")
		}
	}

	s := start()
	// Killed a quarter of the way: ten boxes stored, thirty to go.
	s.waitLine("the import of box-09", regexp.MustCompile(`imported a box into the store.* box=box-09 `))
	kill(s)
	if _, err := os.Stat(vm + ".imported"); err == nil {
		t.Fatal("the import was over before the kill: this run proves nothing of a kill during it")
	}

	s = start()
	s.waitLine("ready line", ready)
	kill(s)

	s = start()
	s.waitLine("ready line", ready)
	s.stop()

	var plan struct{ Site struct{ Domain string } }
	readJSON(t, filepath.Join(dir, ".switchboard", "build", "dialplan.json"), &plan)
	if d := cmp.Diff(want, storedFiles(t, data, plan.Site.Domain)); d != "" {
		t.Errorf("the store after the kills (-want +got):\n%s", d)
	}
	if d := cmp.Diff(want, boxFiles(t, vm+".imported")); d != "" {
		t.Errorf("the files moved aside (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]string{}, boxFiles(t, vm)); d != "" {
		t.Errorf("box files left in the voicemail directory (-want +got):\n%s", d)
	}
}

// writeOldVoicemail writes boxes into vm as the file-keeping service
// keeps them.
func writeOldVoicemail(t *testing.T, vm string) {
	t.Helper()
	wav := func(secs float64) []byte { return toneWAV(t, secs) }
	short := wav(0.25)
	write := func(box, name string, data []byte) {
		t.Helper()
		if err := os.MkdirAll(filepath.Join(vm, box), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vm, box, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	message := func(box string, id int, folder voicemail.Folder, mailed bool) {
		m := voicemail.Message{ID: id, Box: filepath.Base(box), Folder: folder, Time: time.Date(2026, 1, 2, 3, 4, id%60, 0, time.UTC),
			DurationMS: 250, Codec: "PCMU", From: voicemail.From{Account: "device.gate", Display: "Gate", Number: fmt.Sprint(1000 + id)},
			Call: fmt.Sprintf("call-%s-%d", box, id), Reason: "no answer", Mailed: mailed}
		meta, _ := json.MarshalIndent(m, "", "  ")
		write(box, m.Name()+".json", append(meta, '\n'))
		write(box, m.Name()+".wav", short)
	}
	for b := range 40 {
		for id := 1; id <= 50; id++ {
			folder := voicemail.FolderNew
			if id%2 == 0 {
				folder = voicemail.FolderSaved
			}
			message(fmt.Sprintf("box-%02d", b), id, folder, id%3 == 0)
		}
	}
	message(".archive/gone", 1, voicemail.FolderNew, false)
	write(".archive/gone", "owner-mail.json", []byte(`{"to":"owner@example.com"}`+"\n"))
	// A recording a crash cut short: 2 s synced.
	write("box-01", ".rec-000051.json", []byte(`{"id":51,"box":"box-01","folder":"new","time":"2026-01-02T04:00:00Z","duration_ms":0,"codec":"PCMU","from":{"number":"+35315550199"}}`+"\n"))
	write("box-01", ".rec-000051.wav", wav(2))

	// The PIN and the greeting through the service, as the menu sets them.
	s, err := voicemail.Open(voicemail.Config{Program: func() *ir.Program { return &ir.Program{} }, Dir: vm})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetPIN("box-00", "4321", "test"); err != nil {
		t.Fatal(err)
	}
	if err := s.SetGreeting("box-00", wav(2), "test"); err != nil {
		t.Fatal(err)
	}
	s.Close()
}

// recoveredFiles is what the file-keeping service holds once it opened a
// copy of vm (recovering the cut recording): boxFiles of that copy.
func recoveredFiles(t *testing.T, vm string) map[string]string {
	t.Helper()
	cp := filepath.Join(t.TempDir(), "voicemail")
	if out, err := exec.Command("cp", "-a", vm, cp).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v: %s", err, out)
	}
	s, err := voicemail.Open(voicemail.Config{Program: func() *ir.Program { return &ir.Program{} }, Dir: cp})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	files := boxFiles(t, cp)
	if _, ok := files["box-01/msg-000051.wav"]; !ok {
		t.Fatal("the file-keeping service did not recover the cut recording")
	}
	return files
}

// fileDigest names a file's content in a diff: JSON as is, audio by digest.
func fileDigest(name string, data []byte) string {
	if strings.HasSuffix(name, ".json") {
		return string(data)
	}
	sum := sha256.Sum256(data)
	return fmt.Sprintf("%d bytes, sha256 %s", len(data), hex.EncodeToString(sum[:8]))
}

// boxFiles reads the box files under a voicemail directory, by
// <box>/<name> (archived boxes under .archive/).
func boxFiles(t *testing.T, vm string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(vm, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(vm, p)
		name := filepath.Base(p)
		if strings.HasPrefix(name, ".") { // recordings, marks, temporary files
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = fileDigest(name, data)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// storedFiles reads the box files of site from the store under data,
// named as boxFiles names them.
func storedFiles(t *testing.T, data, site string) map[string]string {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(store.Options{Dir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	objs, err := db.Objects(ctx, "voicemail", site)
	if err != nil {
		t.Fatal(err)
	}
	kv, err := db.KV(ctx, "mailboxes", site)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	names, err := objs.Names(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, ok, err := objs.Get(ctx, n, 1<<24)
		if err != nil || !ok {
			t.Fatalf("object %s: %v, %v", n, ok, err)
		}
		out[n] = fileDigest(n, b)
	}
	all, err := kv.All(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range all {
		if strings.Contains(k, "/") { // not the import's mark
			out[k] = fileDigest(k, v)
		}
	}
	return out
}

// toneWAV is secs seconds of a 440 Hz tone as a µ-law WAV file.
func toneWAV(t *testing.T, secs float64) []byte {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "*.wav")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := audio.NewWAVWriter(f, audio.FormatULaw)
	if err == nil {
		err = w.WritePCM(audio.Tone(make([]int16, int(secs*audio.Rate)), 440, 8000, 0))
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return data
}
