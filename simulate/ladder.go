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

// SIPMessage is one SIP message of a failed case's call as the server saw
// it: who sent it, who received it ("server" on one side, the peer's name
// on the other) and its summary, such as `INVITE (gate → 1A)`. Reports
// draw these as a ladder diagram.
type SIPMessage struct {
	From, To, Summary string
}

// messages returns the recorded messages (at most maxLadder) and whether
// more were recorded than that.
//
// Only the case's own traffic is shown: the messages of a Call-ID whose
// first recorded message starts something (a request with no To tag).
// What the previous case left in flight — the 200 to a presence NOTIFY,
// a NOTIFY of an older subscription — arrives whenever the machine gets
// to it, and would otherwise open the ladder on a loaded machine.
func (l *ladder) messages() (out []SIPMessage, more bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	own := map[string]bool{} // Call-ID → began in this case
	for _, m := range l.msg {
		h := parse(l.head[m.start:m.end])
		if _, seen := own[h.callID]; !seen && h.callID != "" {
			own[h.callID] = !h.response && !h.toTag
		}
	}
	shown := 0
	for _, m := range l.msg {
		h := parse(l.head[m.start:m.end])
		if h.callID != "" && !own[h.callID] {
			continue
		}
		if shown == maxLadder {
			return out, true
		}
		shown++
		name := l.names[m.peer.String()]
		if name == "" {
			name = m.peer.String()
		}
		// The party on the far side of the server: the sender of a request
		// that came in (From) or the recipient of one that went out (To),
		// the other way round for responses. That names the device even
		// where every device shares one address (the in-memory hub).
		party := h.to
		if (m.dir == dirIn) != h.response {
			party = h.from
		}
		if party != "" {
			name = party
		}
		msg := SIPMessage{From: "server", To: name, Summary: h.summary}
		if m.dir == dirIn {
			msg.From, msg.To = name, "server"
		}
		out = append(out, msg)
	}
	return out, false
}

// ladderLines renders messages as the text ladder, a line each:
// `server ← gate     INVITE (gate → 1A)`.
func ladderLines(msgs []SIPMessage, more bool) []string {
	var out []string
	for _, m := range msgs {
		dir, name := dirOut, m.To
		if m.To == "server" {
			dir, name = dirIn, m.From
		}
		out = append(out, fmt.Sprintf("%s %-8s %s", dir, name, m.Summary))
	}
	if more {
		out = append(out, "… (more messages not shown)")
	}
	return out
}

const (
	dirIn  = "server ←"
	dirOut = "server →"
)

func (l *ladder) record(dir string, peer net.Addr, b []byte) {
	if len(b) == 0 || bytes.HasPrefix(b, []byte("\r\n")) {
		return // a keep-alive: parse has nothing to show
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
		l.record(dirIn, addr, b[:n])
	}
	return n, addr, err
}

func (l *ladder) WriteTo(b []byte, addr net.Addr) (int, error) {
	l.record(dirOut, addr, b)
	return l.PacketConn.WriteTo(b, addr)
}

// header is what the ladder reads of a message's header section.
type header struct {
	summary  string // `INVITE (device.gate → 1A)`
	from, to string // the users of From and To
	callID   string
	toTag    bool // To carries a tag: in a dialog, or a response
	response bool
}

// parse summarises a SIP message as its first line and who it is between,
// `INVITE (device.gate → 1A)` or `180 Ringing (1 INVITE; device.gate → 1A)`,
// with the headers that place it in a dialog.
func parse(b []byte) (h header) {
	head, _, _ := bytes.Cut(b, []byte("\r\n\r\n"))
	lines := strings.Split(string(head), "\r\n")
	if len(lines) == 0 || lines[0] == "" {
		return h
	}
	first := lines[0]
	var cseq string
	for _, line := range lines[1:] {
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "from", "f":
			h.from = userOf(value)
		case "to", "t":
			h.to = userOf(value)
			h.toTag = hasTag(value)
		case "call-id", "i":
			h.callID = strings.TrimSpace(value)
		case "cseq":
			cseq = strings.TrimSpace(value)
		}
	}
	if strings.HasPrefix(first, "SIP/2.0 ") {
		h.response = true
		h.summary = fmt.Sprintf("%s (%s; %s → %s)", strings.TrimPrefix(first, "SIP/2.0 "), cseq, h.from, h.to)
		return h
	}
	method, _, _ := strings.Cut(first, " ")
	h.summary = fmt.Sprintf("%s (%s → %s)", method, h.from, h.to)
	return h
}

// hasTag reports whether a From or To value has a tag parameter: one after
// the closing '>' of a name-addr, or anywhere in a bare addr-spec's
// parameters.
func hasTag(v string) bool {
	if i := strings.LastIndexByte(v, '>'); i >= 0 {
		v = v[i:]
	}
	for _, p := range strings.Split(v, ";")[1:] {
		name, _, _ := strings.Cut(p, "=")
		if strings.EqualFold(strings.TrimSpace(name), "tag") {
			return true
		}
	}
	return false
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
