package sipstack

import (
	"encoding/binary"
	"hash/maphash"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/emiago/sipgo/sip"
)

// answered remembers final responses to REGISTERs over UDP for sipgo's
// Timer J (the server's transaction retention), keyed by transaction
// (RFC 3261 §17.2.3). Entries are forgotten in generations: every
// quarter of Timer J the answers put in the oldest go, so an entry lives
// between one and one and a quarter Timer J without a timer of its own.
// The rotation stops while nothing is remembered.
//
// They are the transient part of a burst of registrations: at 5 000 a
// second with Timer J at 5 s, some 27 000 answers at its end, and the
// heap's headroom doubles what they take. So a generation keeps its
// answers one after the other in chunks of answeredChunk bytes (no
// allocation, no size-class rounding and no pointer per answer, and a
// generation's memory goes back to the heap as a whole), each as its
// bytes, its destination and a check of its key; a map from another hash
// of the key to where it is finds it. About 430 bytes an answer of a
// phone's registration, against 660 as a map of the key strings to
// copies of the answers and their addresses.
type answered struct {
	mu     sync.Mutex
	seeds  [2]maphash.Seed        // of the map's hash and of the check
	m      map[uint64]answerAt    // by the key's hash
	gens   [answeredGens][][]byte // each generation's chunks, [0] newest
	turn   uint64                 // rotations so far
	timer  *time.Timer
	period time.Duration
	closed bool
}

const answeredGens = 5

// registersAnswered counts the final answers to REGISTER over UDP that
// were remembered (every one but a challenge or a throttle's refusal), of
// every Register of the process.
var registersAnswered atomic.Uint64

// RegistersAnswered returns how many REGISTERs over UDP the process has
// answered with a final response other than a challenge or a throttle's
// refusal: how fast it rises is the rate of registrations, which a burst
// of (a building's phones after a power cut) grows the heap for good
// (serve's memory policy watches it).
func RegistersAnswered() uint64 { return registersAnswered.Load() }

// answeredChunk is the size of a generation's chunks: tens of answers
// each (one is at most an MTU).
const answeredChunk = 32 << 10

// answerAt is where an answer is: the rotation it was put in (its
// generation), the chunk of that generation and the offset in it.
type answerAt struct {
	turn   uint64
	chunk  uint32
	offset uint32
}

// An answer in a chunk: the check of its key (8 bytes), the length of its
// destination (1), the destination (netip.AddrPort's binary form), the
// length of the answer (2) and the answer.

// txKey is a transaction's key (sip.ServerTxKeyMake), as a string (the
// parsed way's) or as bytes: a scanned REGISTER's, made in its own array,
// which a string would have copied to the heap for every REGISTER; only
// its hashes are kept.
type txKey struct {
	s string
	b []byte
}

func (k txKey) hash(seed maphash.Seed) uint64 {
	if k.b != nil {
		return maphash.Bytes(seed, k.b) // maphash.String's of the same bytes
	}
	return maphash.String(seed, k.s)
}

// resend sends the remembered response of transaction key again, if any.
func (a *answered) resend(conn net.PacketConn, key string) bool {
	return a.resendKey(conn, txKey{s: key})
}

func (a *answered) resendKey(conn net.PacketConn, key txKey) bool {
	a.mu.Lock()
	data, dst, found := a.lookupLocked(key)
	a.mu.Unlock()
	if !found {
		return false
	}
	_, _ = conn.WriteTo(data, net.UDPAddrFromAddrPort(dst))
	return true
}

// lookupLocked returns the answer remembered for key, its bytes aliasing
// a chunk (chunks are only appended to, and dropped whole).
func (a *answered) lookupLocked(key txKey) ([]byte, netip.AddrPort, bool) {
	if a.m == nil {
		return nil, netip.AddrPort{}, false
	}
	at, ok := a.m[key.hash(a.seeds[0])]
	if !ok {
		return nil, netip.AddrPort{}, false
	}
	e := a.gens[a.turn-at.turn][at.chunk][at.offset:]
	if binary.LittleEndian.Uint64(e) != key.hash(a.seeds[1]) {
		return nil, netip.AddrPort{}, false // another key with the same hash
	}
	e = e[8:]
	var dst netip.AddrPort
	if err := dst.UnmarshalBinary(e[1 : 1+e[0]]); err != nil {
		return nil, netip.AddrPort{}, false
	}
	e = e[1+e[0]:]
	return e[2 : 2+binary.LittleEndian.Uint16(e)], dst, true
}

// put remembers data, sent to dst, as the answer of transaction key (it
// copies data).
func (a *answered) put(key string, data []byte, dst net.Addr) {
	a.putKey(txKey{s: key}, data, dst)
}

func (a *answered) putKey(key txKey, data []byte, dst net.Addr) {
	var ap netip.AddrPort
	if u, ok := dst.(*net.UDPAddr); ok {
		ap = u.AddrPort()
	} else if p, err := netip.ParseAddrPort(dst.String()); err == nil {
		ap = p
	}
	if !ap.IsValid() || len(ap.Addr().Zone()) > 200 || len(data) > 1<<16-1 {
		return // answered afresh if retransmitted, as a challenge is
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	registersAnswered.Add(1)
	if a.m == nil {
		a.m = map[uint64]answerAt{}
		a.seeds = [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}
	}
	n := 8 + 1 + 16 + 2 + len(ap.Addr().Zone()) + 2 + len(data) // at most
	g := a.gens[0]
	if len(g) == 0 || cap(g[len(g)-1])-len(g[len(g)-1]) < n {
		g = append(g, make([]byte, 0, max(answeredChunk, n)))
		a.gens[0] = g
	}
	c := g[len(g)-1]
	at := answerAt{turn: a.turn, chunk: uint32(len(g) - 1), offset: uint32(len(c))}
	c = binary.LittleEndian.AppendUint64(c, key.hash(a.seeds[1]))
	c = append(c, 0)
	l := len(c)
	c, _ = ap.AppendBinary(c) // fails for no valid AddrPort
	c[l-1] = byte(len(c) - l)
	c = binary.LittleEndian.AppendUint16(c, uint16(len(data)))
	c = append(c, data...)
	g[len(g)-1] = c
	a.m[key.hash(a.seeds[0])] = at
	if a.timer == nil {
		a.period = max(sip.Timer_J/(answeredGens-1), time.Millisecond)
		a.timer = time.AfterFunc(a.period, a.rotate)
	}
}

func (a *answered) rotate() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return
	}
	oldest := a.turn - (answeredGens - 1)
	if len(a.gens[answeredGens-1]) > 0 {
		// A key put again since (a request retransmitted after its answer
		// was forgotten, answered anew) stays with its newer turn.
		for h, at := range a.m {
			if at.turn == oldest {
				delete(a.m, h)
			}
		}
	}
	copy(a.gens[1:], a.gens[:answeredGens-1])
	a.gens[0] = nil
	a.turn++
	if len(a.m) > 0 {
		a.timer.Reset(a.period)
		return
	}
	a.m, a.gens, a.timer = nil, [answeredGens][][]byte{}, nil
}

// close forgets everything and stops the rotation.
func (a *answered) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.closed = true
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	a.m, a.gens = nil, [answeredGens][][]byte{}
}
