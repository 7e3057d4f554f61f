package sipstack

import (
	"bytes"
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
// of the key to where it is finds it.
//
// Most of a 200 to a REGISTER is its request echoed back: the Via, From,
// To, Call-ID and CSeq lines, each the request's line or its beginning
// (the Via before ";received", the To before ";tag"), and often the
// Contacts. When the request's bytes are given (put's req), an answer is
// kept as its lines, each the length of the beginning it shares with a
// line of the request and the rest (answerLines), and the request's hash:
// a retransmission, the same bytes again (RFC 3261 §17.1.2.2), rebuilds
// it. About 170 bytes an answer of a phone's registration against 430
// whole (BenchmarkAnsweredMemory), so a burst's live heap, and with it
// the heap the collector lets grow to twice that, holds less at its peak
// (issue 19). A datagram under a remembered key that is not the same
// bytes is answered afresh, as after Timer J.
type answered struct {
	mu     sync.Mutex
	seeds  [3]maphash.Seed        // of the map's hash, of the check and of a request
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
// form of the answer (1: answerWhole or answerLines), for answerLines the
// hash of its request (8), the length of what follows (2) and the answer
// in that form.
const (
	answerWhole = iota // the answer's bytes
	answerLines        // its lines, sharing what they can with its request's
)

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

// The lines of an answer kept as answerLines, each: uvarint i, the
// request's header line i-1 whose beginning it is (0: none); for i > 0
// uvarint n, how many bytes of that line begin it; uvarint m and the m
// bytes of the rest. The lines are joined with CRLF.
//
// answerMinShared is the least a line must share with the request's to be
// kept as a reference to it (a reference costs two or three bytes; the
// check compares that many bytes at once); answerRefLines is how many of
// the request's header lines can be referred to (a scanned REGISTER has
// at most maxScannedLines).
const (
	answerMinShared = 8
	answerRefLines  = 32
)

// resend sends the remembered response of transaction key again, if any;
// req is the request's datagram (the retransmission), from which an answer
// kept as answerLines is rebuilt.
func (a *answered) resend(conn net.PacketConn, key string, req []byte) bool {
	return a.resendKey(conn, txKey{s: key}, req)
}

func (a *answered) resendKey(conn net.PacketConn, key txKey, req []byte) bool {
	buf := respBufs.Get().(*bytes.Buffer)
	defer respBufs.Put(buf)
	buf.Reset()
	a.mu.Lock()
	dst, found := a.lookupLocked(key, req, buf)
	a.mu.Unlock()
	if !found {
		return false
	}
	_, _ = conn.WriteTo(buf.Bytes(), net.UDPAddrFromAddrPort(dst))
	return true
}

// lookupLocked writes the answer remembered for key to buf, rebuilt from
// req when kept as answerLines.
func (a *answered) lookupLocked(key txKey, req []byte, buf *bytes.Buffer) (netip.AddrPort, bool) {
	if a.m == nil {
		return netip.AddrPort{}, false
	}
	at, ok := a.m[key.hash(a.seeds[0])]
	if !ok {
		return netip.AddrPort{}, false
	}
	e := a.gens[a.turn-at.turn][at.chunk][at.offset:]
	if binary.LittleEndian.Uint64(e) != key.hash(a.seeds[1]) {
		return netip.AddrPort{}, false // another key with the same hash
	}
	e = e[8:]
	var dst netip.AddrPort
	if err := dst.UnmarshalBinary(e[1 : 1+e[0]]); err != nil {
		return netip.AddrPort{}, false
	}
	e = e[1+e[0]:]
	form := e[0]
	e = e[1:]
	if form == answerLines {
		if binary.LittleEndian.Uint64(e) != maphash.Bytes(a.seeds[2], req) {
			return netip.AddrPort{}, false // not the request answered: answered afresh
		}
		e = e[8:]
	}
	body := e[2 : 2+binary.LittleEndian.Uint16(e)]
	if form == answerWhole {
		buf.Write(body)
		return dst, true
	}
	if !rebuildAnswer(buf, body, req) {
		return netip.AddrPort{}, false
	}
	return dst, true
}

// requestLines sets lines to req's header lines (at most
// answerRefLines, without their CRLF) and returns how many there are.
func requestLines(req []byte, lines *[answerRefLines][]byte) int {
	n := 0
	for n < answerRefLines {
		i := bytes.Index(req, []byte("\r\n"))
		if i <= 0 { // the header's end, or no more lines
			break
		}
		lines[n] = req[:i]
		n++
		req = req[i+2:]
	}
	return n
}

// appendAnswerLines appends answer's lines as answerLines keeps them,
// sharing what it can with req's header lines.
func appendAnswerLines(c, answer, req []byte) []byte {
	var lines [answerRefLines][]byte
	n := requestLines(req, &lines)
	for {
		line, rest, more := bytes.Cut(answer, []byte("\r\n"))
		ref, shared := 0, 0
		for i, r := range lines[:n] {
			if len(r) <= shared || len(line) < answerMinShared || len(r) < answerMinShared ||
				binary.LittleEndian.Uint64(r) != binary.LittleEndian.Uint64(line) {
				continue
			}
			// Most often the request's whole line begins the answer's (its
			// Via but received, its To but the tag, its Contact but expires).
			k := len(r)
			if !bytes.HasPrefix(line, r) {
				k = answerMinShared
				for k < len(r) && k < len(line) && r[k] == line[k] {
					k++
				}
			}
			if k > shared {
				ref, shared = i+1, k
			}
		}
		if shared < answerMinShared {
			ref, shared = 0, 0
		}
		c = binary.AppendUvarint(c, uint64(ref))
		if ref > 0 {
			c = binary.AppendUvarint(c, uint64(shared))
		}
		c = binary.AppendUvarint(c, uint64(len(line)-shared))
		c = append(c, line[shared:]...)
		if !more {
			return c
		}
		answer = rest
	}
}

// rebuildAnswer writes the answer kept as lines in e, from req; false if
// e does not fit req (not its request).
func rebuildAnswer(buf *bytes.Buffer, e, req []byte) bool {
	var lines [answerRefLines][]byte
	n := requestLines(req, &lines)
	for first := true; len(e) > 0; first = false {
		if !first {
			buf.WriteString("\r\n")
		}
		ref, k := binary.Uvarint(e)
		if k <= 0 || ref > uint64(n) {
			return false
		}
		e = e[k:]
		if ref > 0 {
			shared, k := binary.Uvarint(e)
			line := lines[ref-1]
			if k <= 0 || shared > uint64(len(line)) {
				return false
			}
			e = e[k:]
			buf.Write(line[:shared])
		}
		m, k := binary.Uvarint(e)
		if k <= 0 || m > uint64(len(e)-k) {
			return false
		}
		buf.Write(e[k : k+int(m)])
		e = e[k+int(m):]
	}
	return true
}

// put remembers data, sent to dst, as the answer of transaction key (it
// copies data); req, when not nil, is the request's datagram, which a
// retransmission repeats: the answer is then kept as its lines, sharing
// what they can with the request's.
func (a *answered) put(key string, data []byte, dst net.Addr, req []byte) {
	a.putKey(txKey{s: key}, data, dst, req)
}

func (a *answered) putKey(key txKey, data []byte, dst net.Addr, req []byte) {
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
		a.seeds = [3]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed(), maphash.MakeSeed()}
	}
	// At most: a line kept as answerLines takes at most seven bytes more
	// than its own (three uvarints of at most 3 bytes, less its CRLF).
	n := 8 + 1 + 16 + 2 + len(ap.Addr().Zone()) + 1 + 8 + 2 + len(data) + 7*(bytes.Count(data, []byte("\r\n"))+1)
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
	if req == nil {
		c = append(c, answerWhole)
		c = binary.LittleEndian.AppendUint16(c, uint16(len(data)))
		c = append(c, data...)
	} else {
		c = append(c, answerLines)
		c = binary.LittleEndian.AppendUint64(c, maphash.Bytes(a.seeds[2], req))
		l := len(c)
		c = appendAnswerLines(append(c, 0, 0), data, req)
		if len(c)-l-2 > 1<<16-1 {
			return // not kept: answered afresh if retransmitted
		}
		binary.LittleEndian.PutUint16(c[l:], uint16(len(c)-l-2))
	}
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
