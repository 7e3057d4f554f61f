package voicemail

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/audio"
	"switchboard/runtime/clock/clocktest"
)

// writeBox makes a box directory with messages, a greeting and a PIN.
func writeBox(t *testing.T, dir, box string, messages int) {
	t.Helper()
	d := filepath.Join(dir, box)
	if err := os.MkdirAll(d, 0o750); err != nil {
		t.Fatal(err)
	}
	files := []string{greetingFile, pinFile}
	for i := 1; i <= messages; i++ {
		files = append(files, msgName(i)+".wav", msgName(i)+".json")
	}
	for _, f := range files {
		if err := os.WriteFile(filepath.Join(d, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(path string) bool { _, err := os.Stat(path); return err == nil }

// A removed person's box is archived or deleted as the site's policy
// says, the archive deleted once its date has passed; a box the program
// still has is never touched, whatever the retired list says.
func TestRetire(t *testing.T) {
	dir := t.TempDir()
	p := irtest.HarbourView()
	until := epoch.Add(30 * 24 * time.Hour)
	p.Retired = []ir.Retired{
		{Identity: "gone-archive", User: "tom", Data: "archive", ArchiveUntil: until, Owner: "mary"},
		{Identity: "gone-delete", User: "eve", Data: "delete"},
		{Identity: "mary", User: "mary", Data: "delete"}, // mary's box is live
	}
	writeBox(t, dir, "gone-archive", 2)
	writeBox(t, dir, "gone-delete", 1)
	writeBox(t, dir, "mary", 1)
	if inv, err := Count(dir, "gone-archive"); err != nil || inv != (Inventory{Messages: 2, Greeting: true, PIN: true}) {
		t.Errorf("Count = %+v, %v", inv, err)
	}
	s, err := Open(Config{Program: func() *ir.Program { return p }, Dir: dir, Clock: clocktest.New(epoch), Logger: discardLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	got := s.Retire(p, epoch)
	want := []Retired{{Identity: "gone-archive", Outcome: "archived"}, {Identity: "gone-delete", Outcome: "deleted"}}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b error) bool { return (a == nil) == (b == nil) })); diff != "" {
		t.Errorf("Retire (-want +got):\n%s", diff)
	}
	if exists(filepath.Join(dir, "gone-archive")) || !exists(filepath.Join(dir, archiveDir, "gone-archive", greetingFile)) {
		t.Errorf("the archived box is not under %s", archiveDir)
	}
	if exists(filepath.Join(dir, "gone-delete")) {
		t.Errorf("the deleted box is still there")
	}
	if !exists(filepath.Join(dir, "mary", pinFile)) {
		t.Errorf("a live box was touched")
	}
	// A newcomer's box (a new identity) starts empty.
	if inv, _ := Count(dir, "id-0123456789abcdef"); inv != (Inventory{}) {
		t.Errorf("a new identity's box holds %+v", inv)
	}
	// Nothing more until the archive's date; then it goes.
	if got := s.Retire(p, until.Add(-time.Second)); len(got) != 0 {
		t.Errorf("before the date: %+v", got)
	}
	got = s.Retire(p, until)
	if len(got) != 1 || got[0].Outcome != "archive deleted" || exists(filepath.Join(dir, archiveDir, "gone-archive")) {
		t.Errorf("at the date: %+v", got)
	}
}

// With the boxes kept in serve's store, the plan still counts what a
// removed person's box holds (the regression: Count said ErrKept and the
// plan listed no count): from the inventory the serving node keeps beside
// the store, which follows deposits, greetings, PINs, deletions and the
// box's archiving; without that inventory Count says it cannot tell.
func TestCountKept(t *testing.T) {
	e := newEnv(t, withStore(t))
	count := func(box string) Inventory {
		t.Helper()
		inv, err := Count(e.dir, box)
		if err != nil {
			t.Fatalf("Count(%s): %v", box, err)
		}
		return inv
	}
	if got := count("mary"); got != (Inventory{}) {
		t.Errorf("an empty box counts %+v", got)
	}
	e.addMessage("mary", FolderNew, epoch, 1, 440)
	m := e.addMessage("mary", FolderSaved, epoch.Add(time.Minute), 1, 697)
	if err := e.s.SetGreeting("mary", wavOf(t, audio.FormatULaw, 2), "app.mary"); err != nil {
		t.Fatal(err)
	}
	if err := e.s.SetPIN("mary", "4321", "app.mary"); err != nil {
		t.Fatal(err)
	}
	e.addMessage("john", FolderNew, epoch, 1, 440)
	want := Inventory{Messages: 2, Greeting: true, PIN: true}
	if diff := cmp.Diff(want, count("mary")); diff != "" {
		t.Errorf("mary's box (-want +got):\n%s", diff)
	}
	if err := e.s.Delete("mary", m.ID, "app.mary"); err != nil {
		t.Fatal(err)
	}
	want.Messages = 1
	if diff := cmp.Diff(want, count("mary")); diff != "" {
		t.Errorf("after a deletion (-want +got):\n%s", diff)
	}
	// A restart reads the same.
	e.reopen()
	if diff := cmp.Diff(want, count("mary")); diff != "" {
		t.Errorf("after a restart (-want +got):\n%s", diff)
	}
	// Archived, the box is nobody's: it counts nothing (a newcomer's
	// identity never had a box).
	p := *e.prog
	p.Retired = []ir.Retired{{Identity: "gone", User: "gone", Data: "archive", ArchiveUntil: epoch.Add(time.Hour)}}
	e.addMessage("gone", FolderNew, epoch, 1, 440)
	if got := count("gone"); got.Messages != 1 {
		t.Errorf("gone's box before it is archived counts %+v", got)
	}
	if res := e.s.Retire(&p, epoch); len(res) != 1 || res[0].Outcome != "archived" {
		t.Fatalf("Retire: %+v", res)
	}
	if got := count("gone"); got != (Inventory{}) {
		t.Errorf("an archived box still counts %+v", got)
	}
	if diff := cmp.Diff(Inventory{Messages: 1}, count("john")); diff != "" {
		t.Errorf("john's box (-want +got):\n%s", diff)
	}
	// It says who has messages and a PIN: no more readable than the
	// boxes' own files, whatever the mode of a directory made beforehand.
	if fi, err := os.Stat(filepath.Join(e.dir, inventoryFile)); err != nil {
		t.Fatal(err)
	} else if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		t.Errorf("the inventory's mode is %v: readable by anyone", perm)
	}
	// Without the inventory nothing is made up.
	if err := os.Remove(filepath.Join(e.dir, inventoryFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := Count(e.dir, "mary"); err != ErrKept {
		t.Errorf("without the inventory: %v, want ErrKept", err)
	}
}
