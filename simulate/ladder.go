package simulate

import (
	"bytes"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"switchboard/runtime/sipstack"
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

	// sent counts every SIP message the server sent or received, for
	// Report.SIP: what a run costs in messages.
	sent atomic.Uint64

	mu  sync.Mutex
	msg []rawMessage
	// raw are the messages as they crossed, back to back. Whole: a
	// message's header section is found when a failed case's ladder is
	// drawn (parse), not as every message passes — looking for its end
	// cost more than copying its body along.
	raw []byte
	// calls are the Call-IDs of the INVITEs the server sent since the
	// case began, whatever the ladder's length: a device reached by any
	// other INVITE is reached by a call of an earlier case.
	calls map[string]bool
	// earlier are the Call-IDs of the INVITEs sent in earlier cases, the
	// last maxEarlierCalls of them (ring holds them in the order they
	// were retired, next is where the next one goes): a retransmission
	// of one, sent during this case, is still an earlier case's call, not
	// one of this case's.
	earlier map[string]struct{}
	ring    []string
	next    int
	// tap, when set (by a test), sees each message as it is recorded; a
	// message the server sends for which it returns true is held back,
	// not sent: how a test delivers an INVITE late, as a loaded machine
	// can, at the moment it chooses.
	tap func(dir string, peer net.Addr, b []byte) (hold bool)
}

// setTap sets the ladder's tap (see ladder.tap).
func (l *ladder) setTap(f func(dir string, peer net.Addr, b []byte) (hold bool)) {
	l.mu.Lock()
	l.tap = f
	l.mu.Unlock()
}

// rawMessage is one recorded message: raw[start:end].
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
	l.msg, l.raw = l.msg[:0], l.raw[:0]
	l.retireCalls()
	l.mu.Unlock()
}

// forgetCalls forgets the INVITEs sent so far, keeping the messages: a
// device reached by one of them from now on is reached late.
func (l *ladder) forgetCalls() {
	l.mu.Lock()
	l.retireCalls()
	l.mu.Unlock()
}

// maxEarlierCalls bounds the earlier cases' Call-IDs remembered. A
// retransmission leaves within Timer B of the first copy, and only while
// the callee has sent nothing back: a few an earlier case left ringing
// unheard, on a machine too loaded to answer within T1.
const maxEarlierCalls = 1024

// retireCalls moves the case's calls to the earlier ones, forgetting the
// oldest beyond maxEarlierCalls. Under l.mu.
func (l *ladder) retireCalls() {
	for id := range l.calls {
		if l.earlier == nil {
			l.earlier = map[string]struct{}{}
		}
		if len(l.ring) < maxEarlierCalls {
			l.ring = append(l.ring, id)
		} else {
			delete(l.earlier, l.ring[l.next])
			l.ring[l.next] = id
			l.next = (l.next + 1) % maxEarlierCalls
		}
		l.earlier[id] = struct{}{}
	}
	clear(l.calls)
}

// invited reports whether the server sent an INVITE of the call since the
// case began.
func (l *ladder) invited(callID string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.calls[callID]
}

// callIDOf is the Call-ID of a message, or "".
func callIDOf(msg []byte) string {
	for line := range bytes.SplitSeq(msg, []byte("\r\n")) {
		if len(line) == 0 {
			return "" // the end of the header section
		}
		name, value, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		if n := bytes.TrimSpace(name); bytes.EqualFold(n, []byte("Call-ID")) || bytes.EqualFold(n, []byte("i")) {
			return string(bytes.TrimSpace(value))
		}
	}
	return ""
}

// SIPMessage is one SIP message of a failed case's call as the server saw
// it: who sent it, who received it ("server" on one side, the peer's name
// on the other) and its summary, such as `INVITE (gate → 1A)`. Reports
// draw these as a ladder diagram.
type SIPMessage struct {
	From, To, Summary string
}

// messages returns the recorded messages (at most maxLadder), in their
// canonical order, and whether more were recorded than that.
//
// Only the case's own traffic is shown: the messages of a Call-ID whose
// first recorded message starts something (a request with no To tag).
// What the previous case left in flight — the 200 to a presence NOTIFY,
// a NOTIFY of an older subscription — arrives whenever the machine gets
// to it, and would otherwise open the ladder on a loaded machine. So do
// the NOTIFYs the server sends of itself, outside any subscription (a
// new voicemail's unsolicited message-summary, after the call that left
// it): they are never shown.
func (l *ladder) messages() (out []SIPMessage, more bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	own := map[string]bool{} // Call-ID → began in this case
	for _, m := range l.msg {
		h := parse(l.raw[m.start:m.end])
		if _, seen := own[h.callID]; !seen && h.callID != "" {
			own[h.callID] = !h.response && !h.toTag && !strings.HasPrefix(h.summary, "NOTIFY ")
		}
	}
	for _, m := range l.msg {
		h := parse(l.raw[m.start:m.end])
		if h.callID != "" && !own[h.callID] {
			continue
		}
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
	out = canonical(out)
	if len(out) > maxLadder {
		return out[:maxLadder], true
	}
	// The recorder stops after maxLadder+1 messages: what came after is
	// not known, and may have been the case's.
	return out, len(l.msg) > maxLadder
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

func (l *ladder) record(dir string, peer net.Addr, b []byte) (hold bool) {
	if len(b) == 0 || bytes.HasPrefix(b, []byte("\r\n")) {
		return false // a keep-alive: parse has nothing to show
	}
	l.sent.Add(1)
	// Only the INVITEs the server sends are read here, before they leave
	// (WriteTo), so that the device's side can never see one first.
	var invite string
	if dir == dirOut && bytes.HasPrefix(b, []byte("INVITE ")) {
		invite = callIDOf(b)
	}
	l.mu.Lock()
	tap := l.tap
	if invite != "" {
		if _, retransmitted := l.earlier[invite]; !retransmitted {
			if l.calls == nil {
				l.calls = map[string]bool{}
			}
			l.calls[invite] = true
		}
	}
	if len(l.msg) <= maxLadder {
		start := len(l.raw)
		l.raw = append(l.raw, b...)
		l.msg = append(l.msg, rawMessage{dir: dir, peer: peer, start: start, end: len(l.raw)})
	}
	l.mu.Unlock()
	return tap != nil && tap(dir, peer, b)
}

func (l *ladder) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := l.PacketConn.ReadFrom(b)
	if err == nil {
		l.record(dirIn, addr, b[:n])
	}
	return n, addr, err
}

func (l *ladder) WriteTo(b []byte, addr net.Addr) (int, error) {
	if l.record(dirOut, addr, b) {
		return len(b), nil // held back by the tap: lost, as far as the server knows
	}
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
	h.summary, h.response = summary(first, cseq, h.from, h.to)
	return h
}

// summary is how the ladder labels a message: `INVITE (device.gate →
// 1A)`, `180 Ringing (1 INVITE; device.gate → 1A)`.
func summary(first, cseq, from, to string) (s string, response bool) {
	if status, ok := strings.CutPrefix(first, "SIP/2.0 "); ok {
		return fmt.Sprintf("%s (%s; %s → %s)", status, cseq, from, to), true
	}
	method, _, _ := strings.Cut(first, " ")
	return fmt.Sprintf("%s (%s → %s)", method, from, to), false
}

// TracedLadder is the ladder of a live call as the server recorded it
// (sipstack.CallTrace, GET /admin/calls/{id}/sip), in the form and order
// a simulated case's failure has: "server" on one side, the account of
// the leg on the other. more says the call had more messages than these.
func TracedLadder(ct sipstack.CallTrace) (msgs []SIPMessage, more bool) {
	for _, m := range ct.Messages {
		text, _ := summary(m.FirstLine, m.CSeq, m.From, m.To)
		msg := SIPMessage{From: "server", To: m.Peer, Summary: text}
		if m.In {
			msg.From, msg.To = m.Peer, "server"
		}
		msgs = append(msgs, msg)
	}
	msgs = canonical(msgs)
	if len(msgs) > maxLadder {
		return msgs[:maxLadder], true
	}
	return msgs, ct.More
}

// LadderLines renders a ladder as text, a line a message, as switchboard
// test prints a failure's: `server ← device.gate INVITE (device.gate →
// 1A)`; a last line says when more messages were not shown.
func LadderLines(msgs []SIPMessage, more bool) []string { return ladderLines(msgs, more) }

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

// canonical puts a call's messages in an order that does not depend on
// how the machine scheduled the devices and the server, only on what the
// messages were, so that the same failure draws the same ladder (and
// `test -html` writes the same page) every time.
//
// The order kept is the causal one a device and the server can show:
//
//   - Each party's own messages (its leg: the caller's, each forked
//     callee's) stay in their order.
//   - A device answers only what the server sent it on its own leg, so a
//     message in from any party but the first (the caller) is drawn right
//     after the message before it on that leg, as is what the server
//     sends without deciding anything — an ACK, a 100 Trying, the answer
//     to a BYE or CANCEL. The server could not have waited for them:
//     they follow their cause, not whichever other leg's message the
//     machine happened to carry first.
//   - The rest — the caller's messages and what the server decides to
//     send to the forked legs (INVITEs, CANCELs, BYEs, the answers to the
//     caller's INVITE) — keep the order they crossed the wire in, but for
//     each run of the server's messages to different callee legs in a
//     row (the INVITEs of a fork, the CANCELs when one answered), which
//     go in the order of the parties' names: the server sent them
//     together, none caused by another.
func canonical(msgs []SIPMessage) []SIPMessage {
	if len(msgs) < 2 {
		return msgs
	}
	n := len(msgs)
	leg := make([]string, n)
	for i, m := range msgs {
		leg[i] = m.From
		if m.From == "server" {
			leg[i] = m.To
		}
	}
	caller := leg[0]
	// follows[i]: message i is drawn right after the one before it on its
	// leg; next[i] is that leg's next message.
	follows := make([]bool, n)
	next := make([]int, n)
	last := map[string]int{}
	for i := range msgs {
		next[i] = -1
		p, seen := last[leg[i]]
		if seen {
			next[p] = i
		}
		last[leg[i]] = i
		if !seen || leg[i] == caller {
			continue
		}
		in := msgs[i].To == "server"
		follows[i] = in || automatic(msgs[i].Summary)
	}
	var spine []int
	for i := range msgs {
		if !follows[i] {
			spine = append(spine, i)
		}
	}
	// Runs of the server's messages to different callee legs, in name
	// order.
	for start := 0; start < len(spine); {
		end := start
		in := map[string]bool{}
		for end < len(spine) && msgs[spine[end]].From == "server" && leg[spine[end]] != caller && !in[leg[spine[end]]] {
			in[leg[spine[end]]] = true
			end++
		}
		if end > start+1 {
			run := spine[start:end]
			slices.SortStableFunc(run, func(a, b int) int { return strings.Compare(leg[a], leg[b]) })
		}
		start = max(end, start+1)
	}
	out := make([]SIPMessage, 0, n)
	for _, i := range spine {
		out = append(out, msgs[i])
		for j := next[i]; j >= 0 && follows[j]; j = next[j] {
			out = append(out, msgs[j])
		}
	}
	return out
}

// automatic reports whether a message the server sends is one it sends
// without a decision: an ACK, a 100 Trying, or the response to a request
// other than INVITE (a BYE's, a CANCEL's 200).
func automatic(summary string) bool {
	first, rest, _ := strings.Cut(summary, " ")
	if first == "ACK" {
		return true
	}
	if len(first) != 3 || strings.Trim(first, "0123456789") != "" {
		return false // another request
	}
	if first == "100" {
		return true
	}
	// `200 OK (7 BYE; a → b)` or, numbers dropped, `200 OK (BYE; a → b)`.
	_, cseq, _ := strings.Cut(rest, "(")
	cseq, _, _ = strings.Cut(cseq, ";")
	f := strings.Fields(cseq)
	return len(f) > 0 && f[len(f)-1] != "INVITE"
}
