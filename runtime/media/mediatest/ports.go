package mediatest

import (
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"testing"
)

// given is every port this process handed out: a block is free when it
// is checked, and bound by its peer only later, so two tests running at
// once could otherwise be given overlapping blocks (CI once saw SIPp
// fail to bind its media port: "Address already in use"). Other test
// processes (a make test beside CI) are kept off them by a lock held
// until this process exits (reserve, in ports_lock.go).
var given struct {
	sync.Mutex
	ports map[int]bool
}

// Blocks of ports are picked below Linux's default ephemeral range
// (32768-60999), so that no socket opened on port 0 in the meantime — the
// media relay's, a peer's, another test's — can be given one of them
// between the check and the bind, and above the registered ports a test
// machine is likely to serve. The space is split in two: blocks a peer
// binds at once (FreeUDPBlock), and ranges a server's relay binds port by
// port as calls come (FreeUDPRange). A range is checked free when it is
// picked but taken only later, so a peer's block picked meanwhile in the
// same space could land in it: the two never share a port.
const (
	blockMin, blockMax = 20000, 26000
	rangeMin, rangeMax = 26000, 32000
)

// FreeUDPBlock returns the first of n consecutive UDP ports on ip that
// were all free a moment ago — an even one, so that a block of n holds
// n/2 RTP/RTCP pairs — for a peer that binds them at once. It fails the
// test when 100 random blocks were all taken.
func FreeUDPBlock(t testing.TB, ip string, n int) int {
	t.Helper()
	return free(t, ip, n, blockMin, blockMax)
}

// FreeUDPRange is FreeUDPBlock for a media port range a server binds as
// calls come.
func FreeUDPRange(t testing.TB, ip string, n int) int {
	t.Helper()
	return free(t, ip, n, rangeMin, rangeMax)
}

func free(t testing.TB, ip string, n, lo, hi int) int {
	t.Helper()
	for range 100 {
		base := lo + 2*rand.IntN((hi-lo-n)/2)
		ok, err := take(base, n)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			continue
		}
		var conns []net.PacketConn
		for i := range n {
			c, err := net.ListenPacket("udp", net.JoinHostPort(ip, strconv.Itoa(base+i)))
			if err != nil {
				break
			}
			conns = append(conns, c)
		}
		ok = len(conns) == n
		for _, c := range conns {
			c.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatalf("no block of %d free UDP ports on %s in %d-%d", n, ip, lo, hi)
	return 0
}

// take marks ports base..base+n-1 given, unless one of them was already
// given by this process or is reserved by another. A block then found
// bound by some other socket stays marked and reserved: that costs this
// process a few ports of thousands.
func take(base, n int) (bool, error) {
	given.Lock()
	defer given.Unlock()
	if given.ports == nil {
		given.ports = map[int]bool{}
	}
	for p := base; p < base+n; p++ {
		if given.ports[p] {
			return false, nil
		}
	}
	if ok, err := reserve(base, n); !ok {
		return false, err
	}
	for p := base; p < base+n; p++ {
		given.ports[p] = true
	}
	return true, nil
}
