//go:build !linux

package udp

import (
	"net"
	"net/netip"
	"time"
)

// raw is Linux only; elsewhere Conn uses the socket's own methods.
type raw struct{}

func newRaw(*net.UDPConn) *raw { return nil }

func (*raw) read([]byte) (int, netip.AddrPort, error) { panic("udp: no raw reads here") }

func (*raw) readNow([]byte) (int, netip.AddrPort, bool, error) { panic("udp: no raw reads here") }

func (*raw) write([]byte, netip.AddrPort) (int, bool, error) { return 0, false, nil }

func (*raw) stamp() bool { return false }

func (*raw) received() time.Time { return time.Time{} }
