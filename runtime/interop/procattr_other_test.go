//go:build !linux

package interop

import "syscall"

// peerProcAttr: elsewhere the test's cleanup is all that ends a peer.
func peerProcAttr() *syscall.SysProcAttr { return nil }
