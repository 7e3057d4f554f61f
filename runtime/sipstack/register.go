package sipstack

import (
	"bytes"
	"fmt"
	"net"
	"strings"
	"sync"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// REGISTER over UDP is answered beside sipgo's transaction layer, straight
// from the listener's read loop.
//
// The registrar's own work is a few microseconds per request. sipgo's
// server transaction around it cost more, and most of the server's memory:
// a goroutine per datagram (whose stack grew twice on its way through the
// handler), a context, a connection lookup, a timer, and the parsed
// request and response kept until Timer J — about 4 KB per transaction,
// two transactions per registration. Kamailio, the yardstick, answers
// REGISTER statelessly and keeps nothing.
//
// This path keeps what RFC 3261 §17.2.2 asks of a non-INVITE server
// transaction, and no more: the final response, as the bytes sent and
// where they went, for Timer J, so that a retransmitted request gets the
// same answer again instead of being processed twice (a REGISTER's nonce
// count is spent once; a second run would be a replay and get a stale
// challenge). The exceptions are challenges (401) and a throttle's
// refusals (403 with Retry-After): a retransmission of such a request is
// answered afresh, with an answer as good as the first, as a stateless
// registrar would (RFC 3261 §8.2.7) — half of all registration traffic,
// and all of a flood of wrong credentials, kept nowhere. (A retransmitted
// wrong password counts as a second failure.)
//
// A REGISTER without credentials does not even reach the parser: it is
// challenged from a scan of its header lines (challenge.go).
//
// REGISTER over TCP and TLS, and every other request, go through sipgo as
// before. With sipgo's SIPDebug trace on, so does REGISTER, so that the
// trace shows every message.

var registerPrefix = []byte("REGISTER ")

// Register answers REGISTER over UDP with its handler, beside sipgo's
// transaction layer; ReadyConn hands it the datagrams it reads.
type Register struct {
	parser   *sip.Parser
	answered answered
	handler  sipgo.RequestHandler
	// challenge, when set, answers REGISTERs without credentials from a
	// scan (challenge.go).
	challenge func(user, source string) []string
	// scanned, when set, answers REGISTERs with credentials from a scan
	// (authregister.go).
	scanned func(*ScannedRegister) bool
}

// NewRegister returns the fast path of REGISTER over UDP to handler (the
// registrar's, as sipgo would call it).
func NewRegister(handler sipgo.RequestHandler) *Register {
	return &Register{parser: sip.NewParser(), handler: handler}
}

// Close forgets the remembered responses.
func (r *Register) Close() { r.answered.close() }

// Serve answers data, a datagram read from conn and sent from src, when
// it is a REGISTER, and reports whether it did. Anything else, and a
// REGISTER sipgo would refuse before its handler (unparsable, or without
// Via or CSeq), is left to sipgo. A REGISTER whose header has a CR or LF
// outside a CRLF never comes here: ReadyConn gives a lone LF its CR and
// drops a lone CR (CRLF).
func (r *Register) Serve(conn net.PacketConn, data []byte, src net.Addr) bool {
	if !bytes.HasPrefix(data, registerPrefix) || sip.SIPDebug {
		return false
	}
	if credentials := credentialsLine(data); credentials && r.scanned != nil {
		if r.serveScanned(conn, data, src) {
			return true
		}
	} else if !credentials && r.challenge != nil && r.challengeScanned(conn, data, src) {
		return true
	}
	msg, err := r.parser.ParseSIP(data)
	if err != nil {
		return false
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Method != sip.REGISTER {
		return false
	}
	key, err := sip.ServerTxKeyMake(req)
	if err != nil {
		return false
	}
	req.SetTransport("UDP")
	req.SetSource(sourceOf(src))
	if r.answered.resend(conn, key, data) {
		return true
	}
	r.handler(req, &udpServerTx{answered: &r.answered, conn: conn, key: txKey{s: key}, req: req, src: src})
	return true
}

// credentialsLine reports whether data's header has a line starting
// "Authorization:", as the REGISTER with credentials of every
// registration does: the scan for a challenge would give up at that line
// (scanRegister), after reading the lines before it.
func credentialsLine(data []byte) bool {
	i := bytes.Index(data, []byte("\r\nAuthorization:"))
	return i >= 0 && i < bytes.Index(data, []byte("\r\n\r\n"))
}

// udpServerTx is the server transaction of a REGISTER read by Serve.
// It lives as long as the handler: Respond sends the response, and a final
// one is remembered for retransmissions. There is no ACK or CANCEL for a
// REGISTER (sipgo, too, matches CANCEL to INVITEs only).
type udpServerTx struct {
	answered *answered
	conn     net.PacketConn
	key      txKey
	req      *sip.Request
	src      net.Addr
	// data is the request's datagram when the answer is sent before the
	// read loop reads the next (a scanned REGISTER's): its answer is then
	// kept sharing the request's lines. nil for a parsed request's, which
	// a handler may answer later.
	data []byte
}

var _ sip.ServerTransaction = (*udpServerTx)(nil)

// respBufs are the buffers responses are written into.
var respBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func (tx *udpServerTx) Respond(res *sip.Response) error {
	// A challenge, and a throttle's refusal, are as good computed again
	// as remembered: they are sent statelessly, so that a flood of wrong
	// credentials from spoofed sources leaves nothing behind.
	remember := !res.IsProvisional() && res.StatusCode != sip.StatusUnauthorized &&
		(res.StatusCode != sip.StatusForbidden || res.GetHeader("Retry-After") == nil)
	buf := respBufs.Get().(*bytes.Buffer)
	defer respBufs.Put(buf)
	buf.Reset()
	res.StringWrite(buf)
	return tx.send(buf.Bytes(), remember)
}

// RespondBytes sends answer, a final response as written out, and
// remembers it for retransmissions, as Respond does a final response that
// is neither a challenge nor a throttle's refusal: the registrar writes
// its 200 so, without building sipgo's response objects first. answer is
// the caller's again once it returns.
func (tx *udpServerTx) RespondBytes(answer []byte) error {
	return tx.send(answer, true)
}

// send sends answer where the request's answer goes; remember keeps it
// for retransmissions.
func (tx *udpServerTx) send(answer []byte, remember bool) error {
	return tx.sendTo(answer, responseDest(tx.req, tx.src), remember)
}

// sendTo sends answer to dst; remember keeps it for retransmissions.
func (tx *udpServerTx) sendTo(answer []byte, dst net.Addr, remember bool) error {
	if len(answer) > sip.UDPMTUSize-200 {
		return sip.ErrUDPMTUCongestion // as sipgo's UDP transport refuses it
	}
	if _, err := tx.conn.WriteTo(answer, dst); err != nil {
		return fmt.Errorf("udp %s: %w", tx.conn.LocalAddr(), err)
	}
	if remember {
		tx.answered.putKey(tx.key, answer, dst, tx.data)
	}
	return nil
}

func (tx *udpServerTx) Terminate()                         {}
func (tx *udpServerTx) OnTerminate(sip.FnTxTerminate) bool { return false }
func (tx *udpServerTx) Done() <-chan struct{}              { return closedChan }
func (tx *udpServerTx) Err() error                         { return nil }
func (tx *udpServerTx) Acks() <-chan *sip.Request          { return nil }
func (tx *udpServerTx) OnCancel(f sip.FnTxCancel) bool     { return false }

// closedChan is the Done of a transaction that has nothing to wait for.
var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// responseDest is where the response to a request over UDP goes (RFC 3261
// §18.2.2, RFC 3581 §4): its source address, with the port of the top
// Via's sent-by unless the Via asks for rport — as sipgo sends it.
func responseDest(req *sip.Request, src net.Addr) net.Addr {
	via := req.Via()
	if via == nil {
		return src
	}
	// Parameter names are case-insensitive (RFC 3261 §7.3.1): "Rport"
	// is rport, as the scan reads it (FuzzScanRegister found sipgo's
	// case-sensitive Get answering such a Via at its sent-by port).
	for _, p := range via.Params {
		if strings.EqualFold(p.K, "rport") {
			if p.V == "" {
				return src
			}
			break
		}
	}
	port := via.Port
	if port > 0xffff {
		// sipgo's parser takes any number; no datagram can go there
		// (FuzzRegister found 100000). The source is where it came from.
		return src
	}
	if port <= 0 {
		port = int(sip.DefaultPort("UDP"))
	}
	if a, ok := src.(*net.UDPAddr); ok {
		if a.Port == port {
			return src
		}
		return &net.UDPAddr{IP: a.IP, Port: port, Zone: a.Zone}
	}
	host, _, err := net.SplitHostPort(src.String())
	if err != nil {
		return src
	}
	return &net.UDPAddr{IP: net.ParseIP(host), Port: port}
}
