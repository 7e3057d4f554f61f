// Package commission turns the generated cases of a site (simulate.Generate)
// into a checklist ticked off by real calls on the live site: each call the
// running server reports on its event stream (call_started, leg_ringing,
// leg_answered, door_opened, fallback, …) is compared with the cases that
// begin with the same dial, and a case passes when every expectation the
// event stream can show holds, fails when one is contradicted ("rang sarah
// and david; expected also hall-1"), and stays open otherwise, with the
// reason (nobody has made that call yet; the device that should ring is not
// registered).
//
// It is a pure decision, as runtime/routing is: events in, verdicts out.
// Talking to the server, the terminal and the state file is the command's.
package commission

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"switchboard/compiler/ir"
	"switchboard/runtime/events"
	"switchboard/runtime/site"
	"switchboard/simulate"
)

// Status is where a case stands.
type Status string

const (
	Open    Status = "open"    // not proven yet; Detail says what is missing
	Passed  Status = "passed"  // a real call showed everything the case expects
	Failed  Status = "failed"  // a real call contradicted it; Detail says how
	Skipped Status = "skipped" // the case cannot be run (simulate.Case.Skip)
)

// Item is one case of the checklist.
type Item struct {
	Name   string    `json:"name"`
	Origin ir.Origin `json:"origin"`
	// How is how the installer proves it: "door" (press the button or key
	// the code at the door station), "call" (call from the case's phone
	// or app), "carrier" (call the number from outside).
	How    string `json:"how"`
	Status Status `json:"status"`
	// At is when the call that decided it started; Evidence the IDs of
	// its events in the server's journal (of Epoch).
	At       time.Time `json:"at,omitzero"`
	Evidence []uint64  `json:"evidence,omitempty"`
	Epoch    string    `json:"epoch,omitempty"`
	// Detail says what differed (failed), why it is open, or why skipped.
	Detail string `json:"detail,omitempty"`
	// User is the person a ring test proves this case for ("" when none
	// can: a door's case, a call out, a conference).
	User string `json:"user,omitempty"`
	// Call is the call that decided it (its ID in the events); Ladder
	// its SIP messages as the server kept them, a line each, for a
	// failure, and SIP the same structured, with MoreSIP when the call
	// had more (simulate.Result's).
	Call    string                `json:"call,omitempty"`
	Ladder  []string              `json:"ladder,omitempty"`
	SIP     []simulate.SIPMessage `json:"-"`
	MoreSIP bool                  `json:"-"`

	c simulate.Case
}

// Dial is the call that proves the case: from which account, to which
// number; ok is false for a case that starts otherwise.
func (it *Item) Dial() (d simulate.Dial, ok bool) {
	if len(it.c.Steps) == 0 {
		return d, false
	}
	d, ok = it.c.Steps[0].(simulate.Dial)
	return d, ok
}

// Checklist is the cases of a site and where each stands.
type Checklist struct {
	Items []Item
	// Unjudged counts the calls seen that no case begins with.
	Unjudged int
}

// New makes the checklist of cases, every one open (or skipped).
func New(p *ir.Program, cases []simulate.Case) *Checklist {
	cl := &Checklist{}
	for _, c := range cases {
		it := Item{Name: c.Name, Origin: c.Origin, Status: Open, c: c}
		if c.Skip != "" {
			it.Status, it.Detail = Skipped, c.Skip
		}
		if d, ok := it.Dial(); ok {
			it.How = how(p, d.From)
			if it.How != "door" {
				it.User = callee(p, d.To)
			}
		}
		cl.Items = append(cl.Items, it)
	}
	return cl
}

func how(p *ir.Program, from string) string {
	a := p.Account(from)
	switch {
	case a == nil:
		return "call"
	case a.Kind == ir.AccountTrunk:
		return "carrier"
	case a.Device != "":
		if d := p.Device(a.Device); d != nil && d.Kind == ir.DoorStation {
			return "door"
		}
	}
	return "call"
}

// callee is the person a number dialled inside the site or from a
// carrier reaches: by extension or by DDI.
func callee(p *ir.Program, number string) string {
	for _, u := range p.Users {
		if u.Extension != "" && u.Extension == number {
			return u.Name
		}
	}
	for _, d := range p.DDIs {
		if d.Number == number && d.Target.Kind == ir.RefUser {
			return d.Target.Name
		}
	}
	return ""
}

// RingTestFrom is the caller of the server's ring tests (b2bua RingTest)
// in their events.
const RingTestFrom = "ring-test"

// RingTestUsers lists the people whose open cases a ring test would
// prove, in the checklist's order.
func (cl *Checklist) RingTestUsers() []string {
	var out []string
	for _, it := range cl.Items {
		if it.Status == Open && it.User != "" && !slices.Contains(out, it.User) {
			out = append(out, it.User)
		}
	}
	return out
}

// Restore sets the status of the items named in prior (a previous run's
// results): passed and failed cases stay decided until a new call decides
// them again.
func (cl *Checklist) Restore(prior []Item) {
	by := map[string]Item{}
	for _, it := range prior {
		by[it.Name] = it
	}
	for i := range cl.Items {
		it := &cl.Items[i]
		p, ok := by[it.Name]
		if !ok || it.Status == Skipped || (p.Status != Passed && p.Status != Failed) {
			continue
		}
		it.Status, it.At, it.Evidence, it.Epoch, it.Detail = p.Status, p.At, p.Evidence, p.Epoch, p.Detail
	}
}

// Call is one call as the event stream told it.
type Call struct {
	ID       string
	From, To string
	Started  time.Time
	Rang     []string // accounts offered the call (ringing, cancelled or refusing), in order, once each
	Answered string   // the account that answered before any fallback
	// Rejected is the status the call was refused with (call_rejected, or
	// the fallback's when it ends the call with one); 0: not refused.
	Rejected int
	Fallback string // the fallback taken (ir.Fallback.String()), "" if none
	Target   string // the IR object called: user.x, residence.x
	Digits   string // DTMF the server saw, in order
	Opened   []events.Event
	Refused  []events.Event
	Ended    bool
	Evidence []uint64
}

// Calls groups entries by call, in the order each call started, and says
// which have ended. Entries without a call, or whose call started before
// the first entry, are left out.
func Calls(entries []site.Entry) []*Call {
	by := map[string]*Call{}
	var order []*Call
	for _, e := range entries {
		if e.Call == "" {
			continue
		}
		c := by[e.Call]
		if c == nil {
			if e.Kind != events.CallStarted && e.Kind != events.CallRejected {
				continue
			}
			c = &Call{ID: e.Call, From: e.From, To: e.To, Target: e.Target, Started: e.Time}
			by[e.Call] = c
			order = append(order, c)
		}
		c.Evidence = append(c.Evidence, e.ID)
		switch e.Kind {
		case events.CallRejected:
			c.Rejected, c.Ended = e.Status, true
		case events.LegRinging, events.LegCancelled, events.LegFailed:
			// Offered the call: a leg cancelled because another answered
			// before its 180 came back was rung all the same.
			if e.Leg != "" && !slices.Contains(c.Rang, e.Leg) {
				c.Rang = append(c.Rang, e.Leg)
			}
		case events.LegAnswered:
			if c.Answered == "" && c.Fallback == "" {
				c.Answered = e.Leg
				if !slices.Contains(c.Rang, e.Leg) {
					c.Rang = append(c.Rang, e.Leg) // answered at once, without a 180
				}
			}
		case events.Fallback:
			if _, f, ok := strings.Cut(e.Cause, " → "); ok {
				c.Fallback = f
			}
			if !strings.HasPrefix(c.Fallback, string(ir.FallbackVoicemail)) && e.Status >= 300 {
				// The ring ended in the caller's refusal, not in a
				// service that answers.
				c.Rejected = e.Status
			}
		case events.DTMF:
			c.Digits += e.Digits
		case events.DoorOpened:
			c.Opened = append(c.Opened, e.Event)
		case events.DoorRefused:
			c.Refused = append(c.Refused, e.Event)
		case events.CallEnded:
			c.Ended = true
		}
	}
	return order
}

// Registered says whether an account has a live registration now.
type Registered func(account string) bool

// Judge compares an ended call with every case that begins with its dial
// and returns the indexes of the items it decided or explained.
func (cl *Checklist) Judge(c *Call, epoch string, reg Registered) []int {
	if c.From == RingTestFrom {
		return cl.ringTested(c, epoch)
	}
	var changed []int
	matched := false
	for i := range cl.Items {
		it := &cl.Items[i]
		d, ok := it.Dial()
		if !ok || it.Status == Skipped || d.From != c.From || d.To != c.To {
			continue
		}
		matched = true
		v := judge(it.c, d, c, reg)
		switch {
		case v.status == "":
			continue // the call was not this case's (another answerer, say)
		case v.status == Open && it.Status != Open:
			continue // an earlier call decided it; this one proves nothing new
		}
		it.Status, it.Detail = v.status, v.detail
		if v.status != Open {
			it.At, it.Evidence, it.Epoch, it.Call = c.Started, slices.Clone(c.Evidence), epoch, c.ID
			it.SetLadder(nil, false)
		}
		changed = append(changed, i)
	}
	if !matched {
		cl.Unjudged++
	}
	return changed
}

// SetLadder gives a failed item the SIP messages of its call
// (simulate.TracedLadder of the server's record), and its Ladder lines.
func (it *Item) SetLadder(msgs []simulate.SIPMessage, more bool) {
	it.SIP, it.MoreSIP, it.Ladder = msgs, more, nil
	if len(msgs) > 0 {
		it.Ladder = simulate.LadderLines(msgs, more)
	}
}

// ringTested decides the open cases of the person a ring test called: it
// passes them when someone answered on one of their endpoints and keyed a
// digit, and says why not otherwise (they stay open: the person may not
// have been there).
func (cl *Checklist) ringTested(c *Call, epoch string) []int {
	user, ok := strings.CutPrefix(c.Target, "user.")
	if !ok {
		cl.Unjudged++
		return nil
	}
	var changed []int
	for i := range cl.Items {
		it := &cl.Items[i]
		if it.User != user || it.Status != Open {
			continue
		}
		switch {
		case c.Answered != "" && c.Digits != "":
			it.Status, it.At, it.Evidence, it.Epoch, it.Call = Passed, c.Started, slices.Clone(c.Evidence), epoch, c.ID
			it.Detail = fmt.Sprintf("ring test: %s answered and keyed %s", short(c.Answered), c.Digits)
		case c.Answered != "":
			it.Detail = fmt.Sprintf("ring test: %s answered but keyed no digit", short(c.Answered))
		case len(c.Rang) > 0:
			it.Detail = fmt.Sprintf("ring test: rang %s; nobody answered", names(c.Rang))
		default:
			it.Detail = "ring test: nothing rang"
		}
		changed = append(changed, i)
	}
	return changed
}

type verdict struct {
	status Status // "": the call does not address the case
	detail string
}

// judge is one case against one call that began with its dial.
func judge(k simulate.Case, d simulate.Dial, c *Call, reg Registered) verdict {
	first, only, hasOnly := rings(k)
	if c.Rejected != 0 && c.Answered == "" && len(c.Rang) == 0 {
		// Refused before anything rang: only a case expecting that
		// refusal is addressed; any other is failed by it, unless
		// nothing it rings is registered.
		if len(first) > 0 && !slices.ContainsFunc(first, func(a string) bool { return reg(a) }) {
			return verdict{Open, fmt.Sprintf("%s not registered (switched off?): the call was refused with %d", names(first), c.Rejected)}
		}
		for _, s := range k.Steps {
			if f, ok := s.(simulate.ExpectFailed); ok {
				if f.Status == c.Rejected {
					return verdict{status: Passed}
				}
				return verdict{Failed, fmt.Sprintf("refused with %d; expected %d", c.Rejected, f.Status)}
			}
		}
		return verdict{Failed, fmt.Sprintf("the server refused the call (%d) before anything rang", c.Rejected)}
	}
	// What rings first must ring, whoever answers: a wrong residence or a
	// device missing from the ring fails every case of the entry.
	var off []string
	if missing := without(first, c.Rang); len(missing) > 0 {
		var on []string
		for _, a := range missing {
			if reg(a) {
				on = append(on, a)
			} else {
				off = append(off, a)
			}
		}
		if len(on) > 0 {
			return verdict{Failed, fmt.Sprintf("rang %s; expected also %s", names(c.Rang), names(on))}
		}
	}
	if hasOnly {
		if extra := without(c.Rang, only); len(extra) > 0 {
			return verdict{Failed, fmt.Sprintf("rang %s, which the site files do not ring", names(extra))}
		}
	}
	if c.Answered != "" && len(first) > 0 && !slices.Contains(c.Rang, c.Answered) {
		return verdict{Failed, fmt.Sprintf("answered by %s, which the site files do not ring", short(c.Answered))}
	}
	// Who answered decides which case the call is.
	if c.Answered != d.Answer {
		return verdict{}
	}
	var open []string
	if len(off) > 0 && d.Answer == "" {
		// The ring case proves the whole ring; a case of one person
		// answering is not held back by another's device.
		open = append(open, fmt.Sprintf("%s not registered (switched off?), so not rung", names(off)))
	}
	for _, s := range k.Steps {
		switch s := s.(type) {
		case simulate.ExpectDoor:
			if v, ok := door(s, c); !ok {
				return v
			} else if v.detail != "" {
				open = append(open, v.detail)
			}
		case simulate.ExpectFallback:
			switch {
			case c.Fallback == "":
				return verdict{} // hung up before the ring timed out
			case c.Fallback != s.Fallback.String():
				return verdict{Failed, fmt.Sprintf("fell back to %s; expected %s", c.Fallback, s.Fallback)}
			}
		case simulate.ExpectFailed:
			if c.Rejected == 0 {
				return verdict{}
			}
			if c.Rejected != s.Status {
				return verdict{Failed, fmt.Sprintf("refused with %d; expected %d", c.Rejected, s.Status)}
			}
		}
	}
	if len(open) > 0 {
		return verdict{Open, strings.Join(open, "; ")}
	}
	return verdict{status: Passed}
}

// rings returns what the case expects to ring first (its first
// ExpectRing) and, when it says so, the only accounts that may ring.
func rings(k simulate.Case) (first, only []string, hasOnly bool) {
	for _, s := range k.Steps {
		switch s := s.(type) {
		case simulate.ExpectRing:
			if first == nil {
				first = s.Accounts
			}
		case simulate.ExpectOnlyRung:
			only, hasOnly = s.Accounts, true
		}
	}
	return first, only, hasOnly
}

// door checks an ExpectDoor: ok false with a failing verdict when the door
// did the opposite; a detail when it did nothing (the installer did not
// key the code, the case stays open).
func door(s simulate.ExpectDoor, c *Call) (verdict, bool) {
	match := func(e events.Event) bool { return e.Device == s.Device && e.Relay == s.Relay }
	opened := slices.ContainsFunc(c.Opened, match)
	i := slices.IndexFunc(c.Refused, match)
	switch {
	case s.Open && opened, !s.Open && i >= 0:
		return verdict{}, true
	case s.Open && i >= 0:
		return verdict{Failed, fmt.Sprintf("%s keyed the code of %q and the door stayed shut: %s", short(c.Refused[i].Account), s.Relay, c.Refused[i].Cause)}, false
	case !s.Open && opened:
		return verdict{Failed, fmt.Sprintf("%s opened %q, which it may not", short(s.By), s.Relay)}, false
	case s.Open:
		return verdict{detail: fmt.Sprintf("answered, but %q was not opened: key its code", s.Relay)}, true
	}
	return verdict{detail: fmt.Sprintf("%s did not key the code of %q", short(s.By), s.Relay)}, true
}

// Explain says, for every open case, what stands in its way: a device
// that is not registered, or the call nobody has made yet.
func (cl *Checklist) Explain(reg Registered) {
	for i := range cl.Items {
		it := &cl.Items[i]
		if it.Status != Open {
			continue
		}
		d, ok := it.Dial()
		if !ok {
			it.Detail = "no call proves it live"
			continue
		}
		var off []string
		need := []string{d.From}
		if d.Answer != "" {
			need = append(need, d.Answer)
		}
		for _, a := range need {
			if !reg(a) && !strings.HasPrefix(a, "trunk.") {
				off = append(off, a)
			}
		}
		switch {
		case len(off) > 0:
			it.Detail = names(off) + " not registered (switched off?)"
		case it.Detail == "":
			it.Detail = "not called yet"
		}
	}
}

// Counts are the checklist's totals.
type Counts struct {
	Passed, Failed, Open, Skipped int
}

// Count totals the items.
func (cl *Checklist) Count() Counts {
	var n Counts
	for _, it := range cl.Items {
		switch it.Status {
		case Passed:
			n.Passed++
		case Failed:
			n.Failed++
		case Skipped:
			n.Skipped++
		default:
			n.Open++
		}
	}
	return n
}

// without is xs less ys.
func without(xs, ys []string) []string {
	var out []string
	for _, x := range xs {
		if !slices.Contains(ys, x) {
			out = append(out, x)
		}
	}
	return out
}

// short is how an account reads in a sentence: "sarah" for app.sarah,
// "hall-1" for device.hall-1.
func short(account string) string {
	if _, n, ok := strings.Cut(account, "."); ok {
		return n
	}
	return account
}

// names lists accounts as a sentence does: "sarah, david and hall-1".
func names(accounts []string) string {
	if len(accounts) == 0 {
		return "nobody"
	}
	s := make([]string, len(accounts))
	for i, a := range accounts {
		s[i] = short(a)
	}
	if len(s) == 1 {
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " and " + s[len(s)-1]
}

// Report is the checklist as simulate reports a run (and so as its text,
// JSON, JUnit and HTML writers take it): passed cases pass, failed ones
// fail with what differed (Step "live call", SIP and Ladder the messages
// of the call when the server kept them, Ladder's last line the evidence's
// event IDs), open and skipped ones are skipped with their reason ("open: …").
func (cl *Checklist) Report() *simulate.Report {
	r := &simulate.Report{}
	for _, it := range cl.Items {
		res := simulate.Result{Name: it.Name, Origin: it.Origin, Message: it.Detail}
		switch it.Status {
		case Passed:
			res.Status = simulate.Pass
		case Failed:
			res.Status, res.Step = simulate.Fail, "live call"
			res.SIP, res.MoreSIP = it.SIP, it.MoreSIP
			res.Ladder = slices.Clone(it.Ladder)
			if len(it.Evidence) > 0 {
				res.Ladder = append(res.Ladder, fmt.Sprintf("events %v of server run %s", it.Evidence, it.Epoch))
			}
		case Skipped:
			res.Status = simulate.Skip
		default:
			res.Status, res.Message = simulate.Skip, "open: "+it.Detail
		}
		r.Results = append(r.Results, res)
	}
	return r
}
