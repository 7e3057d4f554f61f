//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package state

import (
	"os"

	"github.com/rogpeppe/go-internal/lockedfile"
)

// tryLock opens path, creating it, and takes the system's exclusive lock
// on it through lockedfile. Here it waits for another holder to finish
// instead of reporting it: lockedfile has no lock that does not wait.
func tryLock(path string) (f *os.File, release func() error, held bool, err error) {
	lf, err := lockedfile.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, nil, false, err
	}
	return lf.File, lf.Close, false, nil
}

// removeMayFail: some systems (Windows) refuse to remove an open file;
// Unlock then leaves it empty, which is no lock.
const removeMayFail = true
