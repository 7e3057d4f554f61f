package sipstack

import (
	"bytes"
	"net"
	"sync"
)

// Trace keeps, for each call, a short record of the SIP messages that
// crossed the wire — the caller's leg and every leg the server forked —
// so that a call that went wrong on a live site can be drawn as a ladder
// diagram afterwards (GET /admin/calls/{id}/sip, switchboard commission
// -html), as the simulator draws its failed cases.
//
// It sits at the sockets (TracePacketConn, TraceConn): what it records is
// what was sent and received, retransmissions and the stateless challenges
// included. Each message is kept as its direction, the peer, the first
// line, CSeq and the users of From and To: never a body, never any other
// header (Authorization and Proxy-Authorization are not even read).
//
// A message is kept only when its Call-ID belongs to a call the server
// told the trace about (Begin, Leg), or is a new INVITE that may become
// one (the first INVITE and its challenge come before the call exists).
// Everything else — registrations, keep-alives, subscriptions — costs a
// scan for the Call-ID and a map lookup. Memory is bounded: traceMessages
// per call, the last TraceFinished calls that ended plus at most
// traceLive in progress, traceTentative new INVITEs not (yet) a call, and
// traceBytes over all of them.
type Trace struct {
	mu sync.Mutex
	// legs maps every traced Call-ID (the caller's and each forked leg's)
	// to its call; calls maps the call's id (its caller's Call-ID, as
	// events name it) to it.
	legs  map[string]*tracedCall
	calls map[string]*tracedCall
	// finished are the ended calls, oldest first; live counts the others.
	finished []*tracedCall
	live     int
	// tentative are new INVITEs' Call-IDs not yet a call, oldest first.
	tentative []*tracedCall
	bytes     int
}

// TraceFinished is how many calls that ended a Trace keeps.
const TraceFinished = 256

// Bounds of a Trace. A walk-through of a site makes a few hundred calls;
// a call of a large residence rung at once, with its challenge, cancels
// and hang-up, has a few dozen messages.
const (
	traceMessages  = 60
	traceLive      = 1024
	traceTentative = 64
	traceBytes     = 4 << 20
	// Each recorded field is cut to this many bytes.
	traceField = 128
)

// TracedMessage is one SIP message of a call as it crossed the wire.
type TracedMessage struct {
	// In is true for a message the server received, false for one it
	// sent.
	In bool `json:"in"`
	// Peer is the account of the leg (as events name it: device.gate,
	// app.sarah), or the peer's address when the message came before the
	// server knew the account (the caller's unauthenticated INVITE).
	Peer string `json:"peer"`
	// Addr is the peer's address.
	Addr string `json:"addr"`
	// FirstLine is the request or status line: `INVITE sip:… SIP/2.0`,
	// `SIP/2.0 180 Ringing`.
	FirstLine string `json:"first_line"`
	CSeq      string `json:"cseq,omitempty"`
	// From and To are the users of the From and To headers.
	From string `json:"from,omitempty"`
	To   string `json:"to,omitempty"`
}

// tracedMessage is a TracedMessage with the Call-ID that names its leg.
type tracedMessage struct {
	TracedMessage
	callID string
	addr   net.Addr
}

// CallTrace is the record of one call: its messages in the order they
// crossed the wire.
type CallTrace struct {
	Call     string          `json:"call"`
	Ended    bool            `json:"ended"`
	Messages []TracedMessage `json:"messages"`
	// More says that the call had more messages than were kept.
	More bool `json:"more,omitempty"`
}

type tracedCall struct {
	id    string
	names map[string]string // leg Call-ID → account
	msgs  []tracedMessage
	more  bool
	ended bool
	size  int
	// tentative: a new INVITE's Call-ID that is not a call (yet).
	tentative bool
}

// NewTrace returns an empty trace.
func NewTrace() *Trace {
	return &Trace{legs: map[string]*tracedCall{}, calls: map[string]*tracedCall{}}
}

// Begin starts the record of call id (the caller's Call-ID), whose caller
// is account: the messages already kept for that Call-ID (the INVITE and
// its challenge) become its first.
func (t *Trace) Begin(id, account string) {
	if t == nil || id == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.legs[id]
	switch {
	case c != nil && !c.tentative:
		return // already begun
	case c != nil:
		t.tentative = deleteCall(t.tentative, c)
		c.tentative = false
	case t.live >= traceLive:
		return // too many calls at once: this one goes untraced
	default:
		c = &tracedCall{}
		t.legs[id] = c
	}
	c.id, c.names = id, map[string]string{id: account}
	t.calls[id] = c
	t.live++
}

// Leg adds the Call-ID of a leg the server sends for call id (to account)
// to its record. It must come before the leg's first request is sent.
func (t *Trace) Leg(id, legCallID, account string) {
	if t == nil || legCallID == "" {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.calls[id]
	if c == nil {
		return
	}
	if _, ok := t.legs[legCallID]; ok {
		return
	}
	t.legs[legCallID] = c
	c.names[legCallID] = account
}

// End marks call id over: it is kept among the last TraceFinished calls
// that ended, for what comes after (the ACK of the final response, late
// retransmissions) and for the operator who asks.
func (t *Trace) End(id string) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.calls[id]
	if c == nil || c.ended {
		return
	}
	c.ended = true
	t.live--
	t.finished = append(t.finished, c)
	for len(t.finished) > TraceFinished {
		t.evictFinished()
	}
}

// Call returns the record of call id.
func (t *Trace) Call(id string) (CallTrace, bool) {
	if t == nil {
		return CallTrace{}, false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.calls[id]
	if c == nil {
		return CallTrace{}, false
	}
	out := CallTrace{Call: id, Ended: c.ended, More: c.more, Messages: make([]TracedMessage, len(c.msgs))}
	for i, m := range c.msgs {
		if m.addr != nil {
			m.Addr = m.addr.String()
		}
		m.Peer = m.Addr
		if name := c.names[m.callID]; name != "" {
			m.Peer = name
		}
		out.Messages[i] = m.TracedMessage
	}
	return out, true
}

// evictFinished forgets the call that ended first.
func (t *Trace) evictFinished() {
	c := t.finished[0]
	t.finished[0] = nil
	t.finished = t.finished[1:]
	t.forget(c)
	delete(t.calls, c.id)
}

func (t *Trace) forget(c *tracedCall) {
	for leg := range c.names {
		if t.legs[leg] == c {
			delete(t.legs, leg)
		}
	}
	for _, m := range c.msgs {
		if t.legs[m.callID] == c {
			delete(t.legs, m.callID)
		}
	}
	t.bytes -= c.size
}

func deleteCall(cs []*tracedCall, c *tracedCall) []*tracedCall {
	for i, x := range cs {
		if x == c {
			return append(cs[:i], cs[i+1:]...)
		}
	}
	return cs
}

// record keeps b, a whole message sent to or received from peer, when its
// Call-ID is traced or it starts a new INVITE transaction.
func (t *Trace) record(in bool, peer net.Addr, b []byte) {
	if len(b) < 8 || b[0] == '\r' || b[0] == '\n' {
		return // a keep-alive
	}
	callID := quickCallID(b)
	var h head
	if callID == nil {
		h = scanHead(b)
		callID = h.callID
	}
	if len(callID) == 0 {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	c := t.legs[string(callID)] // no copy: the compiler sees the lookup
	if c == nil && !bytes.HasPrefix(b, invitePrefix) {
		return // most of what the server sees and sends
	}
	if h.first == nil {
		h = scanHead(b)
	}
	if c == nil {
		if hasToTag(h.to) {
			return
		}
		// A new INVITE: perhaps a call's first, before it is
		// authenticated and routed.
		if len(t.tentative) >= traceTentative {
			old := t.tentative[0]
			t.tentative = t.tentative[1:]
			t.forget(old)
		}
		c = &tracedCall{tentative: true}
		t.tentative = append(t.tentative, c)
		t.legs[string(h.callID)] = c
	}
	limit := traceMessages
	if c.tentative {
		limit = 4 // the INVITE, its challenge, their ACK and retransmission
	}
	if len(c.msgs) >= limit {
		c.more = true
		return
	}
	// One allocation for the fields, sliced apart; the address is made a
	// string only when someone asks.
	first, cseq, from, to := cut(withoutPassword(h.first)), cut(h.cseq), cut(userOf(h.from)), cut(userOf(h.to))
	all := string(first) + string(cseq) + string(from) + string(to) + string(callID)
	m := tracedMessage{TracedMessage: TracedMessage{In: in}, addr: peer}
	m.FirstLine, all = all[:len(first)], all[len(first):]
	m.CSeq, all = all[:len(cseq)], all[len(cseq):]
	m.From, all = all[:len(from)], all[len(from):]
	m.To, m.callID = all[:len(to)], all[len(to):]
	size := len(m.callID) + len(m.FirstLine) + len(m.CSeq) + len(m.From) + len(m.To) + 96
	for t.bytes+size > traceBytes && len(t.finished) > 0 {
		t.evictFinished()
	}
	if t.bytes+size > traceBytes {
		c.more = true
		return
	}
	t.bytes += size
	c.size += size
	c.msgs = append(c.msgs, m)
}

// quickCallID finds the Call-ID of a message that spells the header as
// RFC 3261 does, the usual case, with one search; nil otherwise (and
// scanHead reads it).
func quickCallID(b []byte) []byte {
	i := bytes.Index(b, callIDHeader)
	if i < 0 || bytes.Contains(b[:i+2], []byte("\r\n\r\n")) {
		return nil
	}
	v, _ := nextLine(b[i+len(callIDHeader):])
	return bytes.TrimSpace(v)
}

var callIDHeader = []byte("\r\nCall-ID:")

// head is what the trace reads of a message: its first line and the
// values of the headers that place it, slices of the message.
type head struct {
	first, callID, from, to, cseq, length []byte
}

// scanHead reads b's header section, a line at a time, up to the empty
// line. Nothing is copied: it runs on every message the server sends
// and receives.
func scanHead(b []byte) (h head) {
	h.first, b = nextLine(b)
	for len(b) > 0 {
		var line []byte
		line, b = nextLine(b)
		if len(line) == 0 {
			return h // the empty line: the body follows
		}
		colon := bytes.IndexByte(line, ':')
		if colon <= 0 {
			continue
		}
		name := line[:colon]
		for len(name) > 0 && (name[len(name)-1] == ' ' || name[len(name)-1] == '\t') {
			name = name[:len(name)-1]
		}
		var to *[]byte
		switch len(name) {
		case 1:
			switch name[0] | 0x20 {
			case 'i':
				to = &h.callID
			case 'f':
				to = &h.from
			case 't':
				to = &h.to
			case 'l':
				to = &h.length
			}
		case 2:
			if bytes.EqualFold(name, []byte("to")) {
				to = &h.to
			}
		case 4:
			if bytes.EqualFold(name, []byte("from")) {
				to = &h.from
			} else if bytes.EqualFold(name, []byte("cseq")) {
				to = &h.cseq
			}
		case 7:
			if bytes.EqualFold(name, []byte("call-id")) {
				to = &h.callID
			}
		case 14:
			if bytes.EqualFold(name, []byte("content-length")) {
				to = &h.length
			}
		}
		if to != nil && *to == nil {
			*to = bytes.TrimSpace(line[colon+1:])
		}
	}
	return h
}

// nextLine cuts b after its first line, without the line's CR LF.
func nextLine(b []byte) (line, rest []byte) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		i = len(b)
	}
	line = b[:i]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if i < len(b) {
		rest = b[i+1:]
	}
	return line, rest
}

// cut bounds a recorded field to traceField bytes.
func cut(b []byte) []byte {
	if len(b) > traceField {
		b = b[:traceField]
	}
	return b
}

// userOf is the user part of a From or To value's SIP URI.
func userOf(v []byte) []byte {
	i := bytes.Index(v, []byte("sip:"))
	if i < 0 {
		if i = bytes.Index(v, []byte("sips:")); i < 0 {
			return nil
		}
		i++
	}
	rest := v[i+4:]
	if at := bytes.IndexAny(rest, "@>;"); at >= 0 && rest[at] == '@' {
		user, _, _ := bytes.Cut(rest[:at], []byte(":")) // never a password
		return user
	}
	return nil
}

// withoutPassword is a request line without the password its
// Request-URI's user part may carry (`sip:alice:secret@host`, `sips:`
// too, the scheme in any case: RFC 3261 §19.1.1 advises against it; a
// client may send it all the same). It copies only when there is one.
//
// The user part is taken to end at the URI's last '@', not its first: a
// client that sends a password may send one with characters its grammar
// leaves out (';', '@', '>'), and a password is cut whole or not kept at
// all. When in doubt more goes (a URI parameter with an '@' after a
// port takes the port with it), never less.
func withoutPassword(line []byte) []byte {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return line
	}
	i := sp + 1 + schemeLen(line[sp+1:])
	if i == sp+1 {
		return line // a status line, or no SIP URI
	}
	uri := line[i:]
	if end := bytes.IndexByte(uri, ' '); end >= 0 {
		uri = uri[:end]
	}
	at := bytes.LastIndexByte(uri, '@')
	if at < 0 {
		return line
	}
	colon := bytes.IndexByte(uri[:at], ':')
	if colon < 0 {
		return line
	}
	out := append([]byte(nil), line[:i+colon]...)
	return append(out, line[i+at:]...)
}

// schemeLen is the length of uri's "sip:" or "sips:", matched in any case
// (RFC 3261 §19.1.4), or 0.
func schemeLen(uri []byte) int {
	for _, s := range []string{"sip:", "sips:"} {
		if len(uri) >= len(s) && bytes.EqualFold(uri[:len(s)], []byte(s)) {
			return len(s)
		}
	}
	return 0
}

// hasToTag reports whether a To value carries a tag: the request is in a
// dialog.
func hasToTag(v []byte) bool {
	if i := bytes.LastIndexByte(v, '>'); i >= 0 {
		v = v[i:]
	}
	for _, p := range bytes.Split(v, []byte(";"))[1:] {
		name, _, _ := bytes.Cut(p, []byte("="))
		if bytes.EqualFold(bytes.TrimSpace(name), []byte("tag")) {
			return true
		}
	}
	return false
}

// TracePacketConn records in t every SIP message read from and written
// to pc (a UDP socket: a datagram a message). With a nil t it returns pc.
func TracePacketConn(pc net.PacketConn, t *Trace) net.PacketConn {
	if t == nil {
		return pc
	}
	tc := &tracedPacketConn{PacketConn: pc, t: t}
	if now, ok := pc.(nowReader); ok {
		return &tracedNowConn{tracedPacketConn: tc, now: now}
	}
	return tc
}

// tracedNowConn is a traced socket that can be read without waiting
// (ReadyConn's priority path).
type tracedNowConn struct {
	*tracedPacketConn
	now nowReader
}

func (c *tracedNowConn) ReadFromNow(b []byte) (int, net.Addr, bool, error) {
	n, addr, ok, err := c.now.ReadFromNow(b)
	if ok && err == nil {
		c.t.record(true, addr, b[:n])
	}
	return n, addr, ok, err
}

type tracedPacketConn struct {
	net.PacketConn
	t *Trace
}

func (c *tracedPacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	n, addr, err := c.PacketConn.ReadFrom(b)
	if err == nil {
		c.t.record(true, addr, b[:n])
	}
	return n, addr, err
}

// ReadsCRLF is the traced socket's (ReadyConn): the trace records what
// it returns.
func (c *tracedPacketConn) ReadsCRLF() bool { return readsCRLF(c.PacketConn) }

func (c *tracedPacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	n, err := c.PacketConn.WriteTo(b, addr)
	if err == nil {
		c.t.record(false, addr, b[:n])
	}
	return n, err
}

// TraceListener records in t every SIP message read from and written to
// the connections l accepts (SIP over TCP, or TLS once the listener has
// done the handshake). With a nil t it returns l.
//
// Connections the server opens itself (an INVITE over TCP to a contact
// registered over UDP, RFC 3261 §18.1.1) are sipgo's own and not traced.
func TraceListener(l net.Listener, t *Trace) net.Listener {
	if t == nil {
		return l
	}
	return &tracedListener{Listener: l, t: t}
}

type tracedListener struct {
	net.Listener
	t *Trace
}

func (l *tracedListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return &tracedConn{Conn: c, t: l.t}, nil
}

// tracedConn finds the messages in a stream connection's bytes, each way.
type tracedConn struct {
	net.Conn
	t        *Trace
	rd, wr   framer
	rmu, wmu sync.Mutex
}

func (c *tracedConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.rmu.Lock()
		c.rd.feed(b[:n], func(m []byte) { c.t.record(true, c.Conn.RemoteAddr(), m) })
		c.rmu.Unlock()
	}
	return n, err
}

func (c *tracedConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if n > 0 {
		c.wmu.Lock()
		c.wr.feed(b[:n], func(m []byte) { c.t.record(false, c.Conn.RemoteAddr(), m) })
		c.wmu.Unlock()
	}
	return n, err
}

// maxStreamHead is the longest header section a framer looks for the end
// of; past it the stream is not SIP as the trace understands it, and the
// framer stops.
const maxStreamHead = 16 << 10

// framer cuts a SIP stream into messages (RFC 3261 §18.3): a header
// section up to the empty line, then Content-Length bytes of body, which
// it skips. CRLF keep-alives between messages are skipped too.
type framer struct {
	buf  []byte
	skip int // body bytes still to come
	lost bool
}

// feed takes the stream's next bytes and calls emit with the header
// section (empty line included) of each message completed.
func (f *framer) feed(p []byte, emit func(head []byte)) {
	if f.lost {
		return
	}
	if n := min(f.skip, len(p)); n > 0 {
		f.skip -= n
		p = p[n:]
	}
	f.buf = append(f.buf, p...)
	for {
		if n := min(f.skip, len(f.buf)); n > 0 {
			f.skip -= n
			f.buf = f.buf[:copy(f.buf, f.buf[n:])]
		}
		keep := bytes.TrimLeft(f.buf, "\r\n")
		f.buf = f.buf[:copy(f.buf, keep)]
		i := bytes.Index(f.buf, []byte("\r\n\r\n"))
		if i < 0 {
			if len(f.buf) > maxStreamHead {
				f.buf, f.lost = nil, true
			}
			return
		}
		emit(f.buf[:i+4])
		f.skip = contentLength(f.buf[:i+4])
		f.buf = f.buf[:copy(f.buf, f.buf[i+4:])]
	}
}

// contentLength is a header section's Content-Length (or l), 0 when
// absent or not a number.
func contentLength(head []byte) int {
	v := scanHead(head).length
	n := 0
	for _, d := range v {
		if d < '0' || d > '9' || n > 1<<24 {
			return 0
		}
		n = n*10 + int(d-'0')
	}
	return n
}
