package sipstack

import (
	"bytes"
	"errors"
	"net"
	"strconv"
)

// A message read whose header has a CR not followed by LF (a lone CR)
// is refused before sipgo parses it, and so is one with a LF not
// preceded by CR (a lone LF) on a stream; in a datagram or a WebSocket
// message, a whole message a read, a lone LF ends its line as a CRLF
// would (CRLF): RFC 3261 §7 asks for CRLF, but Kamailio, like most
// lenient parsers, ends a line at LF and takes the message (measured:
// Kamailio 5.6 answers an OPTIONS whose lines end at LF, and drops one
// whose lines end at CR), and a carrier that sends one was never heard.
//
// Why neither may reach sipgo as sent: sipgo's parser ends a line only
// at CRLF and keeps a lone LF inside a value, and every answer — sipgo's
// own (200 to OPTIONS, 481, 405), the handlers' (100, 401, 407, 486,
// 503), the scans' (Register, Stateless, package sites' 404) — echoes
// Via, From, To, Call-ID and CSeq as read. A peer that ends lines at LF
// would read what follows the LF as header fields of the server's
// answer, of the sender's choosing: response splitting. With a CR put
// before each lone LF, the server reads those lines as the lenient peer
// does — header fields of the message it sent — and echoes none of them
// inside another. A lone CR ends no line for any parser we know of;
// such a message gets no answer: a datagram is dropped (ReadyConn), a
// stream connection closed (StrictListener for those a listener accepts,
// StrictReads for those sipgo dials). A stream is not given CRs: its
// messages are framed, by sipgo and by streamCheck, at CRLF CRLF. Each
// refusal is counted (LineEndsRefused) and the first logged
// (strictreads.go).

// maxMessage bounds a message given CRs (CRLF): sipgo's limit on a whole
// message, the most a UDP read returns.
const maxMessage = 65535

// headerLineEnds walks the header of data, a SIP message, once, a line at a
// time with bytes.IndexByte: on the path of every datagram. The header
// runs from the first line that is not empty (keep-alives before a
// message are skipped, as sipgo skips them on a stream) to the first
// empty line, or to the end of data without one; the body after it is
// not read. It reports how many of the header's lines end at a lone LF,
// where the header ends (just after its empty line), and ok false when
// the header has a lone CR.
func headerLineEnds(data []byte) (lone, end int, ok bool) {
	started := false
	for off := 0; off < len(data); {
		rest := data[off:]
		lf := bytes.IndexByte(rest, '\n')
		if lf < 0 {
			return lone, len(data), bytes.IndexByte(rest, '\r') < 0
		}
		line := rest[:lf]
		if lf > 0 && rest[lf-1] == '\r' {
			line = rest[:lf-1]
		} else {
			lone++
		}
		if bytes.IndexByte(line, '\r') >= 0 {
			return lone, 0, false
		}
		off += lf + 1
		if len(line) == 0 && started {
			return lone, off, true
		}
		started = started || len(line) > 0
	}
	return lone, len(data), true
}

// BareLineEnd reports whether the header of data, a SIP message, has a
// CR not followed by LF or a LF not preceded by CR (headerLineEnds): what a
// stream refuses.
func BareLineEnd(data []byte) bool {
	lone, _, ok := headerLineEnds(data)
	return !ok || lone > 0
}

// CRLF returns data, a whole SIP message (a datagram, a WebSocket
// message), with every line of its header ending at CRLF: data itself
// when each does, which is one walk of the header (headerLineEnds); when some
// end at a lone LF, a CR put before each, the body after the header
// moved along unchanged (its Content-Length still holds). That is done
// in data's own array when its capacity has room (a read buffer of
// maxMessage has), written from the end so that nothing is read after it
// is overwritten, and in a new one otherwise. ok is false, and data not
// to be taken, when the header has a lone CR, or when the message with
// its CRs would be longer than maxMessage.
func CRLF(data []byte) (out []byte, ok bool) {
	lone, end, ok := headerLineEnds(data)
	if !ok {
		return nil, false
	}
	if lone == 0 {
		return data, true
	}
	n := len(data) + lone
	if n > maxMessage {
		return nil, false
	}
	if n <= cap(data) {
		out = data[:n]
	} else {
		out = make([]byte, n)
	}
	copy(out[end+lone:], data[end:]) // the body; copy moves overlapping bytes right
	// From the header's end back: the byte at i goes to i plus the lone
	// LFs at or before it, never left of i, so data[i-1] is still as
	// read when data[i] is looked at.
	j := end + lone
	for i := end - 1; i >= 0; i-- {
		c := data[i]
		j--
		out[j] = c
		if c == '\n' && (i == 0 || data[i-1] != '\r') {
			j--
			out[j] = '\r'
		}
	}
	return out, true
}

// StrictListener refuses, on the connections l accepts, every message
// whose header BareLineEnd finds at fault: the connection is closed
// before the bytes that end that header reach sipgo, whose stream parser
// hands on a message only once its header is whole. A stream has no
// message boundary to skip to but the Content-Length of a header read
// as sipgo reads it, so a header whose Content-Length is missing or not
// sipgo's number closes the connection too (sipgo would close it).
//
// It covers the connections a listener accepts; the ones sipgo dials
// itself are checked by StrictReads.
func StrictListener(l net.Listener) net.Listener { return &strictListener{Listener: l} }

type strictListener struct{ net.Listener }

func (l *strictListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return c, err
	}
	return &strictConn{Conn: c}, nil
}

// errBareLineEnd is what sipgo reads from a connection closed for a
// message refused. sipgoHandler drops sipgo's record of it (noteRefused
// has said it once).
var errBareLineEnd = errors.New("sipstack: a CR or LF outside a CRLF in a message header")

// maxStrictHead bounds the header a streamCheck holds: sipgo's limit on a
// whole message.
const maxStrictHead = 65535

// strictConn checks each message header read before sipgo has it; sipgo
// reads a connection from one goroutine, so it needs no lock.
type strictConn struct {
	net.Conn
	check streamCheck
}

func (c *strictConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		if !c.check.feed(b[:n]) {
			// Counted before the close, which the peer sees.
			noteRefused("accepted stream", c.Conn.RemoteAddr())
			c.Conn.Close()
			return 0, errBareLineEnd
		}
	}
	return n, err
}

// streamCheck follows one stream's messages, header by header, as sipgo's
// stream parser frames them.
type streamCheck struct {
	head []byte // the header read so far, from its first byte
	skip uint64 // body bytes still to come
	bad  bool
}

// feed follows the stream through p, and reports false once a header is
// refused (and from then on). Each byte is looked at a bounded number of
// times: a header sent a byte at a time is searched for its end from
// where the last read stopped, and checked once, whole.
func (c *streamCheck) feed(p []byte) bool {
	for len(p) > 0 && !c.bad {
		if c.skip > 0 {
			n := min(c.skip, uint64(len(p)))
			c.skip -= n
			p = p[n:]
			continue
		}
		from := max(len(c.head)-3, 0)
		c.head = append(c.head, p...)
		p = nil
		// Between messages: CRLF keep-alives, skipped as sipgo skips
		// them.
		k := 0
		for len(c.head)-k >= 2 && c.head[k] == '\r' && c.head[k+1] == '\n' {
			k += 2
		}
		if k > 0 {
			c.head = c.head[:copy(c.head, c.head[k:])]
			from = 0
		}
		end := bytes.Index(c.head[from:], []byte("\r\n\r\n"))
		if end < 0 {
			// sipgo has no message before the header's end, which
			// this read did not bring.
			c.bad = len(c.head) > maxStrictHead
			break
		}
		end += from + 4
		head := c.head[:end]
		length, ok := streamLength(head)
		if !ok || BareLineEnd(head) {
			c.bad = true
			break
		}
		c.skip = length
		p = c.head[end:] // the body and what follows, moved down next turn
		c.head = c.head[:0]
	}
	if c.bad {
		c.head = nil // the connection is closed: what it held is not needed
	}
	return !c.bad
}

// streamLength is the Content-Length of head, a header without a bare CR
// or LF, as sipgo reads it: the last Content-Length (or l) header's
// value, a decimal of 32 bits; ok is false without one, or when sipgo
// would refuse it.
func streamLength(head []byte) (n uint64, ok bool) {
	for line := range bytes.SplitSeq(head, []byte("\r\n")) {
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found || len(line) == 0 || line[0] == ' ' || line[0] == '\t' {
			continue
		}
		name = bytes.TrimSpace(name)
		if !bytes.EqualFold(name, []byte("content-length")) && !bytes.EqualFold(name, []byte("l")) {
			continue
		}
		v, err := strconv.ParseUint(string(bytes.TrimSpace(value)), 10, 32)
		if err != nil {
			return 0, false
		}
		n, ok = v, true
	}
	return n, ok
}
