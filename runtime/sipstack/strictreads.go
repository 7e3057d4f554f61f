package sipstack

import (
	"errors"
	"log/slog"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"weak"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// StrictReads has the sipgo stack it is given to refuse, on every socket
// it reads, a message whose header has a CR or LF outside a CRLF
// (BareLineEnd; a datagram's or a WebSocket message's lone LFs are
// given CRs instead, CRLF) — the connections sipgo dials itself (a call leg's TCP
// or TLS to a registered contact, a trunk's to its carrier) included,
// which no listener of ours accepts and StrictListener never sees. A peer
// answering over such a connection would otherwise have its lone LF
// echoed like any other (lineend.go): in the ACK of a final response, in
// the answer to a request it sends back over the connection.
//
// sipgo has no hook on the connections it dials: its TCP and TLS
// transports make them with a net.Dialer value (DialerCreate returns the
// struct, whose DialContext we cannot replace), and the TLS client is a
// field of its own. What it has is a read filter, called with every read
// of every socket before its parser, knowing the connection only by its
// transport and addresses. So the check follows each stream by its
// remote address: the *net.TCPAddr a connection reports is made once for
// it and returned by every call (the net package keeps it in the
// connection's descriptor), so its pointer names the connection for as
// long as it lives. A stream's state is held under a weak pointer to it
// and dropped once the address is collected, with the connection; one of
// any other kind is refused (there is none today: every stream sipgo
// reads is TCP underneath, and a filter that could not follow one would
// let its headers through unchecked).
//
// A refused stream's read returns an error, which makes sipgo close the
// connection and log it (sipgoHandler drops that record: noteRefused has
// counted it). A refused datagram or WebSocket message (a lone CR) is
// dropped: for UDP, sipgo's read loop ends at a filter's error.
//
// The accepted streams of a server are checked by StrictListener as
// well, and datagrams by ReadyConn first; what those refuse never
// reaches the filter, so nothing is counted twice, and what ReadyConn
// takes the filter does not walk again (checkedAddrs, conn.go): a
// datagram's header is walked once.
func StrictReads() sipgo.UserAgentOption {
	f := &readFilter{streams: map[weak.Pointer[net.TCPAddr]]*streamCheck{}}
	return sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerReadFilter(f.filter))
}

// errStreamUnknown refuses a stream whose remote address names no
// connection (readFilter).
var errStreamUnknown = errors.New("sipstack: a stream whose remote address is not a TCP address cannot be checked for bare CR or LF")

// readFilter is StrictReads' filter: each stream's streamCheck, by the
// connection's remote address.
type readFilter struct {
	mu      sync.Mutex
	streams map[weak.Pointer[net.TCPAddr]]*streamCheck
}

func (f *readFilter) filter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	switch p.Transport {
	case "TCP", "TLS":
	default:
		// UDP, WS, WSS: a read is a whole message, given CRLF line
		// ends (lineend.go) — by ReadyConn already, for the sockets
		// it reads (checkedAddrs).
		if p.Transport == "UDP" && lineEndsChecked(p.LocalAddr) {
			lowerTopViaParams(data)
			return data, nil
		}
		data, ok := CRLF(data)
		if !ok {
			noteRefused(p.Transport, p.RemoteAddr)
			return nil, nil
		}
		if p.Transport == "UDP" {
			lowerTopViaParams(data) // viaparams.go: where a datagram's answer goes
		}
		return data, nil
	}
	ra, ok := p.RemoteAddr.(*net.TCPAddr)
	if !ok || ra == nil {
		return nil, errStreamUnknown
	}
	key := weak.Make(ra)
	c := f.stream(ra, key)
	// sipgo reads a connection from one goroutine: c is this one's.
	if !c.feed(data) {
		f.forget(key)
		noteRefused(p.Transport, ra)
		return nil, errBareLineEnd
	}
	return data, nil
}

// stream is the check of the connection whose remote address is ra,
// made at its first read.
func (f *readFilter) stream(ra *net.TCPAddr, key weak.Pointer[net.TCPAddr]) *streamCheck {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.streams[key]
	if c == nil {
		c = &streamCheck{}
		f.streams[key] = c
		runtime.AddCleanup(ra, f.forget, key)
	}
	return c
}

func (f *readFilter) forget(key weak.Pointer[net.TCPAddr]) {
	f.mu.Lock()
	delete(f.streams, key)
	f.mu.Unlock()
}

// tracked is how many streams f follows.
func (f *readFilter) tracked() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.streams)
}

// Refusals are counted for the process (LineEndsRefused) and the first
// is logged once, at WARN, through the log TuneServe was given: a peer
// that sends them is either broken or probing, and each one is otherwise
// silent (a datagram dropped, a connection closed). sipgo's own ERROR
// record of each connection closed ("Read error", "Read filter error")
// is dropped by sipgoHandler.
var lineEnds struct {
	refused atomic.Uint64
	log     atomic.Pointer[lineEndLog]
}

type lineEndLog struct {
	log  *slog.Logger
	once sync.Once
}

// LineEndsRefused is how many SIP messages this process refused, since
// it started, because their header had a CR or LF outside a CRLF: every
// server and site of the process (a many-sites router drops them before
// it knows the site), over every transport; a stream closed for one
// counts one.
func LineEndsRefused() uint64 { return lineEnds.refused.Load() }

// RefuseBareLineEnd reports whether data, a message received from src
// (how: "UDP", "TCP"…), is to be refused for a CR or LF outside a CRLF
// in its header (BareLineEnd), and counts it (LineEndsRefused) when so.
func RefuseBareLineEnd(data []byte, how string, src net.Addr) bool {
	if !BareLineEnd(data) {
		return false
	}
	noteRefused(how, src)
	return true
}

// CRLFOrRefuse returns data, a datagram received from src (how: "UDP"),
// given CRLF line ends (CRLF), in data's own array when its capacity has
// room; or ok false, the datagram refused and counted (LineEndsRefused),
// for a lone CR in its header or a length past 65 535 with its CRs. One
// walk of the header, as ReadyConn makes: for a reader of datagrams that
// hands them on to one (package sites' router, CRLFReader).
func CRLFOrRefuse(data []byte, how string, src net.Addr) (msg []byte, ok bool) {
	msg, ok = CRLF(data)
	if !ok {
		noteRefused(how, src)
	}
	return msg, ok
}

// noteRefused counts a refusal, and logs the process's first.
func noteRefused(how string, src net.Addr) {
	lineEnds.refused.Add(1)
	if l := lineEnds.log.Load(); l != nil {
		l.once.Do(func() {
			from := ""
			if src != nil {
				from = src.String()
			}
			l.log.Warn("refused a SIP message whose header has a CR or LF outside a CRLF (RFC 3261 §7); the next ones are only counted (line_end_refused in /admin/status)",
				"received", how, "from", from)
		})
	}
}

// setLineEndLog has the next refusal logged on log (nil: none).
func setLineEndLog(log *slog.Logger) {
	if log == nil {
		lineEnds.log.Store(nil)
		return
	}
	lineEnds.log.Store(&lineEndLog{log: log})
}
