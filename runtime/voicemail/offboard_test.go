package voicemail

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
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
