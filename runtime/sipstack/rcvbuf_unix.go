//go:build unix

package sipstack

import (
	"net"
	goruntime "runtime"
	"syscall"
)

// receiveBuffer reads the socket's receive buffer size (SO_RCVBUF): what
// the kernel granted; 0 when it cannot. Linux reports twice the grant (the
// rest covers its bookkeeping, socket(7)).
func receiveBuffer(c *net.UDPConn) int {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0
	}
	n := 0
	_ = rc.Control(func(fd uintptr) {
		if v, err := syscall.GetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF); err == nil {
			n = v
			if goruntime.GOOS == "linux" {
				n /= 2
			}
		}
	})
	return n
}
