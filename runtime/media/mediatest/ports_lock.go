//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package mediatest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// reservations is the file whose bytes stand for UDP ports: a process
// that hands out ports base..base+n-1 holds a write lock on bytes
// base..base+n-1 (fcntl(2) record locks), so two test processes at once
// (CI and a make test beside it) are never given overlapping blocks,
// while the port stays free for the peer that binds it later. The locks
// go with the process (they are never released before), whether it
// exits or is killed; the file itself, empty, stays for the next one.
var reservations struct {
	f   *os.File
	err error
}

// reservationsPath is shared by every user's test processes on the
// machine: the ports are.
var reservationsPath = filepath.Join(os.TempDir(), "switchboard-mediatest-udp-ports.lock")

// reserve takes ports base..base+n-1 for this process, unless another
// process holds one of them. It is called under given's lock.
func reserve(base, n int) (bool, error) {
	if reservations.f == nil && reservations.err == nil {
		// 0666 (and a chmod past the umask): another user's tests on
		// the machine open it too.
		reservations.f, reservations.err = os.OpenFile(reservationsPath, os.O_RDWR|os.O_CREATE, 0o666)
		if reservations.err == nil {
			_ = reservations.f.Chmod(0o666)
		}
	}
	if reservations.err != nil {
		return false, fmt.Errorf("opening the port reservations: %w", reservations.err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: int64(base), Len: int64(n)}
	for {
		err := syscall.FcntlFlock(reservations.f.Fd(), syscall.F_SETLK, &lk)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EACCES):
			return false, nil // another process holds one of them
		default:
			return false, fmt.Errorf("reserving ports in %s: %w", reservationsPath, err)
		}
	}
}
