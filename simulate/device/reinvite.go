package device

import (
	"context"
	"errors"
	"strings"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
	"github.com/pion/sdp/v3"
)

// Re-INVITEs in an established call: a device puts the other party on
// hold (a=sendonly) and back (a=sendrecv) with Reinvite, and answers the
// re-INVITEs it receives as phones do — it follows the new address and
// mirrors the direction (sendonly is answered recvonly) — keeping the
// directions it was offered for the test to read (Reoffers).

// onReinvite answers a re-INVITE in one of the hub's calls.
func (h *Hub) onReinvite(req *sip.Request, tx sip.ServerTransaction) {
	h.mu.Lock()
	c := h.calls[req.CallID().Value()]
	h.mu.Unlock()
	if c == nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 481, "Call/Transaction Does Not Exist", nil))
		return
	}
	if err := c.media.setRemote(req.Body()); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, 488, "Not Acceptable Here", nil))
		return
	}
	dir := direction(req.Body())
	c.mu.Lock()
	c.reoffers = append(c.reoffers, dir)
	c.mu.Unlock()
	res := sip.NewResponseFromRequest(req, 200, "OK", c.offer(mirror(dir)))
	res.AppendHeader(c.d.contact())
	res.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	_ = tx.Respond(res)
	c.d.signal()
}

// Reinvite re-offers the call's audio with direction dir — "sendonly"
// puts the other party on hold, "sendrecv" takes it off — and returns the
// direction of the answer. A refusal is a *StatusError.
func (c *Call) Reinvite(ctx context.Context, dir string) (string, error) {
	req := c.inDialog(sip.INVITE)
	req.AppendHeader(sip.NewHeader("Content-Type", "application/sdp"))
	req.SetBody(c.offer(dir))
	var tx sip.ClientTransaction
	var err error
	if c.dialog != nil {
		// The dialog numbers it (CSeq), so that its BYE comes after.
		tx, err = c.dialog.TransactionRequest(ctx, req)
	} else {
		tx, err = c.d.hub.client.TransactionRequest(ctx, req, sipgo.ClientRequestBuild)
	}
	if err != nil {
		return "", err
	}
	defer tx.Terminate()
	var res *sip.Response
	for res == nil {
		select {
		case r := <-tx.Responses():
			if !r.IsProvisional() {
				res = r
			}
		case <-tx.Done():
			return "", errors.Join(errors.New("re-INVITE not answered"), tx.Err())
		case <-ctx.Done():
			return "", ctx.Err()
		}
	}
	if !res.IsSuccess() {
		return "", &StatusError{Status: res.StatusCode, Reason: res.Reason}
	}
	ack := sip.NewRequest(sip.ACK, req.Recipient)
	ack.SetDestination(req.Destination())
	if c.dialog != nil {
		err = c.dialog.WriteRequest(ack) // the dialog's headers, the re-INVITE's CSeq
	} else {
		ack.AppendHeader(sip.HeaderClone(req.From()))
		ack.AppendHeader(sip.HeaderClone(res.To()))
		ack.AppendHeader(sip.HeaderClone(req.CallID()))
		ack.AppendHeader(&sip.CSeqHeader{SeqNo: req.CSeq().SeqNo, MethodName: sip.ACK})
		ack.SetBody(nil)
		err = c.d.hub.client.WriteRequest(ack, sipgo.ClientRequestBuild)
	}
	if err != nil {
		return "", err
	}
	if err := c.media.setRemote(res.Body()); err != nil {
		return "", err
	}
	return direction(res.Body()), nil
}

// Reoffers returns the directions of the re-INVITEs the call received.
func (c *Call) Reoffers() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.reoffers...)
}

// inDialog starts a request of this device in the call's dialog: for an
// outbound call the dialog adds its headers when it sends it.
func (c *Call) inDialog(method sip.RequestMethod) *sip.Request {
	if c.dialog != nil {
		uri := c.dialog.InviteRequest.Recipient
		if ct := c.dialog.InviteResponse.Contact(); ct != nil {
			uri = ct.Address
		}
		req := sip.NewRequest(method, uri)
		req.AppendHeader(c.d.contact())
		req.SetDestination(c.d.hub.server)
		return req
	}
	inv := c.invite
	req := sip.NewRequest(method, inv.Contact().Address)
	from := &sip.FromHeader{Address: inv.To().Address, Params: sip.NewParams()}
	from.Params.Add("tag", c.toTag)
	req.AppendHeader(from)
	req.AppendHeader(&sip.ToHeader{Address: inv.From().Address, Params: inv.From().Params.Clone()})
	req.AppendHeader(sip.HeaderClone(inv.CallID()))
	req.AppendHeader(&sip.CSeqHeader{SeqNo: c.nextSeq(), MethodName: method})
	req.AppendHeader(c.d.contact())
	req.SetDestination(c.d.hub.server)
	return req
}

// nextSeq is the CSeq of this device's next request in an inbound call.
func (c *Call) nextSeq() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.seq++
	return c.seq
}

// offer is the device's SDP with direction dir and a new origin version.
func (c *Call) offer(dir string) []byte {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(c.media.sdp(c.d.hub.ip)); err != nil {
		return nil
	}
	c.mu.Lock()
	c.version++
	sd.Origin.SessionVersion += c.version
	c.mu.Unlock()
	for _, md := range sd.MediaDescriptions {
		for i, a := range md.Attributes {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				md.Attributes[i] = sdp.NewPropertyAttribute(dir)
			}
		}
	}
	b, err := sd.Marshal()
	if err != nil {
		return nil
	}
	return b
}

// direction is the audio direction an SDP asks for; sendrecv by default.
func direction(body []byte) string {
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return ""
	}
	for _, md := range sd.MediaDescriptions {
		if md.MediaName.Media != "audio" {
			continue
		}
		for _, a := range md.Attributes {
			switch a.Key {
			case "sendrecv", "sendonly", "recvonly", "inactive":
				return a.Key
			}
		}
	}
	for _, a := range sd.Attributes {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return a.Key
		}
	}
	return "sendrecv"
}

// mirror is the direction that answers dir (RFC 3264 §6.1).
func mirror(dir string) string {
	switch strings.ToLower(dir) {
	case "sendonly":
		return "recvonly"
	case "recvonly":
		return "sendonly"
	case "inactive":
		return "inactive"
	}
	return "sendrecv"
}
