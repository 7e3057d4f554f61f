package b2bua

import (
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/emiago/sipgo/sip"
)

// The server is a B2BUA: each call is two dialogs, the caller's (where we
// are the UAS) and the winning callee leg's (where we are the UAC). This
// file starts the requests we send inside them: ACK, BYE, re-INVITE.

// toCallee starts a request in the dialog of branch b (RFC 3261 §12.2.1.1):
// to the callee's Contact, through the route set its 2xx recorded, with
// CSeq number seq.
func (c *call) toCallee(b *branch, method sip.RequestMethod, seq uint32) *sip.Request {
	uri := b.req.Recipient
	if ct := b.res.Contact(); ct != nil {
		uri = ct.Address
	}
	r := sip.NewRequest(method, uri)
	r.AppendHeader(sip.HeaderClone(b.req.From()))
	r.AppendHeader(sip.HeaderClone(b.res.To()))
	r.AppendHeader(sip.HeaderClone(b.req.CallID()))
	r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	dest := b.req.Destination()
	routes := routeSet(b.res, true)
	for _, h := range routes {
		r.AppendHeader(h)
	}
	if len(routes) > 0 {
		// The first hop is the proxy nearest us that asked to stay in
		// the path: usually where the INVITE went, but not always.
		dest = hopOf(routes[0].(*sip.RouteHeader).Address, b.req.Transport())
	}
	r.SetDestination(dest)
	r.SetTransport(b.req.Transport())
	r.SetBody(nil)
	return r
}

// toCaller starts a request of ours in the caller's dialog: to the
// caller's Contact, through the route set of its INVITE's Record-Route,
// sent to where the INVITE came from (the nearest of those proxies, or
// the device's address as NAT shows it).
func (c *call) toCaller(method sip.RequestMethod) *sip.Request {
	inv := c.inv
	uri := inv.Recipient
	if ct := inv.Contact(); ct != nil {
		uri = ct.Address
	}
	r := sip.NewRequest(method, uri)
	from := &sip.FromHeader{DisplayName: inv.To().DisplayName, Address: inv.To().Address, Params: sip.NewParams()}
	from.Params.Add("tag", c.toTag)
	r.AppendHeader(from)
	r.AppendHeader(&sip.ToHeader{DisplayName: inv.From().DisplayName, Address: inv.From().Address, Params: inv.From().Params.Clone()})
	r.AppendHeader(sip.HeaderClone(inv.CallID()))
	c.mu.Lock()
	c.cseq++
	seq := c.cseq
	c.mu.Unlock()
	r.AppendHeader(&sip.CSeqHeader{SeqNo: seq, MethodName: method})
	for _, h := range routeSet(inv, false) {
		r.AppendHeader(h)
	}
	r.SetDestination(inv.Source())
	r.SetTransport(inv.Transport())
	r.SetBody(nil)
	return r
}

// routeSet is the route set of the dialog m established (RFC 3261
// §12.1.1, §12.1.2), as Route headers: m's Record-Route values in order
// when we received the request (UAS), reversed when m is the 2xx to a
// request we sent (UAC). Only loose routers (;lr) are supported, as every
// proxy since RFC 3261 is.
func routeSet(m interface{ GetHeaders(string) []sip.Header }, uac bool) []sip.Header {
	rr := m.GetHeaders("Record-Route")
	if len(rr) == 0 {
		return nil
	}
	out := make([]sip.Header, 0, len(rr))
	for _, h := range rr {
		if v, ok := h.(*sip.RecordRouteHeader); ok {
			out = append(out, &sip.RouteHeader{Address: *v.Address.Clone()})
		}
	}
	if uac {
		slices.Reverse(out)
	}
	return out
}

// hopOf is the host:port a request routed to u is sent to.
func hopOf(u sip.Uri, transport string) string {
	port := u.Port
	if port == 0 {
		port = 5060
		if u.IsEncrypted() || sip.NetworkToLower(transport) == "tls" {
			port = 5061
		}
	}
	return net.JoinHostPort(strings.Trim(u.Host, "[]"), strconv.Itoa(port))
}
