package state

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"time"
)

// LockInfo is what a lock file says about its owner.
type LockInfo struct {
	ID        string    `json:"id"`
	Operation string    `json:"operation"` // "apply", "plan", …
	Who       string    `json:"who"`       // user@host
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Created   time.Time `json:"created"`
}

// String is "apply by alice@host (process 1234) since 2006-01-02 15:04:05 UTC".
func (i *LockInfo) String() string {
	return fmt.Sprintf("%s by %s (process %d) since %s", i.Operation, i.Who, i.PID, i.Created.UTC().Format("2006-01-02 15:04:05 MST"))
}

// LockedError is returned by Lock when another process holds the lock.
type LockedError struct {
	Path string
	Info LockInfo
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("the state is locked: %s (lock file %s, ID %s)", e.Info.String(), e.Path, e.Info.ID)
}

// ErrNotLocked is returned by ReadLock and ForceUnlock when no process
// holds the lock.
var ErrNotLocked = errors.New("the state is not locked")

// HeldError is returned by ForceUnlock: a running process holds the lock,
// and only its end releases it.
type HeldError struct {
	Info LockInfo
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s still runs and holds the lock; the kernel releases it when that process ends (also when it is killed), so stop the process instead", e.Info.String())
}

// Lock is a held lock: an open lock file with the kernel's exclusive lock
// on it, which the kernel drops when the process ends however it ends (a
// kill -9 included).
type Lock struct {
	f       *os.File
	release func() error
	Info    LockInfo
	// Broken is the owner record a process left in the lock file when it
	// ended without unlocking (an apply killed with -9): the kernel had
	// released its lock already. Nil when there was none.
	Broken *LockInfo
}

// Lock takes the lock for operation, without waiting: when another
// process holds it, it returns a *LockedError naming that process.
//
// The lock file exists while the lock is held, or when its process ended
// without unlocking; its content is the owner record of the process
// holding it, written after the lock is taken. It is written in place, not
// through atomicfile: a rename would put a new, unlocked file under the
// lock's name.
func (s *Store) Lock(operation string) (*Lock, error) {
	info := newLockInfo(operation)
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	path := s.LockPath()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("locking the state: %w", err)
	}
	f, release, held, err := lockPath(path)
	if err != nil {
		return nil, fmt.Errorf("locking the state: %w", err)
	}
	if held {
		owner, err := readRecord(path)
		if err != nil {
			return nil, fmt.Errorf("locking the state: %w", err)
		}
		if owner == nil {
			// Taken a moment ago, its record not yet written.
			owner = unknownOwner()
		}
		return nil, &LockedError{Path: path, Info: *owner}
	}
	l := &Lock{f: f, release: release, Info: info}
	old, err := io.ReadAll(f)
	if err == nil {
		l.Broken = parseRecord(old)
		err = writeRecord(f, append(data, '\n'))
	}
	if err != nil {
		release()
		return nil, fmt.Errorf("locking the state: %w", err)
	}
	return l, nil
}

// Unlock removes the lock file and releases the lock. It is safe to call
// more than once.
func (l *Lock) Unlock() error {
	if l.f == nil {
		return nil
	}
	// Cleared first: where the file cannot be removed while open, an empty
	// one is left, which names nobody.
	err := writeRecord(l.f, nil)
	if err == nil {
		if rerr := os.Remove(l.f.Name()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) && !removeMayFail {
			err = rerr
		}
	}
	if rerr := l.release(); err == nil {
		err = rerr
	}
	l.f = nil
	if err != nil {
		return fmt.Errorf("unlocking the state: %w", err)
	}
	return nil
}

// ReadLock returns the owner of the lock when a process holds it, or
// ErrNotLocked. An owner record left by a process that ended without
// unlocking is not a lock.
func (s *Store) ReadLock() (*LockInfo, error) {
	path := s.LockPath()
	if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotLocked // and looking does not create it
	}
	_, release, held, err := tryLock(path)
	if err != nil {
		return nil, err
	}
	if !held {
		// Nobody holds it: we took it for a moment to find out. (The file
		// stays: it may hold the record of a process that was killed,
		// for the next Lock to report.)
		release()
		return nil, ErrNotLocked
	}
	owner, err := readRecord(path)
	if err != nil {
		return nil, err
	}
	if owner == nil {
		owner = unknownOwner()
	}
	return owner, nil
}

// ForceUnlock is what an operator runs when a lock seems stuck. A lock held
// by the kernel cannot be taken from a running process, and a process that
// ended has released it already, so ForceUnlock never breaks a lock: it
// returns ErrNotLocked when nothing holds it (clearing a record a dead
// process left behind), an error naming the lock's ID when id is another
// one (the operator looked at an older lock), and otherwise a *HeldError
// that says which process to stop.
func (s *Store) ForceUnlock(id string) (*LockInfo, error) {
	held, err := s.ReadLock()
	if errors.Is(err, ErrNotLocked) {
		// Take it, to clear what a dead owner left; then let go.
		if l, lerr := s.Lock("force-unlock"); lerr == nil {
			l.Unlock()
		}
		return nil, ErrNotLocked
	}
	if err != nil {
		return nil, err
	}
	if held.ID != id {
		return held, fmt.Errorf("the lock's ID is %s, not %s: %s", held.ID, id, held.String())
	}
	return held, &HeldError{Info: *held}
}

// lockPath takes the lock of path (see tryLock), making sure that the file
// locked is still the one at path: a holder's Unlock removes the file while
// holding its lock, and a process that opened it just before would
// otherwise lock a file no longer there.
func lockPath(path string) (f *os.File, release func() error, held bool, err error) {
	for {
		f, release, held, err = tryLock(path)
		if err != nil || held {
			return f, release, held, err
		}
		fi, ferr := f.Stat()
		pi, perr := os.Stat(path)
		if ferr == nil && perr == nil && os.SameFile(fi, pi) {
			return f, release, false, nil
		}
		release()
		if ferr != nil {
			return nil, nil, false, ferr
		}
		if perr != nil && !errors.Is(perr, fs.ErrNotExist) {
			return nil, nil, false, perr
		}
	}
}

// writeRecord replaces the lock file's content with data, synced so that
// a crash leaves a record naming the owner.
func writeRecord(f *os.File, data []byte) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	if _, err := f.WriteAt(data, 0); err != nil {
		return err
	}
	return f.Sync()
}

// readRecord reads the owner record at path: nil when there is none.
func readRecord(path string) (*LockInfo, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseRecord(data), nil
}

// parseRecord parses an owner record; nil for an empty one. A record cut
// short (a crash while it was written) names an unknown owner.
func parseRecord(data []byte) *LockInfo {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil
	}
	var info LockInfo
	if err := json.Unmarshal(data, &info); err != nil || info.ID == "" {
		return unknownOwner()
	}
	return &info
}

func unknownOwner() *LockInfo {
	return &LockInfo{ID: "unknown", Operation: "unknown operation", Who: "unknown"}
}

func newLockInfo(operation string) LockInfo {
	b := make([]byte, 8)
	rand.Read(b)
	host, _ := os.Hostname()
	name := "unknown"
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return LockInfo{
		ID:        hex.EncodeToString(b),
		Operation: operation,
		Who:       name + "@" + host,
		Host:      host,
		PID:       os.Getpid(),
		Created:   time.Now().UTC().Truncate(time.Second),
	}
}
