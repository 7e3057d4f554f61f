package interop

import "syscall"

// peerProcAttr makes a peer die with the test binary: a test killed by a
// timeout must not leave a baresip or SIPp running (baresip 1.0's mwi
// module, left alone, loops and eats memory until the kernel kills it).
func peerProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
