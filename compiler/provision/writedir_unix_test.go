//go:build unix

package provision_test

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"switchboard/compiler/ir/irtest"
)

// TestWriteDirModes: new files get their exact mode whatever the umask (a
// public file is not left 0600, a secret one is never wider), and a
// symbolic link in the way is replaced, never written through.
func TestWriteDirModes(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)

	p := irtest.HarbourView()
	b, _ := render(t, p, key(t, 0))
	dir := t.TempDir()
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	secret := b.Files[0]
	if !secret.Secret() {
		t.Fatalf("%s is not secret", secret.Path)
	}
	if err := os.Symlink(outside, filepath.Join(dir, secret.Path)); err != nil {
		t.Fatal(err)
	}
	if err := b.WriteDir(dir); err != nil {
		t.Fatal(err)
	}
	for _, f := range b.Files {
		fi, err := os.Lstat(filepath.Join(dir, f.Path))
		if err != nil {
			t.Fatal(err)
		}
		if !fi.Mode().IsRegular() || fi.Mode().Perm() != f.Mode {
			t.Errorf("%s: mode %v, want a regular file with %v", f.Path, fi.Mode(), f.Mode)
		}
	}
	if data, _ := os.ReadFile(outside); string(data) != "keep" {
		t.Errorf("WriteDir wrote through a symbolic link: %q", data)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != len(b.Files) {
		t.Errorf("%d entries for %d files (temporary files left?)", len(entries), len(b.Files))
	}
}
