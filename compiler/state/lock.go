package state

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"syscall"
	"time"

	"switchboard/atomicfile"
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

// LockedError is returned by Lock when someone else holds the lock.
type LockedError struct {
	Path string
	Info LockInfo
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("the state is locked: %s (lock file %s, ID %s)", e.Info.String(), e.Path, e.Info.ID)
}

// ErrNotLocked is returned by ForceUnlock when there is no lock.
var ErrNotLocked = errors.New("the state is not locked")

// Lock is a held lock.
type Lock struct {
	store *Store
	Info  LockInfo
	// Broken is the stale lock this one replaced: its owner process on
	// this host no longer ran. Nil when there was none.
	Broken *LockInfo
}

// Lock takes the lock for operation. When another live process holds it,
// it returns a *LockedError. A lock left by a process of this host that no
// longer runs (an apply killed with -9) is broken and reported in
// Lock.Broken.
func (s *Store) Lock(operation string) (*Lock, error) {
	info := newLockInfo(operation)
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(s.LockPath()), 0o755); err != nil {
		return nil, fmt.Errorf("locking the state: %w", err)
	}
	var broken *LockInfo
	for attempt := 0; ; attempt++ {
		err := createExclusive(s.LockPath(), append(data, '\n'))
		if err == nil {
			return &Lock{store: s, Info: info, Broken: broken}, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("locking the state: %w", err)
		}
		held, rerr := s.ReadLock()
		if rerr != nil {
			if errors.Is(rerr, ErrNotLocked) && attempt < 3 {
				continue // released between our create and read
			}
			return nil, fmt.Errorf("locking the state: %w", rerr)
		}
		if attempt < 3 && held.stale() {
			if err := s.removeLock(held.ID); err != nil && !errors.Is(err, ErrNotLocked) {
				return nil, err
			}
			broken = held
			continue
		}
		return nil, &LockedError{Path: s.LockPath(), Info: *held}
	}
}

// Unlock releases the lock, if it is still ours.
func (l *Lock) Unlock() error {
	err := l.store.removeLock(l.Info.ID)
	if errors.Is(err, ErrNotLocked) {
		return nil
	}
	return err
}

// ReadLock returns the current lock's owner, or ErrNotLocked.
func (s *Store) ReadLock() (*LockInfo, error) {
	data, err := os.ReadFile(s.LockPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNotLocked
	}
	if err != nil {
		return nil, err
	}
	var info LockInfo
	if err := json.Unmarshal(data, &info); err != nil || info.ID == "" {
		// A lock file cut short by a crash while being written: still a
		// lock, of unknown owner.
		return &LockInfo{ID: "unknown", Operation: "unknown operation", Who: "unknown"}, nil
	}
	return &info, nil
}

// ForceUnlock removes the lock whose ID is id. It refuses another ID, so an
// operator never removes a lock taken after they looked.
func (s *Store) ForceUnlock(id string) (*LockInfo, error) {
	held, err := s.ReadLock()
	if err != nil {
		return nil, err
	}
	if held.ID != id {
		return held, fmt.Errorf("the lock's ID is %s, not %s: %s", held.ID, id, held.String())
	}
	return held, s.removeLock(id)
}

// removeLock removes the lock file if it still holds the lock id.
func (s *Store) removeLock(id string) error {
	held, err := s.ReadLock()
	if err != nil {
		return err
	}
	if held.ID != id {
		return ErrNotLocked
	}
	if err := os.Remove(s.LockPath()); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("unlocking the state: %w", err)
	}
	return nil
}

// createExclusive creates path with data, failing if it exists. The file
// is never seen empty or half-written (atomicfile.Create links a complete
// file into place): a process killed at any moment leaves either no lock or
// a complete one that names it (and that the next run recognises as stale).
func createExclusive(path string, data []byte) error {
	return atomicfile.Create(path, data, 0o644)
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

// stale reports whether the lock's owner was a process of this host that
// no longer runs. Locks of other hosts are never stale: we cannot tell.
func (i *LockInfo) stale() bool {
	host, err := os.Hostname()
	if err != nil || i.Host == "" || i.Host != host || i.PID <= 0 {
		return false
	}
	if i.PID == os.Getpid() {
		return false
	}
	return !processRuns(i.PID)
}

// processRuns reports whether a process with pid exists (signal 0).
func processRuns(pid int) bool {
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	if err == nil || errors.Is(err, syscall.EPERM) {
		return true
	}
	return false
}
