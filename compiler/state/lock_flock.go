//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package state

import (
	"errors"
	"os"
	"syscall"
)

// tryLock opens path, creating it, and takes the kernel's exclusive lock
// on it without waiting: flock(2), the call go-internal/lockedfile makes on
// these systems. lockedfile offers only a lock that waits, and an apply
// must not hang behind another one: it says who holds the lock and stops.
// held reports that another process holds it (f is then nil).
func tryLock(path string) (f *os.File, release func() error, held bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, false, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if errors.Is(err, syscall.EWOULDBLOCK) {
		f.Close()
		return nil, nil, true, nil
	}
	if err != nil {
		f.Close()
		return nil, nil, false, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	// Closing the descriptor releases the lock.
	return f, f.Close, false, nil
}

// removeMayFail: these systems remove an open, locked file.
const removeMayFail = false
