//go:build darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd

package store

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// lockDir takes the kernel's exclusive lock on dir/lock without waiting
// (flock(2), as compiler/state's lock of the applied state): the embedded
// server does not guard its directory, and two processes writing one
// store would corrupt it. The lock goes with the process.
func lockDir(dir string) (release func(), err error) {
	path := dir + string(os.PathSeparator) + "lock"
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s is in use by another process (another serve on the same -data directory?)", dir)
		}
		return nil, &os.PathError{Op: "flock", Path: path, Err: err}
	}
	return func() { f.Close() }, nil
}
