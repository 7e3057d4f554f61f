package mediatest

import (
	"math/rand/v2"
	"net"
	"strconv"
	"testing"
)

// Blocks of ports are picked in [portMin, portMax): below Linux's default
// ephemeral range (32768-60999), so that no socket opened on port 0 in the
// meantime — the media relay's, a peer's, another test's — can be given one
// of them between the check and the bind, and above the registered ports a
// test machine is likely to serve.
const portMin, portMax = 20000, 32000

// FreeUDPBlock returns the first of n consecutive UDP ports on ip that
// were all free a moment ago — an even one, so that a block of n holds
// n/2 RTP/RTCP pairs — for a test that sets a media port range or
// starts a peer that binds fixed ports. It fails the test when 100 random
// blocks were all taken.
func FreeUDPBlock(t testing.TB, ip string, n int) int {
	t.Helper()
	for range 100 {
		base := portMin + 2*rand.IntN((portMax-portMin-n)/2)
		var conns []net.PacketConn
		for i := range n {
			c, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(base+i)))
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		free := len(conns) == n
		for _, c := range conns {
			c.Close()
		}
		if free {
			return base
		}
	}
	t.Fatalf("no block of %d free UDP ports on %s in %d-%d", n, ip, portMin, portMax)
	return 0
}
