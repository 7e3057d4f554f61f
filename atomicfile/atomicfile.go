// Package atomicfile is the one way switchboard makes a file durable: the
// state, the lock files, build output and provisioning bundles, manifests,
// voicemail metadata, greetings and PINs, init's files and fmt's rewrites.
//
// Every write goes to a temporary file in the target's own directory (so the
// rename cannot cross a file system), is synced, is given its mode, is
// renamed (or, for Create, hard-linked) into place, and then the directory
// is synced so that the rename itself survives a power cut. A reader sees
// the old content or the new, never a mix, and a write that fails leaves the
// old file as it was and no temporary file behind.
//
// The package imports only the standard library so that every layer (lang,
// compiler, runtime, cmd) may use it.
package atomicfile

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// tempInfix marks a temporary file: ".<name>.tmp<random>". IsTemp
// recognises it so that recovery code can remove leftovers of a crash.
const tempInfix = ".tmp"

// Write replaces path with data, readable as perm (exactly: the umask does
// not narrow it). The directory must exist.
func Write(path string, data []byte, perm fs.FileMode) error {
	return WriteFrom(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}

// WriteFrom replaces path with what write writes to f, a temporary file
// beside path (write may seek in it, but not close it), readable as perm.
// When write fails, path is left as it was. An error syncing the directory
// is returned although path was replaced: the replacement may not survive
// a power cut.
func WriteFrom(path string, perm fs.FileMode, write func(f *os.File) error) error {
	name, err := writeTemp(path, perm, write)
	if err != nil {
		return err
	}
	if err := os.Rename(name, path); err != nil {
		os.Remove(name)
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// Create writes a new file at path with data, readable as perm. It fails
// with an error matching fs.ErrExist when path exists (as anything,
// including a symbolic link, which it never follows). The file appears
// whole or not at all: it is written aside and hard-linked into place.
func Create(path string, data []byte, perm fs.FileMode) error {
	name, err := writeTemp(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
	if err != nil {
		return err
	}
	defer os.Remove(name)
	if err := os.Link(name, path); err != nil {
		var le *os.LinkError
		if errors.As(err, &le) {
			// Report the target, not the temporary name.
			return &fs.PathError{Op: "create", Path: path, Err: le.Err}
		}
		return err
	}
	if err := os.Remove(name); err != nil {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// Rename moves oldpath to newpath (in the same directory or file system)
// and syncs newpath's directory, and oldpath's if it differs, so that the
// move is durable. It is for files written in place and synced by their
// writer, such as a streamed recording.
func Rename(oldpath, newpath string) error {
	if err := os.Rename(oldpath, newpath); err != nil {
		return err
	}
	from, to := filepath.Dir(oldpath), filepath.Dir(newpath)
	if from != to {
		if err := SyncDir(from); err != nil {
			return err
		}
	}
	return SyncDir(to)
}

// Remove removes path and syncs its directory. A missing file is not an
// error.
func Remove(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return SyncDir(filepath.Dir(path))
}

// SyncDir makes the creations, renames and removals in dir durable. File
// systems that cannot sync a directory (EINVAL, or unsupported) are not an
// error: the operations have happened either way.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, errors.ErrUnsupported) && !errors.Is(err, syscall.EINVAL) {
		return fmt.Errorf("syncing %s: %w", dir, err)
	}
	return nil
}

// Unchanged reports whether path is a regular file with mode perm and
// content data: a writer may then leave it alone and keep its timestamps.
func Unchanged(path string, data []byte, perm fs.FileMode) bool {
	fi, err := os.Lstat(path)
	if err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm() != perm || fi.Size() != int64(len(data)) {
		return false
	}
	old, err := os.ReadFile(path)
	return err == nil && bytes.Equal(old, data)
}

// IsTemp reports whether a directory entry's name is one of this package's
// temporary files, left behind by a process that died mid-write.
func IsTemp(name string) bool {
	return strings.HasPrefix(name, ".") && strings.Contains(name[1:], tempInfix)
}

// writeTemp writes a synced temporary file beside path with mode perm and
// returns its name. On error nothing is left behind.
func writeTemp(path string, perm fs.FileMode, write func(*os.File) error) (string, error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+tempInfix+"*")
	if err != nil {
		return "", err
	}
	name := tmp.Name()
	err = write(tmp)
	if err == nil {
		// CreateTemp made it 0600 and the umask never widens; set the mode
		// exactly, before the content becomes visible under path.
		err = tmp.Chmod(perm)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(name)
		return "", err
	}
	return name, nil
}
