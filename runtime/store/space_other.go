//go:build !(darwin || dragonfly || freebsd || linux || netbsd || openbsd)

package store

import "errors"

// Statfs has no figure where statfs(2) is not at hand: SpaceWatch then
// logs once that it cannot read the space.
func Statfs(dir string) (free, total uint64, err error) {
	return 0, 0, errors.New("free space not known on this system")
}
