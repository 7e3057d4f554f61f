package b2bua

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/clock"
)

// Message-waiting indication (RFC 3842): devices SUBSCRIBE to the
// message-summary event of their user's mailbox and get a NOTIFY now and
// whenever it changes. Devices that never subscribe (many desk phones and
// indoor monitors are configured for unsolicited MWI) get the same NOTIFY
// outside a dialog, as Asterisk and Kamailio's presence modules send it.

const (
	mwiEvent       = "message-summary"
	mwiContentType = "application/simple-message-summary"
	mwiMaxExpires  = 3600
	mwiMinExpires  = 60
)

// subscription is one SUBSCRIBE dialog, the server being the notifier.
type subscription struct {
	key     string // Call-ID + subscriber's tag
	account string
	mailbox string

	remote    sip.Uri // the subscriber's Contact: where NOTIFYs go
	dest      string  // its source address (NAT)
	transport string
	from      *sip.FromHeader // ours, with our tag
	to        *sip.ToHeader   // the subscriber, with its tag
	callID    sip.CallIDHeader

	mu      sync.Mutex
	cseq    uint32
	expires time.Time
	timer   clock.Timer
}

// mwiState is the server's set of message-summary subscriptions.
type mwiState struct {
	mu   sync.Mutex
	subs map[string]*subscription // by key
}

// mailboxOf is the mailbox whose messages an account's device shows: its
// user's, or for an indoor monitor the residence's voicemail fallback.
func mailboxOf(p *ir.Program, account string) string {
	a := p.Account(account)
	if a == nil {
		return ""
	}
	switch a.Owner.Kind {
	case ir.RefUser:
		if u := p.User(a.Owner.Name); u != nil {
			return u.Mailbox
		}
	case ir.RefResidence:
		if r := p.Residence(a.Owner.Name); r != nil && r.Ring.NoAnswer.Kind == ir.FallbackVoicemail {
			return r.Ring.NoAnswer.Mailbox
		}
	}
	return ""
}

func (s *Server) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	ev := req.GetHeader("Event")
	if ev == nil || eventPackage(ev.Value()) != mwiEvent {
		respond(tx, req, 489, "Bad Event", sip.NewHeader("Allow-Events", mwiEvent))
		return
	}
	st := s.st()
	account, res := st.auth.Check(req, req.Source(), false)
	if res != nil {
		_ = tx.Respond(res)
		return
	}
	box := mailboxOf(st.program, account)
	if box == "" || s.cfg.Services.MessageSummary == nil {
		respond(tx, req, 404, "Not Found", warning(st.program.Site.Domain, "no mailbox for "+account))
		return
	}
	expires := mwiMaxExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(h.Value())
		if err != nil || n < 0 {
			respond(tx, req, 400, "Bad Request")
			return
		}
		expires = min(n, mwiMaxExpires)
		if expires > 0 && expires < mwiMinExpires {
			respond(tx, req, 423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(mwiMinExpires)))
			return
		}
	}
	from := req.From()
	if from == nil || req.CallID() == nil || req.Contact() == nil {
		respond(tx, req, 400, "Bad Request")
		return
	}
	theirTag, _ := from.Params.Get("tag")
	key := req.CallID().Value() + ";" + theirTag

	s.mwi.mu.Lock()
	sub := s.mwi.subs[key]
	if sub == nil {
		if to := req.To(); to != nil {
			if _, ok := to.Params.Get("tag"); ok {
				// A refresh of a subscription we no longer know.
				s.mwi.mu.Unlock()
				respond(tx, req, 481, "Subscription Does Not Exist")
				return
			}
		}
		ours := &sip.FromHeader{DisplayName: req.To().DisplayName, Address: req.To().Address, Params: sip.NewParams()}
		ours.Params.Add("tag", sip.GenerateTagN(16))
		sub = &subscription{
			key: key, account: account, mailbox: box,
			from:   ours,
			to:     &sip.ToHeader{DisplayName: from.DisplayName, Address: from.Address, Params: from.Params.Clone()},
			callID: *req.CallID(),
		}
		if s.mwi.subs == nil {
			s.mwi.subs = map[string]*subscription{}
		}
		s.mwi.subs[key] = sub
	}
	s.mwi.mu.Unlock()

	sub.mu.Lock()
	sub.remote = req.Contact().Address
	sub.dest, sub.transport = req.Source(), req.Transport()
	if sub.timer != nil {
		sub.timer.Stop()
	}
	sub.expires = s.clk.Now().Add(time.Duration(expires) * time.Second)
	if expires > 0 {
		sub.timer = s.clk.AfterFunc(time.Duration(expires)*time.Second, func() { s.endSubscription(sub, "timeout") })
	}
	ourTag, _ := sub.from.Params.Get("tag")
	sub.mu.Unlock()

	ok := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if to := ok.To(); to != nil {
		// The 200 makes the dialog our NOTIFYs are sent in: its To tag
		// is our local tag, the NOTIFYs' From tag (RFC 3261 §12.1.1,
		// §12.2.1.1). sipgo has given it a random tag of its own, which
		// a subscriber (baresip's libre) keeps as the dialog's, and then
		// answers our NOTIFYs 481.
		to.Params.Add("tag", ourTag)
	}
	ok.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(expires)))
	ok.AppendHeader(s.contactHeader(req.Source(), req.Transport()))
	_ = tx.Respond(ok)

	// RFC 6665 §4.2.1.2: a NOTIFY follows every accepted SUBSCRIBE, the
	// last one saying the subscription ended.
	if expires == 0 {
		s.endSubscription(sub, "timeout")
		return
	}
	body := s.cfg.Services.MessageSummary(box)
	s.goTracked(func() { s.notifySub(sub, body, "active") })
}

// goTracked runs f on a goroutine of its own that Close waits for (the
// WaitGroup's Add comes before the goroutine, as sync.WaitGroup asks).
func (s *Server) goTracked(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// eventPackage is the package name of an Event header value, without
// parameters.
func eventPackage(v string) string {
	for i, c := range v {
		if c == ';' || c == ' ' || c == '\t' {
			return v[:i]
		}
	}
	return v
}

func (s *Server) endSubscription(sub *subscription, reason string) {
	s.mwi.mu.Lock()
	_, live := s.mwi.subs[sub.key]
	delete(s.mwi.subs, sub.key)
	s.mwi.mu.Unlock()
	if !live || s.cfg.Services.MessageSummary == nil {
		return
	}
	s.notifySub(sub, s.cfg.Services.MessageSummary(sub.mailbox), "terminated;reason="+reason)
}

// notifySub sends one in-dialog NOTIFY.
func (s *Server) notifySub(sub *subscription, body []byte, state string) {
	sub.mu.Lock()
	sub.cseq++
	req := sip.NewRequest(sip.NOTIFY, sub.remote)
	req.AppendHeader(sip.HeaderClone(sub.from))
	req.AppendHeader(sip.HeaderClone(sub.to))
	cid := sub.callID
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.cseq, MethodName: sip.NOTIFY})
	if state == "active" {
		left := int(sub.expires.Sub(s.clk.Now()).Seconds())
		state += ";expires=" + strconv.Itoa(max(left, 0))
	}
	dest, transport := sub.dest, sub.transport
	sub.mu.Unlock()
	s.sendMWI(req, body, state, dest, transport)
}

// sendMWI completes and sends a message-summary NOTIFY.
func (s *Server) sendMWI(req *sip.Request, body []byte, state, dest, transport string) {
	req.AppendHeader(sip.NewHeader("Event", mwiEvent))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if dest != "" {
		req.SetDestination(dest)
	}
	req.AppendHeader(s.contactHeader(req.Destination(), transport))
	req.AppendHeader(sip.NewHeader("Content-Type", mwiContentType))
	req.SetBody(body)
	if transport != "" {
		req.SetTransport(transport)
	}
	if s.client() == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	res, err := s.client().Do(ctx, req, sipgo.ClientRequestBuild)
	switch {
	case err != nil:
		s.log.Debug("message-summary NOTIFY failed", "to", req.Recipient.String(), "error", err)
	case res.StatusCode >= 300:
		s.log.Debug("message-summary NOTIFY refused", "to", req.Recipient.String(), "status", res.StatusCode)
	}
}

// MessageWaiting tells the devices of a mailbox's owner that it changed:
// a NOTIFY on every subscription to it, and an unsolicited one to each
// registered device of the owner that has not subscribed.
func (s *Server) MessageWaiting(mailbox string) {
	if s.cfg.Services.MessageSummary == nil || s.closing.Load() {
		return
	}
	body := s.cfg.Services.MessageSummary(mailbox)
	subscribed := map[string]bool{}
	s.mwi.mu.Lock()
	var subs []*subscription
	for _, sub := range s.mwi.subs {
		if sub.mailbox == mailbox {
			subs = append(subs, sub)
			subscribed[sub.account] = true
		}
	}
	s.mwi.mu.Unlock()
	for _, sub := range subs {
		s.goTracked(func() { s.notifySub(sub, body, "active") })
	}
	st := s.st()
	domain := st.program.Site.Domain
	for _, acct := range st.boxAccounts[mailbox] {
		if subscribed[acct.Name] {
			continue
		}
		for _, ct := range st.reg.Contacts(acct.Name) {
			req := sip.NewRequest(sip.NOTIFY, ct.URI)
			from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: acct.Username, Host: domain}, Params: sip.NewParams()}
			from.Params.Add("tag", sip.GenerateTagN(16))
			req.AppendHeader(from)
			req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: acct.Username, Host: domain}, Params: sip.NewParams()})
			for _, p := range ct.Path {
				req.AppendHeader(sip.NewHeader("Route", p))
			}
			s.goTracked(func() { s.sendMWI(req, body, "active", ct.Dest, ct.Transport) })
		}
	}
}
