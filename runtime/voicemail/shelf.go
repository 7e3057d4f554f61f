package voicemail

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// shelf is where a service keeps what is committed in its boxes: the box
// files of the layout in doc.go (msg-N.json and msg-N.wav, greeting.wav,
// pin.json, an archive's owner-mail.json), by box and file name. A box is
// a box name, or archiveDir/<name> for an archived one. Two shelves: the
// directories under Config.Dir (dirShelf, the simulator's and the tests'),
// and a store (keptShelf: serve's JetStream).
//
// A recording in progress is never on a shelf: it is a local file under
// Config.Dir either way (record.go), synced as it grows, and take moves it
// onto the shelf when it is finished. The box logic (store.go) relies on
// one rule of every shelf: a message exists when its audio does, so its
// metadata is written before its audio, and its audio removed before its
// metadata. On a shelf other nodes write, where a node may hear of the
// two in either order, the metadata says so too (Message.State): pending
// until the audio is in, deleting before the audio goes.
type shelf interface {
	// boxes lists the (live, not archived) boxes that hold anything.
	boxes() ([]string, error)
	// names lists the files of box, sorted; none for a box never written.
	names(box string) ([]string, error)
	// read returns a file; an error matching fs.ErrNotExist when there is
	// none.
	read(box, name string) ([]byte, error)
	// latest returns a file as the shelf holds it now: on a shelf other
	// nodes write, not what this node has heard of (read) but the
	// store's latest. For the small files (not audio).
	latest(box, name string) ([]byte, error)
	// write replaces a file whole; it is durable when write returns.
	write(box, name string, data []byte) error
	// create writes a file only when there is none, and reports whether
	// it did: of the nodes of a cluster creating one file, exactly one is
	// told so, and none overwrites the file of another (a message's
	// metadata: the claim of its number, made before its audio is
	// written). A shelf with one writer checks, then writes; its callers
	// hold the box's lock.
	create(box, name string, data []byte) (bool, error)
	// rewrite replaces a file with what edit makes of it (old, ok false
	// when there is none); edit returns nil to leave it. On a shelf other
	// nodes write, edit works on the latest file and the write is refused
	// (edit runs again) when another node wrote it in between; found is
	// false when another node removed it. Its callers hold the box's lock.
	rewrite(box, name string, edit func(old []byte, ok bool) ([]byte, error)) (found bool, err error)
	// sweep removes a file a crash left half-done (a message's metadata
	// without audio); on a shelf that other nodes write, only once it has
	// been there longer than one of their deposits can take between its
	// metadata and its audio, and only as it was read.
	sweep(box, name string) error
	// take makes the local file at path (written and synced by its
	// writer) the file box/name, and releases path.
	take(box, name, path string) error
	// release removes a local file of a recording taken: at once, or
	// once the shelf no longer needs it to recover from (keptShelf).
	release(path string)
	// remove removes a file (nothing when there is none).
	remove(box, name string) error
	// claim says whether this service may write a file there is none of
	// yet, and keeps the others from it: of the nodes of a cluster
	// claiming one file, exactly one is told so, and the file holds data
	// until ttl has passed or it is written or removed (keptShelf of a
	// shared store). A shelf with one writer (a directory, a store of one
	// node) writes nothing: the service's own marks suffice, and a claim
	// left by a kill would stop the next start from doing the work.
	claim(box, name string, data []byte, ttl time.Duration) (bool, error)
	// has reports whether box holds anything.
	has(box string) (bool, error)
	// removeBox removes box and everything in it.
	removeBox(box string) error
	// moveBox moves everything of from to to, which holds nothing.
	moveBox(from, to string) error
	// sync makes removals in box durable, best effort.
	sync(box string)
	// where names box for an operator reading a log.
	where(box string) string
}

// dirShelf keeps the boxes as directories under root, in fs (nil: the
// disk).
type dirShelf struct {
	root string
	fs   files
}

func (d dirShelf) files() files { return orDisk(d.fs) }

func (d dirShelf) path(box string) string { return filepath.Join(d.root, filepath.FromSlash(box)) }

func (d dirShelf) boxes() ([]string, error) {
	entries, err := d.files().readDir(d.root)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() && validBoxName(e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

func (d dirShelf) names(box string) ([]string, error) {
	entries, err := d.files().readDir(d.path(box))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("voicemail: %w", err)
	}
	out := make([]string, 0, len(entries))
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out, nil
}

func (d dirShelf) read(box, name string) ([]byte, error) {
	return d.files().readFile(filepath.Join(d.path(box), name))
}

func (d dirShelf) latest(box, name string) ([]byte, error) { return d.read(box, name) }

// write replaces the file through atomicfile. The mode is the owner's
// alone, but for recordings: metadata names callers, and the PIN file
// holds a PIN's hash.
func (d dirShelf) write(box, name string, data []byte) error {
	dir := d.path(box)
	if err := d.files().mkdirAll(dir); err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	mode := os.FileMode(0o600)
	if strings.HasSuffix(name, ".wav") {
		mode = recordingMode
	}
	if err := d.files().writeFile(filepath.Join(dir, name), data, mode); err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	return nil
}

// create: the service, the directory's one writer, holds the box's lock.
func (d dirShelf) create(box, name string, data []byte) (bool, error) {
	if _, err := d.files().lstat(filepath.Join(d.path(box), name)); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, d.write(box, name, data)
}

// rewrite: the service, the directory's one writer, holds the box's lock.
func (d dirShelf) rewrite(box, name string, edit func(old []byte, ok bool) ([]byte, error)) (bool, error) {
	old, err := d.read(box, name)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return true, err
	}
	data, err := edit(old, err == nil)
	if err != nil || data == nil {
		return true, err
	}
	return true, d.write(box, name, data)
}

// sweep: a directory has one writer, the service, which sweeps at Open,
// before it writes anything.
func (d dirShelf) sweep(box, name string) error { return d.remove(box, name) }

// take renames the file into place: the rename is the commit.
func (d dirShelf) take(box, name, path string) error {
	if err := d.files().renameSynced(path, filepath.Join(d.path(box), name)); err != nil {
		return fmt.Errorf("voicemail: %w", err)
	}
	return nil
}

func (d dirShelf) release(path string) { d.files().remove(path) }

func (d dirShelf) remove(box, name string) error {
	if err := d.files().remove(filepath.Join(d.path(box), name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("voicemail: %w", err)
	}
	return nil
}

// claim: a directory has one writer, the service, whose own marks keep
// it from claiming a file twice at once; so nothing is written (a claim
// left by a kill would stop the next start from doing the work).
func (d dirShelf) claim(box, name string, _ []byte, _ time.Duration) (bool, error) {
	_, err := d.files().stat(filepath.Join(d.path(box), name))
	if err == nil {
		return false, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return false, err
	}
	return true, nil
}

func (d dirShelf) has(box string) (bool, error) {
	_, err := d.files().stat(d.path(box))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (d dirShelf) removeBox(box string) error { return d.files().removeAll(d.path(box)) }

func (d dirShelf) moveBox(from, to string) error {
	if err := d.files().mkdirAll(filepath.Dir(d.path(to))); err != nil {
		return err
	}
	return d.files().rename(d.path(from), d.path(to))
}

// sync makes removals in the box's directory durable. Best effort: the
// files are consistent without it, and a removal that did not reach the
// disk is redone by the next recovery.
func (d dirShelf) sync(box string) { d.files().syncDir(d.path(box)) }

func (d dirShelf) where(box string) string { return d.path(box) }

// sortedNames sorts a box's names so that metadata comes before audio:
// the order a box is copied in (the audio is a message's commit).
func sortedNames(names []string) []string {
	out := slices.Clone(names)
	slices.SortFunc(out, func(a, b string) int {
		aw, bw := strings.HasSuffix(a, ".wav"), strings.HasSuffix(b, ".wav")
		if aw != bw {
			if aw {
				return 1
			}
			return -1
		}
		return strings.Compare(a, b)
	})
	return out
}
