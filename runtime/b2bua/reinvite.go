package b2bua

import (
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/runtime/carrier"
	"switchboard/runtime/events"
	"switchboard/runtime/media"
	"switchboard/runtime/sipstack"
)

// mediaUpdater is a MediaSession that takes SDP from either side of an
// answered call and returns it for the other: the media relay
// (media.Relay.Update).
type mediaUpdater interface {
	Update(from media.Side, sdp []byte, via ...netip.Addr) ([]byte, error)
}

// reinviteTimeout bounds a relayed re-INVITE: the other party answers it
// or its transaction times out (RFC 3261 Timer B, 32 s) first.
const reinviteTimeout = 40 * time.Second

// onReinvite relays a re-INVITE — hold and resume, a codec or address
// change — of an answered call to the other party, in that party's
// dialog, with the SDP passed through the media relay both ways, and
// answers the party that sent it with the other's answer (status and
// SDP). A re-INVITE crossing one in progress gets 491 (RFC 3261 §14.1);
// one without SDP (asking the other side for an offer) and one in a call
// the server answered itself get 488, which keeps the session as it is
// (§14.2). When the other party refuses, the sender keeps its session;
// the relay has already learned the sender's new offer, which matters
// only if that offer moved the sender's media address.
func (s *Server) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	side, ok := s.dialogOf(req, tx)
	if !ok {
		return
	}
	c := side.call
	offer, err := sdpOf(req)
	if err != nil {
		refuseBody(tx, req)
		return
	}
	asked := offer // as the party sent it; offer becomes what we forward
	c.mu.Lock()
	w, ended, local, busy := c.winner, c.ended, c.local != nil, c.reinviting
	switch {
	case ended || (side.br != nil && side.br != w):
		c.mu.Unlock()
		respond(tx, req, 481, "Call/Transaction Does Not Exist")
		return
	case w == nil || local || len(offer) == 0:
		c.mu.Unlock()
		respond(tx, req, 488, "Not Acceptable Here")
		return
	case busy:
		c.mu.Unlock()
		respond(tx, req, 491, "Request Pending")
		return
	}
	c.reinviting = true
	c.mu.Unlock()
	// The relay is over once the other party has answered: a re-INVITE
	// the sender sends as soon as it has this one's answer is not a
	// crossing one.
	reply := func(status int, reason string, body []byte, hdrs ...sip.Header) {
		c.mu.Lock()
		c.reinviting = false
		c.mu.Unlock()
		res := sip.NewResponseFromRequest(req, status, reason, body)
		for _, h := range hdrs {
			res.AppendHeader(h)
		}
		_ = tx.Respond(res)
	}

	fromCaller := side.br == nil
	from, to := media.Caller, media.Callee
	if !fromCaller {
		from, to = media.Callee, media.Caller
	}
	upd, _ := c.media.(mediaUpdater)
	if upd != nil {
		// The sender's media is accepted from where this re-INVITE came
		// from: a phone that changed networks.
		if offer, err = upd.Update(from, offer, hostIP(req.Source())); err != nil {
			// Why stays here (see respond): the peer hears only 488.
			c.s.log.Debug("re-INVITE refused: unusable SDP offer", "call", c.id, "error", err)
			reply(488, "Not Acceptable Here", nil)
			return
		}
	}
	var fwd *sip.Request
	build := sipgo.ClientRequestBuild
	if fromCaller {
		fwd = c.toCallee(w, sip.INVITE, c.nextSeq(w))
		build = c.build(w)
	} else {
		fwd = c.toCaller(sip.INVITE)
	}
	fwd.AppendHeader(s.contactHeader(fwd.Destination(), fwd.Transport()))
	fwd.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	fwd.SetBody(offer)

	ctx, cancel := context.WithTimeout(context.Background(), reinviteTimeout)
	defer cancel()
	res, err := sipstack.Do(ctx, s.client(), fwd, build)
	if err == nil && carrier.IsChallenge(res) && fromCaller && c.isTrunk(w) && c.out.hasCred {
		// A carrier may challenge a re-INVITE as it did the INVITE: once.
		retry := fwd.Clone()
		retry.RemoveHeader("Via")
		retry.CSeq().SeqNo = c.nextSeq(w)
		if aerr := carrier.Authorize(retry, res, c.out.cred); aerr == nil {
			fwd = retry
			res, err = sipstack.Do(ctx, s.client(), fwd, s.trunkResend)
		}
	}
	if err != nil {
		s.log.Info("re-INVITE not answered", "call", c.id, "error", err)
		reply(408, "Request Timeout", nil)
		return
	}
	if !res.IsSuccess() {
		reply(res.StatusCode, res.Reason, nil)
		return
	}
	c.ackReinvite(fwd, res, build)
	answer, err := sdpOf(res)
	if err != nil {
		s.log.Warn("unusable body in the answer to a re-INVITE", "call", c.id, "error", err)
		reply(488, "Not Acceptable Here", nil)
		return
	}
	if upd != nil && len(answer) > 0 {
		if answer, err = upd.Update(to, answer); err != nil {
			s.log.Warn("unusable SDP answer to a re-INVITE", "call", c.id, "error", err)
			reply(488, "Not Acceptable Here", nil)
			return
		}
	}
	s.publish(events.Event{Kind: events.CallUpdated, Call: c.id, From: c.caller, Leg: w.account, Cause: reinviteCause(fromCaller, asked), Origin: c.dec.Origin})
	hdrs := []sip.Header{s.contactHeader(req.Source(), req.Transport())}
	if len(answer) > 0 {
		hdrs = append(hdrs, sip.NewHeader("Content-Type", "application/sdp"))
	}
	reply(200, "OK", answer, hdrs...)
}

// reinviteCause says who re-offered and what the offer's audio direction
// asks for: "caller: sendonly" is the caller putting the call on hold.
func reinviteCause(fromCaller bool, sdp []byte) string {
	who := "callee"
	if fromCaller {
		who = "caller"
	}
	return who + ": " + direction(sdp)
}

// direction is the audio direction an SDP asks for (RFC 3264 §5.1): the
// attribute of its first audio stream, else of the session, else
// sendrecv.
func direction(sdp []byte) string {
	dir, inAudio, seenMedia := "", false, false
	for _, line := range strings.Split(string(sdp), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "m="):
			if inAudio {
				return orSendrecv(dir)
			}
			inAudio, seenMedia = strings.HasPrefix(line, "m=audio "), true
		case line == "a=sendonly" || line == "a=recvonly" || line == "a=inactive" || line == "a=sendrecv":
			if inAudio || !seenMedia {
				dir = line[2:]
			}
		}
	}
	return orSendrecv(dir)
}

func orSendrecv(dir string) string {
	if dir == "" {
		return "sendrecv"
	}
	return dir
}

// nextSeq is the CSeq of the server's next request in branch b's dialog.
func (c *call) nextSeq(b *branch) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.seq == 0 {
		b.seq = b.req.CSeq().SeqNo
	}
	b.seq++
	return b.seq
}

// ackReinvite acknowledges the 2xx of a relayed re-INVITE (RFC 3261
// §13.2.2.4: the ACK has the INVITE's CSeq number).
func (c *call) ackReinvite(inv *sip.Request, res *sip.Response, build sipgo.ClientRequestOption) {
	uri := inv.Recipient
	if ct := res.Contact(); ct != nil {
		uri = ct.Address
	}
	ack := sip.NewRequest(sip.ACK, uri)
	ack.AppendHeader(sip.HeaderClone(inv.From()))
	ack.AppendHeader(sip.HeaderClone(res.To()))
	ack.AppendHeader(sip.HeaderClone(inv.CallID()))
	ack.AppendHeader(&sip.CSeqHeader{SeqNo: inv.CSeq().SeqNo, MethodName: sip.ACK})
	mf := sip.MaxForwardsHeader(70)
	ack.AppendHeader(&mf)
	for _, r := range inv.GetHeaders("Route") {
		ack.AppendHeader(sip.HeaderClone(r)) // the dialog's route set
	}
	ack.SetDestination(inv.Destination())
	ack.SetTransport(inv.Transport())
	ack.SetBody(nil)
	if err := c.s.client().WriteRequest(ack, build); err != nil {
		c.s.log.Warn("ack of a re-INVITE failed", "call", c.id, "error", err)
	}
}
