//go:build unix

package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The mode asked for is the file's, whatever the umask and the mode of the
// file it replaces (Unix: elsewhere modes mean less).
func TestWritePermissions(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	tests := []struct {
		name string
		perm fs.FileMode
	}{
		{"secret", 0o600},
		{"public", 0o644},
		{"group", 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "f")
			// An existing file with another mode: the new one has perm.
			if err := os.WriteFile(path, []byte("old"), 0o666); err != nil {
				t.Fatal(err)
			}
			if err := Write(path, []byte("x"), tt.perm); err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.perm, fi.Mode().Perm()); diff != "" {
				t.Errorf("mode (-want +got):\n%s", diff)
			}
			created := filepath.Join(dir, "created")
			if err := Create(created, []byte("x"), tt.perm); err != nil {
				t.Fatal(err)
			}
			fi, err = os.Stat(created)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.perm, fi.Mode().Perm()); diff != "" {
				t.Errorf("Create mode (-want +got):\n%s", diff)
			}
		})
	}
}
