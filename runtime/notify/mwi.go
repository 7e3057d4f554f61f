package notify

import (
	"context"
	"log/slog"
	"strconv"
	"sync"
	"time"

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
	// Event is the message-summary event package (Allow-Events).
	Event          = "message-summary"
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

// Stack is what the notifier needs of the SIP server: the small contract
// between notifications and the call core.
type Stack interface {
	// Send sends req, a request outside any transaction of ours, and
	// returns its final response.
	Send(ctx context.Context, req *sip.Request) (*sip.Response, error)
	// Contact is the server's Contact header for a peer at dest over
	// transport.
	Contact(dest, transport string) sip.Header
}

// Config is what a Notifier works with.
type Config struct {
	Stack  Stack
	Clock  clock.Clock
	Logger *slog.Logger
	// Summary is the RFC 3842 body of a mailbox; nil: no message-waiting
	// indication (SUBSCRIBEs get 404).
	Summary func(mailbox string) []byte
	// Go runs f on a goroutine the server's Close waits for.
	Go func(f func())
}

// Notifier keeps the message-summary subscriptions and sends the NOTIFYs.
type Notifier struct {
	cfg  Config
	mu   sync.Mutex
	subs map[string]*subscription // by key
}

// New returns a Notifier with no subscriptions.
func New(cfg Config) *Notifier { return &Notifier{cfg: cfg} }

// Enabled reports whether mailboxes have a summary to notify.
func (n *Notifier) Enabled() bool { return n.cfg.Summary != nil }

// Device is a registered contact of an account, where an unsolicited
// NOTIFY goes.
type Device struct {
	Account, Username string
	URI               sip.Uri
	Dest, Transport   string
	Path              []string
}

// MailboxOf is the mailbox whose messages an account's device shows: its
// user's, or for an indoor monitor the residence's voicemail fallback.
func MailboxOf(p *ir.Program, account string) string {
	a := p.Account(account)
	if a == nil {
		return ""
	}
	return MailboxOfAccount(p, a)
}

// MailboxOfAccount is MailboxOf for an account of p.
func MailboxOfAccount(p *ir.Program, a *ir.Account) string {
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

// Subscribe answers a SUBSCRIBE to message-summary from account (already
// authenticated) for mailbox, and sends the NOTIFY that follows it.
func (n *Notifier) Subscribe(req *sip.Request, tx sip.ServerTransaction, account, box string) {
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

	n.mu.Lock()
	sub := n.subs[key]
	if sub == nil {
		if to := req.To(); to != nil {
			if _, ok := to.Params.Get("tag"); ok {
				// A refresh of a subscription we no longer know.
				n.mu.Unlock()
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
		if n.subs == nil {
			n.subs = map[string]*subscription{}
		}
		n.subs[key] = sub
	}
	n.mu.Unlock()

	sub.mu.Lock()
	sub.remote = req.Contact().Address
	sub.dest, sub.transport = req.Source(), req.Transport()
	if sub.timer != nil {
		sub.timer.Stop()
	}
	sub.expires = n.cfg.Clock.Now().Add(time.Duration(expires) * time.Second)
	if expires > 0 {
		sub.timer = n.cfg.Clock.AfterFunc(time.Duration(expires)*time.Second, func() { n.endSubscription(sub, "timeout") })
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
	ok.AppendHeader(n.cfg.Stack.Contact(req.Source(), req.Transport()))
	_ = tx.Respond(ok)

	// RFC 6665 §4.2.1.2: a NOTIFY follows every accepted SUBSCRIBE, the
	// last one saying the subscription ended.
	if expires == 0 {
		n.endSubscription(sub, "timeout")
		return
	}
	body := n.cfg.Summary(box)
	n.cfg.Go(func() { n.notifySub(sub, body, "active") })
}

// EventPackage is the package name of an Event header value, without
// parameters.
func EventPackage(v string) string {
	for i, c := range v {
		if c == ';' || c == ' ' || c == '\t' {
			return v[:i]
		}
	}
	return v
}

func (n *Notifier) endSubscription(sub *subscription, reason string) {
	n.mu.Lock()
	_, live := n.subs[sub.key]
	delete(n.subs, sub.key)
	n.mu.Unlock()
	if !live || n.cfg.Summary == nil {
		return
	}
	n.notifySub(sub, n.cfg.Summary(sub.mailbox), "terminated;reason="+reason)
}

// notifySub sends one in-dialog NOTIFY.
func (n *Notifier) notifySub(sub *subscription, body []byte, state string) {
	sub.mu.Lock()
	sub.cseq++
	req := sip.NewRequest(sip.NOTIFY, sub.remote)
	req.AppendHeader(sip.HeaderClone(sub.from))
	req.AppendHeader(sip.HeaderClone(sub.to))
	cid := sub.callID
	req.AppendHeader(&cid)
	req.AppendHeader(&sip.CSeqHeader{SeqNo: sub.cseq, MethodName: sip.NOTIFY})
	if state == "active" {
		left := int(sub.expires.Sub(n.cfg.Clock.Now()).Seconds())
		state += ";expires=" + strconv.Itoa(max(left, 0))
	}
	dest, transport := sub.dest, sub.transport
	sub.mu.Unlock()
	n.send(req, body, state, dest, transport)
}

// send completes and sends a message-summary NOTIFY.
func (n *Notifier) send(req *sip.Request, body []byte, state, dest, transport string) {
	req.AppendHeader(sip.NewHeader("Event", Event))
	req.AppendHeader(sip.NewHeader("Subscription-State", state))
	if dest != "" {
		req.SetDestination(dest)
	}
	req.AppendHeader(n.cfg.Stack.Contact(req.Destination(), transport))
	req.AppendHeader(sip.NewHeader("Content-Type", mwiContentType))
	req.SetBody(body)
	if transport != "" {
		req.SetTransport(transport)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 32*time.Second)
	defer cancel()
	res, err := n.cfg.Stack.Send(ctx, req)
	switch {
	case err != nil:
		n.cfg.Logger.Debug("message-summary NOTIFY failed", "to", req.Recipient.String(), "error", err)
	case res.StatusCode >= 300:
		n.cfg.Logger.Debug("message-summary NOTIFY refused", "to", req.Recipient.String(), "status", res.StatusCode)
	}
}

// Changed tells the devices of a mailbox that it changed: a NOTIFY on
// every subscription to it, and an unsolicited one to each of devices
// (the registered contacts of the accounts that show its light) whose
// account has not subscribed. domain is the site's, for From and To.
func (n *Notifier) Changed(mailbox, domain string, devices []Device) {
	if n.cfg.Summary == nil {
		return
	}
	body := n.cfg.Summary(mailbox)
	subscribed := map[string]bool{}
	n.mu.Lock()
	var subs []*subscription
	for _, sub := range n.subs {
		if sub.mailbox == mailbox {
			subs = append(subs, sub)
			subscribed[sub.account] = true
		}
	}
	n.mu.Unlock()
	for _, sub := range subs {
		n.cfg.Go(func() { n.notifySub(sub, body, "active") })
	}
	for _, d := range devices {
		if subscribed[d.Account] {
			continue
		}
		req := sip.NewRequest(sip.NOTIFY, d.URI)
		from := &sip.FromHeader{Address: sip.Uri{Scheme: "sip", User: d.Username, Host: domain}, Params: sip.NewParams()}
		from.Params.Add("tag", sip.GenerateTagN(16))
		req.AppendHeader(from)
		req.AppendHeader(&sip.ToHeader{Address: sip.Uri{Scheme: "sip", User: d.Username, Host: domain}, Params: sip.NewParams()})
		for _, p := range d.Path {
			req.AppendHeader(sip.NewHeader("Route", p))
		}
		n.cfg.Go(func() { n.send(req, body, "active", d.Dest, d.Transport) })
	}
}
