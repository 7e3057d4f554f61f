//go:build !unix

package sipstack

import "net"

// receiveBuffer is unknown here.
func receiveBuffer(*net.UDPConn) int { return 0 }
