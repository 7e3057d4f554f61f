//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package store

import "syscall"

// Statfs is the free space an unprivileged writer may use under dir, and
// the file system's size, in bytes.
func Statfs(dir string) (free, total uint64, err error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), uint64(st.Blocks) * uint64(st.Bsize), nil
}
