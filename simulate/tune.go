package simulate

import (
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/emiago/sipgo/sip"
)

// TuneProcess adjusts process-wide settings for a process whose whole job
// is a simulation run (switchboard test, the benchmarks); a library must
// not call it on a server's behalf. sipgo keeps every finished transaction
// for up to 32 s so that retransmissions over a lossy network find it; the
// in-memory network neither loses nor repeats a datagram, and on a
// 6 000-user building that retention is gigabytes. A simulation also
// allocates briskly and briefly, which a lazier collector suits.
//
// sipgo's own log goes quiet: a simulation reports through its cases, and
// a late 180 crossing a CANCEL is expected there, not news.
func TuneProcess(transport string) {
	sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
	debug.SetGCPercent(400)
	if transport != TransportMemory {
		// Loopback rarely loses a datagram; keep what switchboard serve
		// keeps (Kamailio's wt_timer), not RFC 3261's 32 s.
		sip.Timer_D = 5 * time.Second
		sip.Timer_J = 5 * time.Second
		sip.Timer_L = 5 * time.Second
		sip.Timer_M = 5 * time.Second
		return
	}
	sip.Timer_D = time.Second
	sip.Timer_I = time.Second
	sip.Timer_J = time.Second
	sip.Timer_K = time.Second
	sip.Timer_L = time.Second
	sip.Timer_M = time.Second
}
