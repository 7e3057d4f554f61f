// Package presence is the server's dialog event package (RFC 4235): a
// phone's busy-lamp-field key, or any watcher, SUBSCRIBEs to a person's
// extension and gets a NOTIFY with the state of that person's calls
// (trying, early, confirmed, terminated) now and on every change.
//
// The states come from the call core's events (Observe): the b2bua
// publishes who calls, which legs ring, which answers and when the call
// ends; this package turns them into the dialogs of each person. Who may
// subscribe (authentication, same site) is decided by the caller of
// Subscribe; the bounds on subscriptions (per account, overall, expiry)
// are kept here. NOTIFYs reach the network only through Stack.
package presence

import (
	"context"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
	"switchboard/runtime/clock"
	"switchboard/runtime/events"
)

// Event is the dialog event package (Event, Allow-Events).
const Event = "dialog"

// ContentType is the body of its NOTIFYs (RFC 4235 §4.1).
const ContentType = "application/dialog-info+xml"

// Limits bound the subscriptions a server keeps: a phone with many BLF
// keys subscribes once per key, and a stranger with one valid account must
// not make the server keep (and notify) without end.
type Limits struct {
	PerAccount int // subscriptions one account may hold
	Total      int // subscriptions the server holds
	// MinExpires and MaxExpires bound a subscription's duration: shorter
	// is refused with 423 and Min-Expires (RFC 6665 §4.2.1.1), longer is
	// cut to MaxExpires.
	MinExpires, MaxExpires time.Duration
}

// DefaultLimits fit a site of desk phones with expansion modules.
var DefaultLimits = Limits{PerAccount: 64, Total: 4096, MinExpires: time.Minute, MaxExpires: time.Hour}

// Stack is what presence needs of the SIP server.
type Stack interface {
	// Send sends req, a request outside any transaction of ours, and
	// returns its final response.
	Send(ctx context.Context, req *sip.Request) (*sip.Response, error)
	// Contact is the server's Contact header for a peer at dest over
	// transport.
	Contact(dest, transport string) sip.Header
}

// Config is what a Server works with.
type Config struct {
	Stack  Stack
	Clock  clock.Clock
	Logger *slog.Logger
	// Go runs f on a goroutine the server's Close waits for.
	Go     func(f func())
	Limits Limits // zero fields: DefaultLimits'
	// Publish reports subscriptions starting and ending; nil: not
	// reported.
	Publish func(events.Event)
}

// Server keeps the dialog subscriptions and the dialogs of each person.
type Server struct {
	cfg Config

	mu   sync.Mutex
	subs map[string]*subscription // by key (Call-ID, their tag)
	// watchers is subs by the person watched, so that a call event finds
	// its person's watchers without walking every subscription (Observe
	// runs on every call event; most people have no watcher).
	watchers map[string]map[*subscription]struct{}
	perAcct  map[string]int   // subscriptions per subscriber account
	calls    map[string]*call // by the caller's Call-ID
	closed   bool
}

// New returns a Server with no subscriptions.
func New(cfg Config) *Server {
	d := DefaultLimits
	if cfg.Limits.PerAccount <= 0 {
		cfg.Limits.PerAccount = d.PerAccount
	}
	if cfg.Limits.Total <= 0 {
		cfg.Limits.Total = d.Total
	}
	if cfg.Limits.MinExpires <= 0 {
		cfg.Limits.MinExpires = d.MinExpires
	}
	if cfg.Limits.MaxExpires <= 0 {
		cfg.Limits.MaxExpires = d.MaxExpires
	}
	if cfg.Limits.MaxExpires < cfg.Limits.MinExpires {
		cfg.Limits.MaxExpires = cfg.Limits.MinExpires
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Publish == nil {
		cfg.Publish = func(events.Event) {}
	}
	if cfg.Go == nil {
		cfg.Go = func(f func()) { go f() }
	}
	return &Server{cfg: cfg, subs: map[string]*subscription{}, watchers: map[string]map[*subscription]struct{}{}, perAcct: map[string]int{}, calls: map[string]*call{}}
}

// Watched is the person a dialog subscription's Request-URI user part
// names: an extension, a user's name, or the username of one of their
// accounts (sip:app.mary@domain). It is "" for anything else.
func Watched(p *ir.Program, user string) string {
	if user == "" {
		return ""
	}
	for i := range p.Users {
		if u := &p.Users[i]; u.Extension == user || u.Name == user {
			return u.Name
		}
	}
	for i := range p.Accounts {
		if a := &p.Accounts[i]; a.Username == user && a.Owner.Kind == ir.RefUser {
			return a.Owner.Name
		}
	}
	return ""
}

// personOf is the person an account belongs to (an app, a desk phone),
// "" for any other account.
func personOf(p *ir.Program, account string) string {
	if a := p.Account(account); a != nil && a.Owner.Kind == ir.RefUser {
		return a.Owner.Name
	}
	return ""
}

// Subscribe answers a SUBSCRIBE to the dialog package from account
// (already authenticated, of this site) for the calls of person (Watched),
// and sends the NOTIFY that follows it. p is the running configuration,
// for the entity's address.
func (s *Server) Subscribe(req *sip.Request, tx sip.ServerTransaction, account, person string, p *ir.Program) {
	lim := s.cfg.Limits
	if !acceptsDialogInfo(req) {
		respond(tx, req, 406, "Not Acceptable", sip.NewHeader("Accept", ContentType))
		return
	}
	expires := lim.MaxExpires
	if h := req.GetHeader("Expires"); h != nil {
		n, err := strconv.Atoi(strings.TrimSpace(h.Value()))
		if err != nil || n < 0 {
			respond(tx, req, 400, "Bad Request")
			return
		}
		expires = min(time.Duration(n)*time.Second, lim.MaxExpires)
		if expires > 0 && expires < lim.MinExpires {
			respond(tx, req, 423, "Interval Too Brief", sip.NewHeader("Min-Expires", strconv.Itoa(int(lim.MinExpires/time.Second))))
			return
		}
	}
	from, to := req.From(), req.To()
	if from == nil || to == nil || req.CallID() == nil || req.Contact() == nil {
		respond(tx, req, 400, "Bad Request")
		return
	}
	theirTag, _ := from.Params.Get("tag")
	key := req.CallID().Value() + ";" + theirTag
	_, refresh := to.Params.Get("tag")

	s.mu.Lock()
	sub := s.subs[key]
	switch {
	case s.closed:
		s.mu.Unlock()
		respond(tx, req, 503, "Service Unavailable")
		return
	case sub == nil && refresh:
		// A refresh of a subscription we no longer know (RFC 6665
		// §4.1.2.2: the subscriber starts again).
		s.mu.Unlock()
		respond(tx, req, 481, "Subscription Does Not Exist")
		return
	case sub != nil && (sub.account != account || sub.person != person):
		// Another account's dialog, or the same dialog turned to
		// another person: not a refresh of this subscription.
		s.mu.Unlock()
		respond(tx, req, 403, "Forbidden")
		return
	case sub == nil && expires == 0:
		// A fetch (RFC 6665 §4.4.3): answered with one NOTIFY of the
		// state, which also ends it; never held, so never counted.
	case sub == nil && (s.perAcct[account] >= lim.PerAccount || len(s.subs) >= lim.Total):
		s.mu.Unlock()
		s.cfg.Logger.Warn("dialog SUBSCRIBE refused: too many subscriptions", "account", account, "held", s.perAcct[account], "total", len(s.subs))
		respond(tx, req, 503, "Service Unavailable", sip.NewHeader("Retry-After", "60"))
		return
	}
	added := false
	if sub == nil {
		ours := &sip.FromHeader{DisplayName: to.DisplayName, Address: to.Address, Params: sip.NewParams()}
		ours.Params.Add("tag", sip.GenerateTagN(16))
		sub = &subscription{
			s: s, key: key, account: account, person: person,
			entity: "sip:" + entityUser(p, person) + "@" + p.Site.Domain,
			from:   ours,
			to:     &sip.ToHeader{DisplayName: from.DisplayName, Address: from.Address, Params: from.Params.Clone()},
			callID: *req.CallID(),
		}
		if expires > 0 {
			s.subs[key] = sub
			s.watch(sub)
			s.perAcct[account]++
			sub.held, added = true, true
		}
	}
	s.mu.Unlock()

	sub.mu.Lock()
	sub.remote = req.Contact().Address
	sub.dest, sub.transport = req.Source(), req.Transport()
	sub.route = recordRoute(req)
	if sub.timer != nil {
		sub.timer.Stop()
		sub.timer = nil
	}
	sub.expires = s.cfg.Clock.Now().Add(expires)
	if expires > 0 {
		sub.timer = s.cfg.Clock.AfterFunc(expires, func() { s.end(sub, "timeout") })
	}
	ourTag, _ := sub.from.Params.Get("tag")
	sub.mu.Unlock()

	ok := sip.NewResponseFromRequest(req, 200, "OK", nil)
	if t := ok.To(); t != nil {
		// Our tag, the NOTIFYs' From tag (see notify.Subscribe: sipgo
		// would put a random one of its own here).
		t.Params.Add("tag", ourTag)
	}
	ok.AppendHeader(sip.NewHeader("Expires", strconv.Itoa(int(expires/time.Second))))
	ok.AppendHeader(s.cfg.Stack.Contact(req.Source(), req.Transport()))
	_ = tx.Respond(ok)
	if added {
		s.cfg.Publish(events.Event{Kind: events.Subscribed, Account: account, Target: ir.UserRef(person).String(), Source: req.Source()})
	}

	if expires == 0 {
		// Unsubscribe (or a one-time fetch): the state now, and the end.
		s.end(sub, "timeout")
		return
	}
	// RFC 6665 §4.2.1.2: a NOTIFY with the full state follows every
	// accepted SUBSCRIBE, refreshes included.
	s.mu.Lock()
	body := s.dialogsOf(person)
	s.mu.Unlock()
	sub.queue(body, "")
}

// entityUser is the user part of the watched person's address: their
// extension, else their name.
func entityUser(p *ir.Program, person string) string {
	if u := p.User(person); u != nil && u.Extension != "" {
		return u.Extension
	}
	return person
}

// acceptsDialogInfo reports whether the subscriber takes dialog-info
// bodies: no Accept header means it does (RFC 4235 §3.5).
func acceptsDialogInfo(req *sip.Request) bool {
	hs := req.GetHeaders("Accept")
	if len(hs) == 0 {
		return true
	}
	for _, h := range hs {
		for _, t := range strings.Split(h.Value(), ",") {
			t, _, _ = strings.Cut(t, ";")
			switch strings.ToLower(strings.TrimSpace(t)) {
			case ContentType, "application/*", "*/*":
				return true
			}
		}
	}
	return false
}

// recordRoute is the route set of the subscription's dialog (RFC 3261
// §12.1.1): the SUBSCRIBE's Record-Route headers, in order.
func recordRoute(req *sip.Request) []string {
	var out []string
	for _, h := range req.GetHeaders("Record-Route") {
		out = append(out, h.Value())
	}
	return out
}

// Reloaded keeps the subscriptions the new configuration p still allows
// and ends the others cleanly, with a final NOTIFY: the subscriber's
// account is gone ("rejected", RFC 6665 §4.1.3) or the person watched is
// ("noresource").
func (s *Server) Reloaded(p *ir.Program) {
	s.mu.Lock()
	type ending struct {
		sub    *subscription
		reason string
	}
	var ends []ending
	for _, sub := range s.subs {
		switch a := p.Account(sub.account); {
		case a == nil || a.Kind == ir.AccountTrunk:
			ends = append(ends, ending{sub, "rejected"})
		case p.User(sub.person) == nil:
			ends = append(ends, ending{sub, "noresource"})
		}
	}
	s.mu.Unlock()
	for _, e := range ends {
		s.end(e.sub, e.reason)
	}
}

// Close stops the subscriptions' timers; nothing is notified any more.
func (s *Server) Close() {
	s.mu.Lock()
	s.closed = true
	subs := s.subs
	s.subs = map[string]*subscription{}
	s.watchers = map[string]map[*subscription]struct{}{}
	s.perAcct = map[string]int{}
	s.mu.Unlock()
	for _, sub := range subs {
		sub.mu.Lock()
		if sub.timer != nil {
			sub.timer.Stop()
		}
		sub.mu.Unlock()
	}
}

// Count is the number of subscriptions held.
func (s *Server) Count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.subs)
}

// end removes sub and sends its final NOTIFY, with the state as it is.
func (s *Server) end(sub *subscription, reason string) {
	s.mu.Lock()
	removed := s.remove(sub)
	fetch := !sub.held
	body := s.dialogsOf(sub.person)
	closed := s.closed
	s.mu.Unlock()
	sub.mu.Lock()
	if sub.timer != nil {
		sub.timer.Stop()
		sub.timer = nil
	}
	sub.mu.Unlock()
	if !closed && (removed || fetch) {
		// Once: the timer and an unsubscribe may both end it.
		sub.queue(body, "terminated;reason="+reason)
	}
	if removed {
		s.cfg.Publish(events.Event{Kind: events.Unsubscribed, Account: sub.account, Target: ir.UserRef(sub.person).String(), Cause: reason})
	}
}

// remove forgets sub, reporting whether it was held; s.mu held.
func (s *Server) remove(sub *subscription) bool {
	if cur, ok := s.subs[sub.key]; !ok || cur != sub {
		return false
	}
	delete(s.subs, sub.key)
	if w := s.watchers[sub.person]; w != nil {
		delete(w, sub)
		if len(w) == 0 {
			delete(s.watchers, sub.person)
		}
	}
	if s.perAcct[sub.account]--; s.perAcct[sub.account] <= 0 {
		delete(s.perAcct, sub.account)
	}
	return true
}

// watch indexes a held sub under its person; s.mu held.
func (s *Server) watch(sub *subscription) {
	w := s.watchers[sub.person]
	if w == nil {
		w = map[*subscription]struct{}{}
		s.watchers[sub.person] = w
	}
	w[sub] = struct{}{}
}

func respond(tx sip.ServerTransaction, req *sip.Request, status int, reason string, hdrs ...sip.Header) {
	res := sip.NewResponseFromRequest(req, status, reason, nil)
	for _, h := range hdrs {
		res.AppendHeader(h)
	}
	_ = tx.Respond(res)
}
