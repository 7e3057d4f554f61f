package atomicfile

import (
	"bufio"
	"errors"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// entries lists dir's names, sorted.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestWriteReplacesWhole(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte("a much longer old content than the new one\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Write(path, []byte("new\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("new\n", string(got)); diff != "" {
		t.Errorf("content (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"state.json"}, entries(t, dir)); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
}

func TestFailedWriteKeepsOldAndCleansUp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "greeting.wav")
	if err := os.WriteFile(path, []byte("old greeting"), 0o640); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFrom(path, 0o640, func(w *os.File) error {
		w.Write([]byte("half of a new gree"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("WriteFrom = %v, want %v", err, boom)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("old greeting", string(got)); diff != "" {
		t.Errorf("content after a failed write (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"greeting.wav"}, entries(t, dir)); diff != "" {
		t.Errorf("directory after a failed write (-want +got):\n%s", diff)
	}
}

func TestWriteMissingDirectory(t *testing.T) {
	dir := t.TempDir()
	if err := Write(filepath.Join(dir, "no", "f"), []byte("x"), 0o644); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Write into a missing directory = %v, want fs.ErrNotExist", err)
	}
}

func TestCreate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "site.key")
	if err := Create(path, []byte("first"), 0o600); err != nil {
		t.Fatal(err)
	}
	err := Create(path, []byte("second"), 0o600)
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Create = %v, want fs.ErrExist", err)
	}
	var pe *fs.PathError
	if !errors.As(err, &pe) || pe.Path != path {
		t.Errorf("second Create's error %v does not name %s", err, path)
	}
	got, _ := os.ReadFile(path)
	if diff := cmp.Diff("first", string(got)); diff != "" {
		t.Errorf("content (-want +got):\n%s", diff)
	}
	// A dangling symbolic link is an existing name too, never followed.
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "elsewhere"), link); err != nil {
		t.Fatal(err)
	}
	if err := Create(link, []byte("x"), 0o600); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Create over a symbolic link = %v, want fs.ErrExist", err)
	}
	if diff := cmp.Diff([]string{"link", "site.key"}, entries(t, dir)); diff != "" {
		t.Errorf("directory (-want +got):\n%s", diff)
	}
}

func TestRenameAndRemove(t *testing.T) {
	dir := t.TempDir()
	from, to := filepath.Join(dir, ".rec-1.wav"), filepath.Join(dir, "msg-1.wav")
	if err := os.WriteFile(from, []byte("audio"), 0o640); err != nil {
		t.Fatal(err)
	}
	if err := Rename(from, to); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"msg-1.wav"}, entries(t, dir)); diff != "" {
		t.Errorf("after Rename (-want +got):\n%s", diff)
	}
	if err := Remove(to); err != nil {
		t.Fatal(err)
	}
	if err := Remove(to); err != nil {
		t.Errorf("removing a missing file: %v", err)
	}
	if diff := cmp.Diff([]string(nil), entries(t, dir)); diff != "" {
		t.Errorf("after Remove (-want +got):\n%s", diff)
	}
}

func TestUnchanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if err := Write(path, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		data string
		perm fs.FileMode
		want bool
	}{
		{"abc", 0o644, true},
		{"abd", 0o644, false},
		{"abc", 0o600, false},
		{"abcd", 0o644, false},
	}
	for _, tt := range tests {
		if got := Unchanged(path, []byte(tt.data), tt.perm); got != tt.want {
			t.Errorf("Unchanged(%q, %o) = %v, want %v", tt.data, tt.perm, got, tt.want)
		}
	}
}

func TestIsTemp(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "manifest.json")
	name, err := writeTemp(path, 0o644, func(w *os.File) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		want bool
	}{
		{filepath.Base(name), true},
		{".manifest.json.tmp123", true},
		{"manifest.json", false},
		{"notes.tmp", false},
		{".hidden", false},
	}
	for _, tt := range tests {
		if got := IsTemp(tt.name); got != tt.want {
			t.Errorf("IsTemp(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

// crashChild is set in the environment of the process TestKilledMidWrite
// starts: it writes half a file through WriteFrom, says so, and waits to be
// killed.
const crashChild = "ATOMICFILE_CRASH_CHILD"

func TestMain(m *testing.M) {
	if path := os.Getenv(crashChild); path != "" {
		err := WriteFrom(path, 0o644, func(w *os.File) error {
			w.Write([]byte("half of the new"))
			os.Stdout.WriteString("written\n")
			io.Copy(io.Discard, os.Stdin) // until killed
			return errors.New("not killed")
		})
		os.Stderr.WriteString(err.Error())
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// TestKilledMidWrite kills a process in the middle of a write: the file
// keeps its old content whole, and what the process left is recognised as
// a temporary file.
func TestKilledMidWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "state.json")
	if err := os.WriteFile(path, []byte("old state"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), crashChild+"="+path)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || line != "written\n" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("child said %q, %v", line, err)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff("old state", string(got)); diff != "" {
		t.Errorf("content after a killed write (-want +got):\n%s", diff)
	}
	names := entries(t, dir)
	if len(names) != 2 || names[1] != "state.json" || !IsTemp(names[0]) {
		t.Errorf("directory after a killed write = %q, want state.json and one temporary file", names)
	}
}
