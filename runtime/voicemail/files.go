package voicemail

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"switchboard/atomicfile"
)

// files is where a service's files under Config.Dir are: the boxes of a
// directory shelf (dirShelf) and the recordings in progress (record.go),
// with either shelf. Two: the disk (diskFiles: serve's and the tests',
// durable: atomic writes, fsync), and the process's memory
// (MemoryFiles: the simulator's, whose messages are read back once and
// dropped with the run; creating, syncing and renaming files cost an
// in-memory suite of thousands of deposits over a second of CPU).
type files interface {
	mkdirAll(dir string) error
	// writeFile replaces path whole, atomically, durably when it returns
	// (atomicfile.Write); the directory must exist.
	writeFile(path string, data []byte, mode fs.FileMode) error
	readFile(path string) ([]byte, error)
	// readDir lists dir sorted by name, as os.ReadDir.
	readDir(dir string) ([]fs.DirEntry, error)
	stat(path string) (fs.FileInfo, error)
	lstat(path string) (fs.FileInfo, error)
	// create makes a new file (an error matching fs.ErrExist when there
	// is one), for writing and seeking.
	create(path string, mode fs.FileMode) (file, error)
	// createTemp makes a new file in dir named by pattern, as
	// os.CreateTemp.
	createTemp(dir, pattern string) (file, error)
	remove(path string) error
	removeAll(path string) error
	rename(from, to string) error
	// renameSynced renames and syncs the directories (atomicfile.Rename):
	// a commit.
	renameSynced(from, to string) error
	// syncDir makes dir's creations, renames and removals durable, best
	// effort.
	syncDir(dir string)
}

// file is a recording's file.
type file interface {
	io.WriteSeeker
	Sync() error
	Close() error
	Name() string
}

// files is where the service's files are; a Service made without Open
// (in tests) has them on disk.
func (s *Service) files() files { return orDisk(s.fs) }

// files is where the box's directory is; on disk for a box made without
// its service's (in tests).
func (b *box) files() files { return orDisk(b.fs) }

func orDisk(f files) files {
	if f == nil {
		return diskFiles{}
	}
	return f
}

// diskFiles are the files on disk.
type diskFiles struct{}

func (diskFiles) mkdirAll(dir string) error { return os.MkdirAll(dir, 0o750) }
func (diskFiles) writeFile(path string, data []byte, mode fs.FileMode) error {
	return atomicfile.Write(path, data, mode)
}
func (diskFiles) readFile(path string) ([]byte, error)         { return os.ReadFile(path) }
func (diskFiles) readDir(dir string) ([]fs.DirEntry, error)    { return os.ReadDir(dir) }
func (diskFiles) stat(path string) (fs.FileInfo, error)        { return os.Stat(path) }
func (diskFiles) lstat(path string) (fs.FileInfo, error)       { return os.Lstat(path) }
func (diskFiles) createTemp(dir, pattern string) (file, error) { return os.CreateTemp(dir, pattern) }
func (diskFiles) remove(path string) error                     { return os.Remove(path) }
func (diskFiles) removeAll(path string) error                  { return os.RemoveAll(path) }
func (diskFiles) rename(from, to string) error                 { return os.Rename(from, to) }
func (diskFiles) renameSynced(from, to string) error           { return atomicfile.Rename(from, to) }
func (diskFiles) syncDir(dir string)                           { atomicfile.SyncDir(dir) }
func (diskFiles) create(path string, mode fs.FileMode) (file, error) {
	return os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, mode)
}

// MemoryFiles keeps a service's files in the process's memory instead of
// on disk (Store.Memory): the layout, the order of writes and what each
// operation does are the disk's, but nothing outlives the process and
// nothing is synced, as nothing could be recovered. For a run whose
// messages need not be kept: the simulator's.
type MemoryFiles struct {
	mu   sync.Mutex
	root *memNode // "/" (or a volume's root), made on first use
	temp int      // createTemp's last number
}

// memNode is a file (data) or a directory (kids, by name).
type memNode struct {
	kids map[string]*memNode
	mode fs.FileMode
	data []byte
}

func (n *memNode) isDir() bool { return n.kids != nil }

func (n *memNode) info(name string) memInfo {
	return memInfo{name: name, mode: n.mode, size: int64(len(n.data))}
}

// NewMemoryFiles returns an empty file system in memory.
func NewMemoryFiles() *MemoryFiles {
	return &MemoryFiles{root: &memNode{kids: map[string]*memNode{}, mode: fs.ModeDir | 0o750}}
}

// ReadFile returns a copy of the file at path: what the simulator reads
// back, as it would read a message on disk.
func (m *MemoryFiles) ReadFile(path string) ([]byte, error) { return m.readFile(path) }

func memErr(op, path string, err error) error { return &fs.PathError{Op: op, Path: path, Err: err} }

// elems splits a path into its names under the root.
func elems(path string) []string {
	path = filepath.ToSlash(filepath.Clean(path))
	path = strings.TrimPrefix(path, filepath.ToSlash(filepath.VolumeName(path)))
	var out []string
	for e := range strings.SplitSeq(path, "/") {
		if e != "" {
			out = append(out, e)
		}
	}
	return out
}

// lookup returns the node at path, and the directory holding it; nil
// for either that is not there. m.mu is held.
func (m *MemoryFiles) lookup(path string) (parent *memNode, name string, n *memNode) {
	es := elems(path)
	if len(es) == 0 {
		return nil, "", m.root
	}
	dir := m.root
	for _, e := range es[:len(es)-1] {
		if dir = dir.kids[e]; dir == nil || !dir.isDir() {
			return nil, "", nil
		}
	}
	name = es[len(es)-1]
	return dir, name, dir.kids[name]
}

func (m *MemoryFiles) mkdirAll(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := m.root
	for _, e := range elems(dir) {
		k := n.kids[e]
		if k == nil {
			k = &memNode{kids: map[string]*memNode{}, mode: fs.ModeDir | 0o750}
			n.kids[e] = k
		} else if !k.isDir() {
			return memErr("mkdir", dir, syscall.ENOTDIR)
		}
		n = k
	}
	return nil
}

func (m *MemoryFiles) writeFile(path string, data []byte, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, name, n := m.lookup(path)
	switch {
	case dir == nil:
		return memErr("open", path, fs.ErrNotExist)
	case n != nil && n.isDir():
		return memErr("rename", path, syscall.EISDIR)
	}
	dir.kids[name] = &memNode{mode: mode, data: slices.Clone(data)}
	return nil
}

func (m *MemoryFiles) readFile(path string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, n := m.lookup(path)
	switch {
	case n == nil:
		return nil, memErr("open", path, fs.ErrNotExist)
	case n.isDir():
		return nil, memErr("read", path, syscall.EISDIR)
	}
	return slices.Clone(n.data), nil
}

func (m *MemoryFiles) readDir(dir string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, _, d := m.lookup(dir)
	switch {
	case d == nil:
		return nil, memErr("open", dir, fs.ErrNotExist)
	case !d.isDir():
		return nil, memErr("readdirent", dir, syscall.ENOTDIR)
	}
	out := make([]fs.DirEntry, 0, len(d.kids))
	for name, n := range d.kids {
		out = append(out, n.info(name))
	}
	slices.SortFunc(out, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return out, nil
}

func (m *MemoryFiles) stat(path string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, name, n := m.lookup(path)
	if n == nil {
		return nil, memErr("stat", path, fs.ErrNotExist)
	}
	return n.info(name), nil
}

// lstat: there are no links in memory.
func (m *MemoryFiles) lstat(path string) (fs.FileInfo, error) { return m.stat(path) }

func (m *MemoryFiles) create(path string, mode fs.FileMode) (file, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.createLocked(path, mode)
}

func (m *MemoryFiles) createLocked(path string, mode fs.FileMode) (file, error) {
	dir, name, n := m.lookup(path)
	switch {
	case dir == nil:
		return nil, memErr("open", path, fs.ErrNotExist)
	case n != nil:
		return nil, memErr("open", path, fs.ErrExist)
	}
	n = &memNode{mode: mode}
	dir.kids[name] = n
	return &memFile{m: m, n: n, name: path}, nil
}

func (m *MemoryFiles) createTemp(dir, pattern string) (file, error) {
	prefix, suffix, _ := strings.Cut(pattern, "*")
	m.mu.Lock()
	defer m.mu.Unlock()
	for {
		m.temp++
		f, err := m.createLocked(filepath.Join(dir, fmt.Sprintf("%s%d%s", prefix, m.temp, suffix)), 0o600)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
}

func (m *MemoryFiles) remove(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	dir, name, n := m.lookup(path)
	switch {
	case n == nil || dir == nil:
		return memErr("remove", path, fs.ErrNotExist)
	case n.isDir() && len(n.kids) > 0:
		return memErr("remove", path, syscall.ENOTEMPTY)
	}
	delete(dir.kids, name)
	return nil
}

func (m *MemoryFiles) removeAll(path string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if dir, name, n := m.lookup(path); dir != nil && n != nil {
		delete(dir.kids, name)
	}
	return nil
}

// rename moves a file over another file, or a directory (with everything
// under it) to a name that is not a non-empty directory, as rename(2).
func (m *MemoryFiles) rename(from, to string) error {
	fail := func(err error) error { return &os.LinkError{Op: "rename", Old: from, New: to, Err: err} }
	m.mu.Lock()
	defer m.mu.Unlock()
	fdir, fname, n := m.lookup(from)
	tdir, tname, old := m.lookup(to)
	switch {
	case n == nil || fdir == nil || tdir == nil:
		return fail(fs.ErrNotExist)
	case n == old:
		return nil
	case old != nil && old.isDir() != n.isDir():
		if old.isDir() {
			return fail(syscall.EISDIR)
		}
		return fail(syscall.ENOTDIR)
	case old != nil && old.isDir() && len(old.kids) > 0:
		return fail(syscall.ENOTEMPTY)
	case n.isDir() && slices.Equal(elems(from), elems(to)[:min(len(elems(to)), len(elems(from)))]):
		return fail(syscall.EINVAL) // into itself
	}
	delete(fdir.kids, fname)
	tdir.kids[tname] = n
	return nil
}

func (m *MemoryFiles) renameSynced(from, to string) error { return m.rename(from, to) }
func (m *MemoryFiles) syncDir(string)                     {}

// memFile is an open file in memory: what it writes is the file's at once,
// as a file's writes are visible to readers before any sync.
type memFile struct {
	m      *MemoryFiles
	n      *memNode
	name   string
	pos    int64
	closed bool
}

func (f *memFile) Name() string { return f.name }

func (f *memFile) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return 0, memErr("write", f.name, fs.ErrClosed)
	}
	if end := f.pos + int64(len(p)); end > int64(len(f.n.data)) {
		f.n.data = append(f.n.data, make([]byte, end-int64(len(f.n.data)))...)
	}
	copy(f.n.data[f.pos:], p)
	f.pos += int64(len(p))
	return len(p), nil
}

func (f *memFile) Seek(off int64, whence int) (int64, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return 0, memErr("seek", f.name, fs.ErrClosed)
	}
	pos := off
	switch whence {
	case io.SeekCurrent:
		pos += f.pos
	case io.SeekEnd:
		pos += int64(len(f.n.data))
	}
	if pos < 0 {
		return 0, memErr("seek", f.name, errors.New("invalid argument"))
	}
	f.pos = pos
	return pos, nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return memErr("sync", f.name, fs.ErrClosed)
	}
	return nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return memErr("close", f.name, fs.ErrClosed)
	}
	f.closed = true
	return nil
}

// memInfo is a file's or directory's entry and information.
type memInfo struct {
	name string
	mode fs.FileMode
	size int64
}

func (i memInfo) Name() string               { return i.name }
func (i memInfo) Size() int64                { return i.size }
func (i memInfo) Mode() fs.FileMode          { return i.mode }
func (i memInfo) ModTime() time.Time         { return time.Time{} }
func (i memInfo) IsDir() bool                { return i.mode.IsDir() }
func (i memInfo) Sys() any                   { return nil }
func (i memInfo) Type() fs.FileMode          { return i.mode.Type() }
func (i memInfo) Info() (fs.FileInfo, error) { return i, nil }
