package irtest

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/txtar"
)

// UpdateGolden reports whether golden files should be rewritten
// (UPDATE_GOLDEN=1, the one update switch of the project).
func UpdateGolden() bool { return os.Getenv("UPDATE_GOLDEN") != "" }

// CheckGolden compares got with the sections of the txtar golden file at
// path, section by section, or rewrites the file under UPDATE_GOLDEN=1. The
// archive comment is kept on update. Sections are compared by name: a
// missing, extra or different section fails the test with a diff.
func CheckGolden(t testing.TB, path string, got []txtar.File) {
	t.Helper()
	if UpdateGolden() {
		var comment []byte
		if old, err := txtar.ParseFile(path); err == nil {
			comment = old.Comment
		}
		a := &txtar.Archive{Comment: comment, Files: got}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, txtar.Format(a), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := txtar.ParseFile(path)
	if err != nil {
		t.Fatalf("%v (run with UPDATE_GOLDEN=1 to create it)", err)
	}
	wantFiles := map[string][]byte{}
	var wantNames []string
	for _, f := range want.Files {
		wantFiles[f.Name] = f.Data
		wantNames = append(wantNames, f.Name)
	}
	var gotNames []string
	for _, f := range got {
		gotNames = append(gotNames, f.Name)
		w, ok := wantFiles[f.Name]
		if !ok {
			t.Errorf("%s: section %q is not in the golden file", path, f.Name)
			continue
		}
		if !bytes.Equal(w, f.Data) {
			t.Errorf("%s: section %q differs (-want +got):\n%s", path, f.Name, cmp.Diff(string(w), string(f.Data)))
		}
	}
	if d := cmp.Diff(wantNames, gotNames); d != "" {
		t.Errorf("%s: sections differ (-want +got):\n%s", path, d)
	}
	if t.Failed() {
		t.Logf("run with UPDATE_GOLDEN=1 to accept the new output")
	}
}
