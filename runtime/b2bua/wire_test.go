package b2bua_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"time"
)

// wireLog is a socket that keeps a line per datagram it sends and
// receives: the first line, Via, CSeq, Call-ID and To, never a body or
// credentials. A trunk test that fails prints its carrier's, so that a
// failure seen once under load says what crossed the wire (the first
// sighting of a flake had only the carrier's list of calls, which was
// empty).
type wireLog struct {
	net.PacketConn
	start time.Time
	mu    sync.Mutex
	lines []string
}

func newWireLog(c net.PacketConn) *wireLog { return &wireLog{PacketConn: c, start: time.Now()} }

func (w *wireLog) ReadFrom(b []byte) (int, net.Addr, error) {
	n, a, err := w.PacketConn.ReadFrom(b)
	if n > 0 {
		w.add("<-", a, b[:n])
	}
	return n, a, err
}

func (w *wireLog) WriteTo(b []byte, a net.Addr) (int, error) {
	w.add("->", a, b)
	return w.PacketConn.WriteTo(b, a)
}

func (w *wireLog) add(dir string, peer net.Addr, msg []byte) {
	lines := strings.Split(string(msg), "\r\n")
	kept := lines[:1]
	for _, l := range lines[1:] {
		name, _, _ := strings.Cut(l, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "via", "v", "cseq", "call-id", "i", "to", "t":
			kept = append(kept, l)
		}
	}
	line := fmt.Sprintf("%9.3f ms %s %v %s", float64(time.Since(w.start).Microseconds())/1000, dir, peer, strings.Join(kept, " | "))
	w.mu.Lock()
	w.lines = append(w.lines, line)
	w.mu.Unlock()
}

func (w *wireLog) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Join(w.lines, "\n")
}
