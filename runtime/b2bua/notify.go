package b2bua

import (
	"context"
	"errors"
	"fmt"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
	"switchboard/runtime/notify"
	"switchboard/runtime/presence"
	"switchboard/runtime/sipstack"
)

// The server's side of the notifications of package notify: who asks
// (authentication, the running configuration's mailboxes and contacts)
// is decided here, the subscriptions and NOTIFYs are notify's.

func (s *Server) onSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	ev := req.GetHeader("Event")
	if ev != nil && notify.EventPackage(ev.Value()) == presence.Event {
		s.onDialogSubscribe(req, tx)
		return
	}
	if ev == nil || notify.EventPackage(ev.Value()) != notify.Event {
		respond(tx, req, 489, "Bad Event", sip.NewHeader("Allow-Events", allowEvents))
		return
	}
	st := s.st()
	account, res := st.auth.Check(req, req.Source(), false)
	if res != nil {
		_ = tx.Respond(res)
		return
	}
	box := notify.MailboxOf(st.program, account)
	if box == "" || !s.notifier.Enabled() {
		s.log.Debug("SUBSCRIBE refused: no mailbox", "account", account)
		respond(tx, req, 404, "Not Found")
		return
	}
	s.notifier.Subscribe(req, tx, account, box)
}

// onDialogSubscribe answers a SUBSCRIBE to the dialog package (package
// presence): authenticated like an INVITE (407), from an account of this
// site other than a carrier's, to a person of this site.
func (s *Server) onDialogSubscribe(req *sip.Request, tx sip.ServerTransaction) {
	if s.closing.Load() {
		respond(tx, req, 503, "Service Unavailable")
		return
	}
	st := s.st()
	account, res := st.auth.Check(req, req.Source(), true)
	if res != nil {
		_ = tx.Respond(res)
		return
	}
	if a := st.program.Account(account); a == nil || a.Kind == ir.AccountTrunk {
		respond(tx, req, 403, "Forbidden")
		return
	}
	person := presence.Watched(st.program, req.Recipient.User)
	if person == "" {
		respond(tx, req, 404, "Not Found")
		return
	}
	s.presence.Subscribe(req, tx, account, person, st.program)
}

// MessageWaiting tells the devices of a mailbox's owner that it changed:
// a NOTIFY on every subscription to it, and an unsolicited one to each
// registered device of the owner that has not subscribed.
func (s *Server) MessageWaiting(mailbox string) {
	if !s.notifier.Enabled() || s.closing.Load() {
		return
	}
	st := s.st()
	var devices []notify.Device
	for _, acct := range st.accountsOfBox(mailbox) {
		for _, ct := range st.reg.Contacts(acct.Name) {
			devices = append(devices, notify.Device{Account: acct.Name, Username: acct.Username,
				URI: ct.URI, Dest: ct.Dest, Transport: ct.Transport, Path: ct.Path})
		}
	}
	s.notifier.Changed(mailbox, st.program.Site.Domain, devices)
}

// CheckSync asks a device to fetch its provisioning files again (see
// notify.CheckSync), within notify.CheckSyncTimeout. It returns how many of
// its contacts accepted it, and an error naming those that did not (also
// when others did).
func (s *Server) CheckSync(ctx context.Context, device string) (int, error) {
	st := s.st()
	d := st.program.Device(device)
	if d == nil {
		return 0, fmt.Errorf("no device %q", device)
	}
	contacts := st.reg.Contacts(d.Account)
	if len(contacts) == 0 {
		return 0, fmt.Errorf("device %q is not registered", device)
	}
	devices := make([]notify.Device, 0, len(contacts))
	for _, ct := range contacts {
		devices = append(devices, notify.Device{Account: d.Account, URI: ct.URI, Dest: ct.Dest, Transport: ct.Transport, Path: ct.Path})
	}
	ok, err := notify.CheckSync(ctx, notifyStack{s}, st.program.Site.Domain, device, d.Account, devices)
	s.publish(events.Event{Kind: events.CheckSync, Device: device, Account: d.Account, Status: map[bool]int{true: 200, false: 0}[ok > 0], Origin: d.Origin})
	return ok, err
}

// notifyStack is the server as package notify uses it.
type notifyStack struct{ s *Server }

// errNoClient: nothing can be sent before a listener has started.
var errNoClient = errors.New("no SIP listener has started")

func (n notifyStack) Send(ctx context.Context, req *sip.Request) (*sip.Response, error) {
	c := n.s.client()
	if c == nil {
		return nil, errNoClient
	}
	return sipstack.Do(ctx, c, req, sipgo.ClientRequestBuild)
}

func (n notifyStack) Contact(dest, transport string) sip.Header {
	return n.s.contactHeader(dest, transport)
}

// goTracked runs f on a goroutine of its own that Close waits for, unless
// Close is waiting already (inflight).
func (s *Server) goTracked(f func()) {
	tracked := s.work.add()
	go func() {
		if tracked {
			defer s.work.done()
		}
		f()
	}()
}
