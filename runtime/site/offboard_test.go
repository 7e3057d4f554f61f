package site

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"switchboard/compiler/ir"
)

// The boxes of people applies removed are archived or deleted as the
// program says when the site starts, and again at every reload: a
// removal applied while serve runs takes effect at apply's reload.
func TestRetireAtStartAndReload(t *testing.T) {
	data := t.TempDir()
	vm := filepath.Join(data, "voicemail")
	for _, box := range []string{"tom-old", "eve"} {
		if err := os.MkdirAll(filepath.Join(vm, box), 0o750); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(vm, box, "msg-000001.wav"), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	a := swapConfig(t, "a", "alice", "password-a")
	a.Program.Retired = []ir.Retired{{Identity: "tom-old", User: "tom", Data: "delete"}}
	s, err := New(a, Options{Logger: quiet, DataDir: data})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := os.Stat(filepath.Join(vm, "tom-old")); !os.IsNotExist(err) {
		t.Errorf("at start: tom's box is still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(vm, "eve", "msg-000001.wav")); err != nil {
		t.Errorf("at start: eve's box was touched: %v", err)
	}

	b := swapConfig(t, "b", "alice", "password-a")
	b.Program.Retired = append(a.Program.Retired, ir.Retired{Identity: "eve", User: "eve", Data: "archive", ArchiveUntil: time.Now().Add(24 * time.Hour)})
	if err := s.Swap(b); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(vm, "eve")); !os.IsNotExist(err) {
		t.Errorf("after the reload: eve's box is still live (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(vm, ".archive", "eve", "msg-000001.wav")); err != nil {
		t.Errorf("after the reload: eve's message is not in the archive: %v", err)
	}
}
