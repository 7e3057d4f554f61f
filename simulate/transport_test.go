package simulate_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"switchboard/simulate"
)

// sockets counts the process's open sockets.
func sockets(t *testing.T) int {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot list open files: %v", err)
	}
	n := 0
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, "socket:") {
			n++
		}
	}
	return n
}

// maxSockets runs f while sampling the number of open sockets, and returns
// the most seen above the count before f.
func maxSockets(t *testing.T, f func()) int {
	base := sockets(t)
	var most atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if n := int64(sockets(t) - base); n > most.Load() {
				most.Store(n)
			}
			// A sampling period, not a wait for anything: the sampler
			// looks at the process's sockets every 100 µs until f ends.
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Microsecond):
			}
		}
	})
	f()
	close(stop)
	wg.Wait()
	if n := int64(sockets(t) - base); n > most.Load() {
		most.Store(n)
	}
	return int(most.Load())
}

// In memory, the server, the devices, the carrier and every RTP stream
// share an in-memory network: not one socket is opened. Over UDP the same
// run opens them. (Not parallel: it counts the whole process's sockets.)
func TestMemoryTransportOpensNoSockets(t *testing.T) {
	p, sec := compileDir(t, "../examples/small-office") // has a carrier trunk
	if len(p.Trunks) == 0 {
		t.Fatal("the example has no trunk: the carrier would not be exercised")
	}
	// With the trunk's credentials: the server registers at the carrier,
	// answers its challenges and withdraws the registration at the end.
	creds := trunkSecrets(t, "../examples/small-office")
	cases := simulate.Generate(p)
	for _, transport := range []string{simulate.TransportMemory, simulate.TransportUDP} {
		var rep *simulate.Report
		opened := maxSockets(t, func() {
			var err error
			rep, err = simulate.Run(context.Background(), p, sec, cases, simulate.Options{Transport: transport, TrunkSecrets: creds})
			if err != nil {
				t.Fatal(err)
			}
		})
		pass, fail, _ := rep.Counts()
		if fail > 0 || pass == 0 {
			var b strings.Builder
			simulate.WriteText(&b, rep)
			t.Fatalf("%s: %d passed, %d failed:\n%s", transport, pass, fail, b.String())
		}
		switch transport {
		case simulate.TransportMemory:
			if opened != 0 {
				t.Errorf("in memory, %d sockets were open at once during the run; want none", opened)
			}
		case simulate.TransportUDP:
			// The server's, the devices' and the carrier's at least: proof
			// that the count sees them.
			if opened < 3 {
				t.Errorf("over UDP, at most %d sockets were seen open; want the server's, the devices' and the carrier's", opened)
			}
		}
	}
}

func TestUnknownTransport(t *testing.T) {
	p, sec := compileDir(t, "../examples/family-home")
	_, err := simulate.Run(context.Background(), p, sec, simulate.Generate(p), simulate.Options{Transport: "tcp"})
	if err == nil || !strings.Contains(err.Error(), `unknown transport "tcp"`) {
		t.Errorf("err = %v, want unknown transport", err)
	}
}
