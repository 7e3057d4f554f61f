package sipstack

import (
	"bytes"
	"errors"
	"net"
	"strconv"
)

// Every message read is refused, before sipgo parses it, when its header
// has a CR not followed by LF or a LF not preceded by CR (BareLineEnd):
// sipgo's parser ends a line only at CRLF and keeps a lone LF inside a
// value, and every answer — sipgo's own (200 to OPTIONS, 481, 405), the
// handlers' (100, 401, 407, 486, 503), the scans' (Register, Stateless,
// package sites' 404) — echoes Via, From, To, Call-ID and CSeq as read.
// A peer that ends lines at LF, as many lenient parsers do, would read
// what follows the LF as header fields of the server's answer, of the
// sender's choosing: response splitting. A lone CR fails sipgo's parse,
// but not the scans'. No client sends either, and no answer to such a
// message is safe to send, so it gets none: a datagram is dropped
// (ReadyConn), a stream connection closed (StrictListener for those a
// listener accepts, StrictReads for those sipgo dials). Each refusal is
// counted (LineEndsRefused) and the first logged (strictreads.go).

// BareLineEnd reports whether the header of data, a SIP message, has a
// CR not followed by LF or a LF not preceded by CR. The header runs from
// the first line that is not empty (CRLF keep-alives before a message
// are skipped, as sipgo skips them on a stream) to the first empty line,
// or to the end of data without one; the body after it is not read.
//
// It walks the header once, a line at a time with bytes.IndexByte:
// on the path of every datagram.
func BareLineEnd(data []byte) bool {
	started := false
	for len(data) > 0 {
		lf := bytes.IndexByte(data, '\n')
		if lf < 0 {
			return bytes.IndexByte(data, '\r') >= 0
		}
		if lf == 0 || data[lf-1] != '\r' {
			return true
		}
		line := data[:lf-1]
		if bytes.IndexByte(line, '\r') >= 0 {
			return true
		}
		if len(line) == 0 && started {
			return false
		}
		started = started || len(line) > 0
		data = data[lf+1:]
	}
	return false
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
