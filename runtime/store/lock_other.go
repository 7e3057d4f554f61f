//go:build !(darwin || dragonfly || freebsd || illumos || linux || netbsd || openbsd)

package store

// lockDir does nothing where flock(2) is not at hand: the standard
// library has no portable lock, and serve runs on the systems above.
func lockDir(dir string) (release func(), err error) { return func() {}, nil }
