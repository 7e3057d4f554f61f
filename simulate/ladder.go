package simulate

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"
)

// ladder is the server's socket, recording every SIP message it sends and
// receives, so a failed case can show the call as a ladder diagram in
// text. It sees exactly what crossed the wire.
//
// Messages are kept raw and rendered only when a case fails: almost every
// case passes, and its ladder is never read.
type ladder struct {
	net.PacketConn
	names map[string]string // peer address → name

	mu   sync.Mutex
	msg  []rawMessage
	head []byte // the messages' header sections, back to back
}

// rawMessage is one recorded message: its header section is
// head[start:end].
type rawMessage struct {
	dir        string
	peer       net.Addr
	start, end int
}

const maxLadder = 60

// name labels a peer address in the ladder.
func (l *ladder) name(addr, name string) {
	l.mu.Lock()
	l.names[addr] = name
	l.mu.Unlock()
}

func (l *ladder) reset() {
	l.mu.Lock()
	clear(l.msg) // drop the addresses
	l.msg, l.head = l.msg[:0], l.head[:0]
	l.mu.Unlock()
}

func (l *ladder) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i, m := range l.msg {
		if i == maxLadder {
			out = append(out, "… (more messages not shown)")
			break
		}
		name := l.names[m.peer.String()]
		if name == "" {
			name = m.peer.String()
		}
		out = append(out, fmt.Sprintf("%s %-8s %s", m.dir, name, summarise(l.head[m.start:m.end])))
	}
	return out
}

func (l *ladder) record(dir string, peer net.Addr, b []byte) {
	if len(b) == 0 || bytes.HasPrefix(b, []byte("\r\n")) {
		return // a keep-alive: summarise has nothing to show
	}
	head, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.msg) > maxLadder {
		return
	}
	start := len(l.head)
	l.head = append(l.head, head...)
	l.msg = append(l.msg, rawMessage{dir: dir, peer: peer, start: start, end: len(l.head)})
}

func (l *ladder) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := l.PacketConn.ReadFrom(b)
	if err == nil {
		l.record("server ←", addr, b[:n])
	}
	return n, addr, err
}

func (l *ladder) WriteTo(b []byte, addr net.Addr) (int, error) {
	l.record("server →", addr, b)
	return l.PacketConn.WriteTo(b, addr)
}

// summarise renders a SIP message as its first line and who it is
// between: `INVITE sip:1A@… (device.gate → 1A)` or `180 Ringing (INVITE)`.
func summarise(b []byte) string {
	head, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	if len(lines) == 0 || lines[0] == "" {
		return ""
	}
	first := lines[0]
	var from, to, cseq string
	for _, h := range lines[1:] {
		name, value, ok := strings.Cut(h, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "from", "f":
			from = userOf(value)
		case "to", "t":
			to = userOf(value)
		case "cseq":
			cseq = strings.TrimSpace(value)
		}
	}
	if strings.HasPrefix(first, "SIP/2.0 ") {
		return fmt.Sprintf("%s (%s; %s → %s)", strings.TrimPrefix(first, "SIP/2.0 "), cseq, from, to)
	}
	method, _, _ := strings.Cut(first, " ")
	return fmt.Sprintf("%s (%s → %s)", method, from, to)
}

func userOf(v string) string {
	i := strings.Index(v, "sip:")
	if i < 0 {
		return strings.TrimSpace(v)
	}
	rest := v[i+4:]
	if at := strings.IndexAny(rest, "@>;"); at >= 0 && rest[at] == '@' {
		return rest[:at]
	}
	return ""
}
