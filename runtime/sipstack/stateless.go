package sipstack

import (
	"bytes"
	"fmt"
	"net"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// Requests that fail authentication are answered statelessly, as
// Kamailio's sl_send_reply answers them, straight from the listener's
// read loop: one response per request, no server transaction.
//
// sipgo puts every INVITE in a server transaction before its handler
// runs. For a 407 the transaction retransmits the response until an ACK
// or Timer H — eleven responses over 32 s for one spoofed datagram, an
// amplifier aimed at whatever address the request named — and keeps the
// request, the response and a goroutine all that time: an unauthenticated
// flood grew memory by hundreds of megabytes. A challenge needs none of
// that: it is as good sent again as sent once, so a retransmitted INVITE
// simply gets another one, and a client that lost it retransmits.
//
// The response carries a To tag of its own (statelessTag) so that its ACK,
// which matches no transaction, is recognised and absorbed here without
// any state. No 100 Trying goes before a challenge.

// statelessTag starts the To tag of every stateless response; an ACK whose
// To tag starts with it acknowledges one.
const statelessTag = "sl-"

var (
	invitePrefix    = []byte("INVITE ")
	subscribePrefix = []byte("SUBSCRIBE ")
	ackPrefix       = []byte("ACK ")
	statelessMark   = []byte("tag=" + statelessTag)
)

// Stateless answers new INVITEs and SUBSCRIBEs over UDP that fail
// authentication, and absorbs the ACKs of those answers, beside sipgo's
// transaction layer. (A SUBSCRIBE's transaction retransmits nothing, but
// sipgo keeps it, request and response, for Timer J.)
type Stateless struct {
	parser *sip.Parser
	screen func(req *sip.Request) *sip.Response
	// admission, when set, refuses new INVITEs from a scan of their
	// header lines before any parse (refuseScanned).
	admission *Admission
}

// Refuse has new INVITEs that a refuses answered with its refusal from a
// scan of their header lines, before they are parsed (see refuse.go);
// screen must refuse the same calls, for those the scan leaves to it.
// Call it before serving.
func (s *Stateless) Refuse(a *Admission) { s.admission = a }

// NewStateless returns the stateless path: screen gets every new INVITE
// and SUBSCRIBE read over UDP (no To tag; Transport and Source set) and returns the
// response to send statelessly instead of handing the INVITE to sipgo, or
// nil to leave it to sipgo. It must spend nothing a retransmission would
// need (a nonce count): the request may come again.
func NewStateless(screen func(req *sip.Request) *sip.Response) *Stateless {
	return &Stateless{parser: sip.NewParser(), screen: screen}
}

// Serve answers data, a datagram read from conn and sent from src, when
// it is a new INVITE or SUBSCRIBE screen answers or the ACK of such an answer, and
// reports whether it did.
func (s *Stateless) Serve(conn net.PacketConn, data []byte, src net.Addr) bool {
	if sip.SIPDebug {
		return false
	}
	switch {
	case bytes.HasPrefix(data, ackPrefix):
		if !bytes.Contains(data, statelessMark) {
			return false
		}
		req, ok := s.parse(data, sip.ACK)
		if !ok {
			return false
		}
		tag, _ := req.To().Params.Get("tag")
		return strings.HasPrefix(tag, statelessTag)
	case bytes.HasPrefix(data, invitePrefix), bytes.HasPrefix(data, subscribePrefix):
		if data[0] == 'I' && refuseScanned(s.admission, conn, data, src) {
			return true
		}
		method := sip.INVITE
		if data[0] == 'S' {
			method = sip.SUBSCRIBE
		}
		req, ok := s.parse(data, method)
		if !ok {
			return false
		}
		if _, ok := req.To().Params.Get("tag"); ok {
			return false // in a dialog: sipgo's
		}
		req.SetTransport("UDP")
		req.SetSource(sourceOf(src))
		res := s.screen(req)
		if res == nil {
			return false
		}
		if err := sendStateless(conn, req, res, src); err != nil {
			return false // sipgo's transaction will answer it
		}
		return true
	}
	return false
}

// parse parses data as a request of method with what a server transaction
// needs (Via, CSeq, To); anything else is sipgo's to refuse.
func (s *Stateless) parse(data []byte, method sip.RequestMethod) (*sip.Request, bool) {
	msg, err := s.parser.ParseSIP(data)
	if err != nil {
		return nil, false
	}
	req, ok := msg.(*sip.Request)
	if !ok || req.Method != method || req.To() == nil || req.From() == nil || req.CallID() == nil {
		return nil, false
	}
	if _, err := sip.ServerTxKeyMake(req); err != nil {
		return nil, false
	}
	return req, true
}

// sendStateless sends res to req once, with a stateless To tag.
func sendStateless(conn net.PacketConn, req *sip.Request, res *sip.Response, src net.Addr) error {
	if to := res.To(); to != nil {
		// sipgo gave a final response a random tag; ours marks it as
		// stateless, so that its ACK is known without state.
		to.Params.Add("tag", statelessTag+sip.GenerateTagN(10))
	}
	buf := respBufs.Get().(*bytes.Buffer)
	defer respBufs.Put(buf)
	buf.Reset()
	res.StringWrite(buf)
	if buf.Len() > sip.UDPMTUSize-200 {
		return sip.ErrUDPMTUCongestion
	}
	if _, err := conn.WriteTo(buf.Bytes(), responseDest(req, src)); err != nil {
		return fmt.Errorf("udp %s: %w", conn.LocalAddr(), err)
	}
	return nil
}
