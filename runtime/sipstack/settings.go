package sipstack

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
)

// sipgo's settings are package variables, shared by every server and
// client of the process. They are set here and nowhere else: the message
// size limit always (init), the transaction timers and sipgo's own log by
// the process that knows what it is (TuneServe for `switchboard serve`,
// TuneSimulation for a simulation run).

// sipgo refuses to send a UDP message over 1 300 bytes (RFC 3261 §18.1.1
// wants TCP then). The choice of transport is ours (Oversize: TCP first
// for a large INVITE to a device reached directly, the UDP flow for one
// behind NAT), so sipgo's own check is lifted: whatever we send over UDP
// goes whole, for IP to fragment, as Kamailio (udp_mtu unset) and
// Asterisk do. In init: sipgo reads the limit on every send, and every
// server and device of this module imports this package through the call
// core.
//
// sipgo reads every datagram (and every TCP read) into a buffer of
// TransportBufferReadSize bytes, 32 768 by default, and a longer datagram
// is cut there and dropped as unparsable; RFC 3261 §18.1.1 has every
// element accept up to the largest datagram. 65 535 is its largest value
// (a uint16) and the largest UDP datagram there is. It is also the size
// of the buffer each TCP or TLS connection reads into; the connection
// limits (package listener) bound how many there are.
func init() {
	sip.UDPMTUSize = maxUDPPayload + 200
	sip.TransportBufferReadSize = 65535
}

// maxUDPPayload is the largest UDP datagram over IPv4.
const maxUDPPayload = 65507

// ReceiveBuffer is the receive buffer (SO_RCVBUF) the SIP UDP listener
// asks for: a building's phones re-registering at once after a power cut
// arrive in bursts, and the kernel's default (about 208 KiB) drops them
// while the reader is busy. Linux caps what a socket may ask for at
// net.core.rmem_max; SizeReceiveBuffer reports what it got.
const ReceiveBuffer = 4 << 20

// SizeReceiveBuffer asks for ReceiveBuffer on c and returns what the
// kernel granted; 0 when unknown.
func SizeReceiveBuffer(c *net.UDPConn) int {
	_ = c.SetReadBuffer(ReceiveBuffer)
	return receiveBuffer(c)
}

// transactionRetention is how long a finished transaction is remembered
// to absorb retransmissions: Kamailio's tm wait timer (wt_timer, 5 s).
const transactionRetention = 5 * time.Second

// TuneServe makes the settings of a live server (switchboard serve).
//
// Retention: sipgo keeps every finished UDP transaction for 64·T1 = 32 s
// (Timers J, L, M and D), the RFC's worst case for a request
// retransmitted for the whole of its client's Timer F/B. At the rates a
// site's registrations and door calls arrive that is the server's main
// memory cost (≈4 KB a transaction) and, through page faults and the
// collector, much of its CPU. Kamailio forgets a finished transaction
// after 5 s; so does this server. The retransmission timers (T1, T2, T4,
// A, E, G) and the give-up timers (B, F, H) are untouched.
//
// What a retransmission that arrives later than 5 s meets. A client
// retransmits a non-INVITE request at 0.5, 1.5, 3.5, 7.5… s while it has
// no final response, and each retransmission within the 5 s gets the
// response again, so this needs the response and three resends of it
// lost; an INVITE is not retransmitted at all once a provisional response
// arrived, and the server sends 100 Trying straight away.
//   - Timer J (non-INVITE server, RFC 3261 §17.2.2): the request is
//     processed as new. A REGISTER's credentials were already used, so the
//     nonce-count replay check answers a fresh challenge (stale=true) and
//     the client re-registers with it, as for any replayed REGISTER. A BYE
//     finds no call and gets 481, which ends the client's transaction too.
//   - Timer L (INVITE server after a 2xx, RFC 6026 §7.1): a late INVITE
//     retransmission is a new request; its nonce count is spent, so it is
//     challenged and creates no call (a carrier's, authenticated by
//     address, finds its Call-ID in use while the call lasts: 482). The
//     2xx's ACK is its own transaction and is unaffected.
//   - Timers M and D (INVITE client after a 2xx or a non-2xx): a callee's
//     late retransmission of its 2xx or its 487 is not matched; the 487's
//     ACK was sent when the first copy arrived.
//
// I (INVITE server, waiting for ACK retransmissions) and K (non-INVITE
// client) are T4 = 5 s already.
//
// sipgo's own log (the transport layer's: a malformed message, a read
// error) goes to log's handler, which the server bounds (package
// loglimit): sipgo logs an unparsable message whole, at ERROR. Its
// records pass through sipgoHandler, which keeps them well-formed for a
// JSON log. It must be set before the server's sipgo stack is made, which
// copies it. The first message refused for a bare CR or LF is logged
// there too, once (noteRefused).
func TuneServe(log *slog.Logger) {
	retain(transactionRetention)
	retransmit(true)
	if log != nil {
		sip.SetDefaultLogger(slog.New(newSipgoHandler(log.Handler())))
	}
	setLineEndLog(log)
}

// TuneSimulation makes the settings of a process whose whole job is a
// simulation run (switchboard test, the benchmarks); lossless says the
// simulated network is in memory. sipgo keeps every finished transaction
// for up to 32 s so that retransmissions over a lossy network find it.
// Over loopback, which rarely loses a datagram, a simulation keeps what a
// served site keeps and retransmits as it does.
//
// The in-memory network neither loses nor repeats a datagram, so there a
// retransmission is only ever a copy of what is on its way: sipgo sends
// none (Timers A, E and G, which run from T1 = 500 ms, wait as long as
// the give-up Timers B, F and H, 32 s) and a finished transaction is
// remembered for losslessRetention, not 1 s as before. Nothing is left
// for retention to absorb, and keeping a second of a suite's transactions
// — tens of thousands, each with its timers — cost the 6 000-user
// suite 3–8 % of its CPU time (the timer heaps' work, the collector's and
// the page faults) and a third to a half of its memory: 1.5–1.8 GB at
// the peak instead of 2.3–4.4 GB (BenchmarkSimulateGenerated side by
// side, December 2026). (A 2xx the call core repeats
// until its ACK, RFC 3261 §13.3.1.4, goes at T1 for as long as the
// transaction lasts, so not at all: the ACK comes in milliseconds.) A
// Timer B, F or H still ends a transaction nobody answers.
//
// sipgo's own log goes quiet: a simulation reports through its cases, and
// a late 180 crossing a CANCEL is expected there, not news.
//
// A process may tune for several runs (the CLI's tests run "switchboard
// test" in-process, in parallel): a setting is written only when it
// changes, so a second tuning to the same values leaves the variables
// that running simulations read untouched.
func TuneSimulation(lossless bool) {
	tuneMu.Lock()
	defer tuneMu.Unlock()
	if !simulationLogSet {
		sip.SetDefaultLogger(slog.New(slog.DiscardHandler))
		simulationLogSet = true
	}
	if !lossless {
		retain(transactionRetention)
		retransmit(true)
		return
	}
	retransmit(false)
	retain(losslessRetention)
	set(&sip.Timer_I, losslessRetention)
	set(&sip.Timer_K, losslessRetention)
}

// losslessRetention is how long a simulation on the in-memory network
// remembers a finished transaction: long enough for the goroutines a
// message was handed to to have finished with it, nothing to absorb.
const losslessRetention = 100 * time.Millisecond

// retransmit turns sipgo's retransmissions over UDP on (the RFC's T1
// timers, and Timers I and K absorbing the copies for T4) or off (none
// before the transaction gives up).
func retransmit(on bool) {
	if on {
		set(&sip.Timer_A, sip.T1)
		set(&sip.Timer_G, sip.T1)
		set(&sip.Timer_I, sip.T4)
		set(&sip.Timer_K, sip.T4)
		return
	}
	set(&sip.Timer_A, sip.Timer_B)
	set(&sip.Timer_G, sip.Timer_H)
}

var (
	tuneMu           sync.Mutex // TuneSimulation's writes
	simulationLogSet bool       // sipgo's log is discarded already
)

// set writes v to *p only when it differs: writing the same value again
// would still race with the readers of *p.
func set[T comparable](p *T, v T) {
	if *p != v {
		*p = v
	}
}

// retain sets how long finished transactions are remembered.
func retain(d time.Duration) {
	set(&sip.Timer_D, d)
	set(&sip.Timer_J, d)
	set(&sip.Timer_L, d)
	set(&sip.Timer_M, d)
}
