// Package simulate proves a site's call paths work before anyone climbs a
// ladder: it starts the real runtime, registers a simulated device for
// every account (door stations, monitors, phones, apps, the carrier), and
// runs cases — generated from the IR for every entry point and every user,
// or written as scenario files — that place real SIP calls with real RTP
// and check who rang, who answered, which door opened and where an
// unanswered call ended.
//
// The devices speak SIP and RTP to the runtime over sockets; they never
// call its internals. Time is virtual: ring timeouts and sequential hunts
// are advanced on a shared clock, so they cost microseconds and come out
// the same every run.
package simulate

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
)

// Case is one simulated call path: steps run in order, each an action or
// an expectation that must be observed.
type Case struct {
	Name   string
	Origin ir.Origin // the HCL that the case proves
	Skip   string    // why the case cannot run, when it cannot
	Steps  []Step
	// StepOrigins, when set, gives each step the HCL it came from (a
	// scenario's step block): a failure points there rather than at
	// Origin.
	StepOrigins []ir.Origin
}

// Step is an action or an expectation.
type Step interface{ describe() string }

type (
	// Dial places a call from an account; Answer names the account that
	// will pick up ("" for nobody). Every other device lets it ring.
	Dial struct {
		From, To, Answer string
		Decline          string   // this account declines (603)
		Busy             []string // these accounts answer 486 Busy Here
	}
	// ExpectRing waits until each account has been offered the call.
	ExpectRing struct{ Accounts []string }
	// ExpectNotRung checks that none of the accounts has been offered the
	// call so far.
	ExpectNotRung struct{ Accounts []string }
	// Advance moves the virtual clock.
	Advance struct{ D time.Duration }
	// ExpectAnswered waits for the call to connect, answered by By.
	ExpectAnswered struct{ By string }
	// SendDTMF sends digits from an account's side of the call.
	SendDTMF struct{ From, Digits string }
	// ExpectDoor waits for a door_opened (Open) or door_refused event.
	ExpectDoor struct {
		Open              bool
		Device, Relay, By string
	}
	// ExpectDigits waits until the account's side of the call received
	// digits: how a door station detects its relay code.
	ExpectDigits struct{ Account, Digits string }
	// ExpectVideo has the From device's camera send a few pictures and
	// waits until the To device's side of the call receives them: the
	// person answering sees who is at the door.
	ExpectVideo struct{ From, To string }
	// ExpectFailed waits for the call to be refused with Status.
	ExpectFailed struct{ Status int }
	// ExpectFallback waits for the ring to end in the given fallback.
	ExpectFallback struct{ Fallback ir.Fallback }
	// Hangup ends the call from the caller's side.
	Hangup struct{}
	// ExpectOnlyRung checks that no account outside the list was offered a
	// call during the case.
	ExpectOnlyRung struct{ Accounts []string }
	// ExpectOut waits for the carrier of Trunk to be offered a call to
	// Number presenting As as the caller's number, in From and in
	// P-Asserted-Identity (As empty: not checked).
	ExpectOut struct{ Trunk, Number, As string }
	// ExpectCallerID checks that a call of the case that Account answered
	// presented the caller as Name <sip:Number@domain> in its From (not
	// a call it answered in an earlier case).
	ExpectCallerID struct{ Account, Name, Number string }
)

func (s Dial) describe() string {
	d := fmt.Sprintf("%s dials %s", s.From, s.To)
	if s.Answer != "" {
		d += ", " + s.Answer + " answers"
	}
	return d
}
func (s ExpectRing) describe() string    { return "rings " + strings.Join(s.Accounts, ", ") }
func (s ExpectNotRung) describe() string { return "does not ring " + strings.Join(s.Accounts, ", ") }
func (s Advance) describe() string       { return "wait " + s.D.String() }
func (s ExpectAnswered) describe() string {
	return "answered by " + s.By
}
func (s SendDTMF) describe() string { return fmt.Sprintf("%s keys %q", s.From, s.Digits) }
func (s ExpectDoor) describe() string {
	if s.Open {
		return fmt.Sprintf("%s opens %s relay %q", s.By, s.Device, s.Relay)
	}
	return fmt.Sprintf("%s is refused at %s", s.By, s.Device)
}
func (s ExpectDigits) describe() string   { return fmt.Sprintf("%s receives %q", s.Account, s.Digits) }
func (s ExpectVideo) describe() string    { return fmt.Sprintf("%s sees %s's camera", s.To, s.From) }
func (s ExpectFailed) describe() string   { return fmt.Sprintf("call refused with %d", s.Status) }
func (s ExpectFallback) describe() string { return "falls back to " + s.Fallback.String() }
func (s Hangup) describe() string         { return "caller hangs up" }
func (s ExpectOut) describe() string {
	d := fmt.Sprintf("trunk %q carries the call to %s", s.Trunk, s.Number)
	if s.As != "" {
		d += " as " + s.As
	}
	return d
}
func (s ExpectCallerID) describe() string {
	return fmt.Sprintf("%s sees the call from %q <%s>", s.Account, s.Name, s.Number)
}
func (s ExpectOnlyRung) describe() string {
	return "rings nobody but " + strings.Join(s.Accounts, ", ")
}

// Generate builds the suite every site gets without writing a test: every
// door-station entry point, every user by extension, every DDI.
func Generate(p *ir.Program) []Case {
	g := &generator{p: p, users: map[string]*ir.User{}, seen: map[string]bool{}}
	for i := range p.Users {
		g.users[p.Users[i].Name] = &p.Users[i]
	}
	var cases []Case
	answered := map[string]bool{} // door/target pairs whose residents were all exercised
	for _, e := range p.Entries {
		dev := p.Device(e.Device)
		if dev == nil {
			continue
		}
		cases = append(cases, g.entryRings(dev, e))
		key := e.Device + "\x00" + e.Target.String()
		if answered[key] {
			continue
		}
		answered[key] = true
		cases = append(cases, g.entryAnswers(dev, e)...)
	}
	for _, d := range p.Devices {
		if d.Kind == ir.DoorStation && len(d.Relays) > 0 {
			cases = append(cases, g.refused(&d))
		}
	}
	for _, u := range p.Users {
		cases = append(cases, g.extension(&u))
	}
	for _, u := range p.Users {
		if c, ok := g.voicemail(&u); ok {
			cases = append(cases, c)
		}
	}
	for _, d := range p.DDIs {
		cases = append(cases, g.ddi(d))
	}
	for _, t := range p.Trunks {
		if c, ok := g.spare(t); ok {
			cases = append(cases, c)
		}
	}
	cases = append(cases, g.callsOut()...)
	for _, n := range p.Numbers {
		switch n.Action.Kind {
		case ir.ActionConference:
			cases = append(cases, g.conference(n))
		case ir.ActionVoicemail:
			cases = append(cases, g.voicemailAccess(n))
		}
	}
	return cases
}

type generator struct {
	p     *ir.Program
	users map[string]*ir.User
	// seen are the camera door stations whose video a case has shown
	// already: once per door proves its video path (entries do not change
	// how video is handled).
	seen map[string]bool
}

// targetLabel is how a case names what a door calls: `residence 1A` or
// `Mary Byrne`.
func (g *generator) targetLabel(t ir.Ref) string {
	switch t.Kind {
	case ir.RefResidence:
		if r := g.p.Residence(t.Name); r != nil {
			return "residence " + r.Label
		}
	case ir.RefUser:
		if u := g.users[t.Name]; u != nil {
			return u.Name
		}
	}
	return t.String()
}

func (g *generator) ring(t ir.Ref) (ir.Ring, bool) {
	switch t.Kind {
	case ir.RefResidence:
		if r := g.p.Residence(t.Name); r != nil {
			return r.Ring, true
		}
	case ir.RefUser:
		if u := g.users[t.Name]; u != nil {
			return u.Ring, true
		}
	}
	return ir.Ring{}, false
}

func entryLabel(dev *ir.Device, e ir.Entry) string {
	for _, b := range dev.Buttons {
		if b.Dial == e.Code && b.Target == e.Target {
			return fmt.Sprintf("%s button %s", dev.Name, b.Label)
		}
	}
	return fmt.Sprintf("%s keys %s", dev.Name, e.Code)
}

func allAccounts(r ir.Ring) []string {
	var out []string
	for _, l := range r.Legs {
		out = append(out, l.Accounts...)
	}
	return out
}

// entryRings: the entry rings exactly the ring plan's endpoints, in order
// for a sequential ring, and an unanswered call ends in the fallback.
func (g *generator) entryRings(dev *ir.Device, e ir.Entry) Case {
	ring, _ := g.ring(e.Target)
	how := "together"
	if ring.Strategy == ir.Sequential {
		how = "in turn"
	}
	c := Case{
		Name:   fmt.Sprintf("%s → %s rings %s, then %s", entryLabel(dev, e), g.targetLabel(e.Target), how, ring.NoAnswer.String()),
		Origin: e.Origin,
	}
	if len(allAccounts(ring)) == 0 {
		c.Skip = fmt.Sprintf("%s has no endpoint to ring", g.targetLabel(e.Target))
		return c
	}
	c.Steps = append(c.Steps, Dial{From: dev.Account, To: e.Code})
	c.Steps = append(c.Steps, g.hunt(ring, -1)...)
	c.Steps = append(c.Steps, g.unanswered(ring.NoAnswer)...)
	c.Steps = append(c.Steps, ExpectOnlyRung{Accounts: allAccounts(ring)})
	return c
}

// unanswered is how a ring that nobody answers ends: voicemail answers, or
// the caller hears 480.
func (g *generator) unanswered(f ir.Fallback) []Step {
	if f.Kind == ir.FallbackVoicemail {
		return []Step{ExpectFallback{Fallback: f}, ExpectVoicemail{Mailbox: f.Mailbox}, Hangup{}}
	}
	return []Step{ExpectFailed{Status: 480}, ExpectFallback{Fallback: f}}
}

// voicemail: a caller reaches the user, nobody answers, and the message
// they leave arrives in the user's box while the user's phones are told.
func (g *generator) voicemail(u *ir.User) (Case, bool) {
	f := u.Ring.NoAnswer
	if u.Mailbox == "" || f.Kind != ir.FallbackVoicemail || u.Extension == "" {
		return Case{}, false
	}
	c := Case{Name: fmt.Sprintf("%s's unanswered calls leave a message in voicemail %s", u.Name, f.Mailbox), Origin: u.Origin}
	if m := g.p.Mailbox(f.Mailbox); m != nil {
		c.Origin = m.Origin
	}
	caller := ""
	for _, v := range g.p.Users {
		if v.Name != u.Name && len(v.Endpoints) > 0 && !overlaps(v.Endpoints, u.Endpoints) {
			caller = v.Endpoints[0]
			c.Name = fmt.Sprintf("%s calls %s on %s, nobody answers → the message arrives in voicemail %s", v.Name, u.Name, u.Extension, f.Mailbox)
			break
		}
	}
	if caller == "" {
		c.Skip = "no other user has a phone or app to call from"
		return c, true
	}
	c.Steps = append(c.Steps, Dial{From: caller, To: u.Extension})
	if len(allAccounts(u.Ring)) > 0 {
		c.Steps = append(c.Steps, g.hunt(u.Ring, -1)...)
	}
	c.Steps = append(c.Steps,
		ExpectFallback{Fallback: f},
		ExpectVoicemail{Mailbox: f.Mailbox},
		LeaveMessage{Seconds: 1},
		ExpectMessage{Mailbox: f.Mailbox, Seconds: 1},
	)
	if f.Mailbox == u.Mailbox && len(u.Endpoints) > 0 {
		c.Steps = append(c.Steps, ExpectMWI{Accounts: u.Endpoints})
	}
	c.Steps = append(c.Steps, Hangup{})
	return c, true
}

// voicemailAccess: a user dials the access code from their own phone and
// hears their mailbox.
func (g *generator) voicemailAccess(n ir.Number) Case {
	c := Case{Name: fmt.Sprintf("voicemail access %s answers", n.Number), Origin: n.Origin}
	for _, u := range g.p.Users {
		if u.Mailbox != "" && len(u.Endpoints) > 0 {
			c.Name = fmt.Sprintf("%s dials %s and hears voicemail %s", u.Name, n.Number, u.Mailbox)
			c.Steps = []Step{
				Dial{From: u.Endpoints[0], To: n.Number},
				ExpectVoicemail{Mailbox: ""},
				ExpectHears{What: "the mailbox menu"},
				Hangup{},
			}
			return c
		}
	}
	c.Skip = "no user with a mailbox has a phone or app to dial from"
	return c
}

// hunt walks a ring plan up to leg stop (-1: through the end), expecting
// each leg to ring in its turn and advancing the clock past it.
func (g *generator) hunt(ring ir.Ring, stop int) []Step {
	var steps []Step
	if ring.Strategy != ir.Sequential {
		steps = append(steps, ExpectRing{Accounts: allAccounts(ring)})
		if stop < 0 {
			steps = append(steps, Advance{D: ring.Timeout.Std()})
		}
		return steps
	}
	left := ring.Timeout.Std()
	for i, leg := range ring.Legs {
		if i == stop {
			steps = append(steps, ExpectRing{Accounts: leg.Accounts})
			return steps
		}
		steps = append(steps, ExpectRing{Accounts: leg.Accounts})
		if i+1 < len(ring.Legs) {
			steps = append(steps, ExpectNotRung{Accounts: ring.Legs[i+1].Accounts})
		}
		d := min(leg.Timeout.Std(), left)
		left -= d
		if d > 0 {
			steps = append(steps, Advance{D: d})
		}
		if left <= 0 {
			break
		}
	}
	if left > 0 {
		steps = append(steps, Advance{D: left})
	}
	return steps
}

// camera reports whether the door station's model has one.
func (g *generator) camera(d *ir.Device) bool {
	m, ok := catalogue.Lookup(d.Model)
	return ok && m.Video
}

// screen reports whether the account shows video: an app or an indoor
// monitor (a desk phone is not taken to).
func (g *generator) screen(account string) bool {
	a := g.p.Account(account)
	if a == nil {
		return false
	}
	if a.Kind == ir.AccountApp {
		return true
	}
	d := g.p.Device(a.Device)
	return d != nil && d.Kind == ir.Monitor
}

// entryAnswers: each endpoint the entry rings answers in turn and opens
// every relay of the door station with its code.
func (g *generator) entryAnswers(dev *ir.Device, e ir.Entry) []Case {
	ring, _ := g.ring(e.Target)
	var cases []Case
	for li, leg := range ring.Legs {
		who := strings.TrimPrefix(strings.TrimPrefix(leg.Label, "user."), "device.")
		answerer := leg.Accounts[0]
		name := fmt.Sprintf("%s → %s → %s answers", entryLabel(dev, e), g.targetLabel(e.Target), who)
		relays := g.openable(answerer, dev)
		var opens []string
		for _, r := range relays {
			opens = append(opens, fmt.Sprintf("%q", r.Name))
		}
		if len(opens) > 0 {
			name += " and opens " + strings.Join(opens, ", ")
		}
		video := li == 0 && g.camera(dev) && !g.seen[dev.Name] && g.screen(answerer)
		if video {
			g.seen[dev.Name] = true
			name = strings.Replace(name, " answers", " answers, sees the camera", 1)
		}
		c := Case{Name: name, Origin: e.Origin}
		c.Steps = append(c.Steps, Dial{From: dev.Account, To: e.Code, Answer: answerer})
		c.Steps = append(c.Steps, g.hunt(ring, li)...)
		c.Steps = append(c.Steps, ExpectAnswered{By: answerer})
		if e.CallerName != "" {
			c.Steps = append(c.Steps, ExpectCallerID{Account: answerer, Name: e.CallerName, Number: g.callerNumber(dev.Account)})
		}
		if video {
			c.Steps = append(c.Steps, ExpectVideo{From: dev.Account, To: answerer})
		}
		for _, r := range relays {
			c.Steps = append(c.Steps,
				SendDTMF{From: answerer, Digits: r.DTMF},
				ExpectDoor{Open: true, Device: dev.Name, Relay: r.Name, By: answerer},
				ExpectDigits{Account: dev.Account, Digits: r.DTMF})
		}
		c.Steps = append(c.Steps, Hangup{})
		cases = append(cases, c)
	}
	return cases
}

// openable lists the relays of door station dev that answerer can open.
// People key any code on an app or phone; an indoor monitor sends only the
// unlock code it is provisioned with (its Unlock button), so it opens the
// relays with that code and no other — the case fails when a monitor is
// provisioned with no code or a wrong one, as the real one would not open
// the door.
func (g *generator) openable(answerer string, dev *ir.Device) []ir.Relay {
	a := g.p.Account(answerer)
	if a == nil || a.Device == "" {
		return dev.Relays
	}
	mon := g.p.Device(a.Device)
	if mon == nil || mon.Kind != ir.Monitor {
		return dev.Relays
	}
	var out []ir.Relay
	for _, r := range dev.Relays {
		if r.DTMF == mon.UnlockDTMF {
			out = append(out, r)
		}
	}
	return out
}

// refused: someone the door station never calls looks at it and keys its
// relay code; the door stays shut and the attempt is recorded.
func (g *generator) refused(dev *ir.Device) Case {
	allowed := map[string]bool{}
	for _, e := range g.p.Entries {
		if e.Device != dev.Name {
			continue
		}
		if ring, ok := g.ring(e.Target); ok {
			for _, a := range allAccounts(ring) {
				allowed[a] = true
			}
		}
	}
	relay := dev.Relays[0]
	c := Case{Origin: relay.Origin}
	for _, u := range g.p.Users {
		for _, ep := range u.Endpoints {
			if allowed[ep] {
				continue
			}
			c.Name = fmt.Sprintf("%s (no resident %s calls) keys %s's code for %q and is refused", u.Name, dev.Name, dev.Name, relay.Name)
			c.Steps = []Step{
				Dial{From: ep, To: dev.Account, Answer: dev.Account},
				ExpectAnswered{By: dev.Account},
				SendDTMF{From: ep, Digits: relay.DTMF},
				ExpectDoor{Open: false, Device: dev.Name, Relay: relay.Name, By: ep},
				Hangup{},
			}
			return c
		}
	}
	c.Name = fmt.Sprintf("a non-resident keys %s's code for %q and is refused", dev.Name, relay.Name)
	c.Skip = fmt.Sprintf("every user with a phone or app is someone %s calls, so no one is a non-resident", dev.Name)
	return c
}

// extension: another user reaches this one by extension.
func (g *generator) extension(u *ir.User) Case {
	c := Case{Name: fmt.Sprintf("%s is reached on extension %s", u.Name, u.Extension), Origin: u.Origin}
	if u.Extension == "" {
		c.Name = fmt.Sprintf("%s is reached by extension", u.Name)
		c.Skip = "the user has no extension"
		return c
	}
	if len(u.Endpoints) == 0 {
		c.Skip = "the user has no app or phone to ring"
		return c
	}
	caller := ""
	for _, v := range g.p.Users {
		if v.Name != u.Name && len(v.Endpoints) > 0 && !overlaps(v.Endpoints, u.Endpoints) {
			caller = v.Endpoints[0]
			c.Name = fmt.Sprintf("%s calls %s on extension %s", v.Name, u.Name, u.Extension)
			break
		}
	}
	if caller == "" {
		c.Skip = "no other user has a phone or app to call from"
		return c
	}
	c.Steps = []Step{
		Dial{From: caller, To: u.Extension, Answer: u.Endpoints[0]},
		ExpectRing{Accounts: u.Endpoints},
		ExpectAnswered{By: u.Endpoints[0]},
	}
	if a := g.p.Account(caller); a != nil && a.CallerName != "" {
		c.Steps = append(c.Steps, ExpectCallerID{Account: u.Endpoints[0], Name: a.CallerName, Number: g.callerNumber(caller)})
	}
	c.Steps = append(c.Steps, Hangup{}, ExpectOnlyRung{Accounts: u.Endpoints})
	return c
}

// callerNumber is the user part an account's calls present inside the
// site: its caller number (a person's extension), else its username.
func (g *generator) callerNumber(account string) string {
	a := g.p.Account(account)
	switch {
	case a == nil:
		return account
	case a.CallerNumber != "":
		return a.CallerNumber
	case a.Username != "":
		return a.Username
	}
	return account
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// ddi: the carrier's call to a DDI rings its user.
func (g *generator) ddi(d ir.DDI) Case {
	u := g.users[d.Target.Name]
	c := Case{Name: fmt.Sprintf("carrier %s → %s rings %s", d.Trunk, d.Number, d.Target.Name), Origin: d.Origin}
	if u == nil || len(u.Endpoints) == 0 {
		c.Skip = "the user has no app or phone to ring"
		return c
	}
	c.Steps = []Step{
		Dial{From: ir.AccountName(ir.AccountTrunk, d.Trunk), To: d.Number, Answer: u.Endpoints[0]},
		ExpectRing{Accounts: u.Endpoints},
		ExpectAnswered{By: u.Endpoints[0]},
		Hangup{},
		ExpectOnlyRung{Accounts: u.Endpoints},
	}
	return c
}

// spare: the carrier's call to a spare number of the trunk's pool (its
// lowest; one no user holds) goes to the trunk's unassigned destination:
// rung and answered, straight into voicemail, or refused with 404 when the
// trunk sets none.
func (g *generator) spare(t ir.Trunk) (Case, bool) {
	assigned := map[string]bool{}
	for _, d := range g.p.DDIs {
		assigned[d.Number] = true
	}
	number := ""
	for _, n := range t.DDIs { // sorted
		if !assigned[n] {
			number = n
			break
		}
	}
	if number == "" {
		return Case{}, false
	}
	from := ir.AccountName(ir.AccountTrunk, t.Name)
	c := Case{Origin: t.Origin}
	switch {
	case t.Unassigned.IsZero():
		c.Name = fmt.Sprintf("carrier %s → spare %s is refused with 404 (no unassigned destination)", t.Name, number)
		c.Steps = []Step{Dial{From: from, To: number}, ExpectFailed{Status: 404}}
	case t.UnassignedMailbox != "":
		vm := ir.Fallback{Kind: ir.FallbackVoicemail, Mailbox: t.UnassignedMailbox}
		c.Name = fmt.Sprintf("carrier %s → spare %s goes to %s", t.Name, number, vm.String())
		c.Steps = []Step{Dial{From: from, To: number}, ExpectFallback{Fallback: vm}, ExpectVoicemail{Mailbox: vm.Mailbox}, Hangup{}}
	default:
		c.Name = fmt.Sprintf("carrier %s → spare %s rings %s (unassigned)", t.Name, number, g.targetLabel(t.Unassigned))
		ring, _ := g.ring(t.Unassigned)
		accounts := allAccounts(ring)
		if len(accounts) == 0 {
			c.Skip = fmt.Sprintf("%s has no endpoint to ring", g.targetLabel(t.Unassigned))
			return c, true
		}
		c.Steps = []Step{
			Dial{From: from, To: number, Answer: accounts[0]},
			ExpectRing{Accounts: ring.Legs[0].Accounts},
			ExpectAnswered{By: accounts[0]},
			Hangup{},
		}
	}
	return c, true
}

// externalNumber is the public number the generated calls out dial: in
// the range set aside for fiction (NANP 555-01xx), so that a real carrier
// given one by mistake reaches no one.
const externalNumber = "+15550100"

// callsOut: users reach the public network over the trunk that holds
// their own number (their lowest DDI), presenting it; a user without one
// goes over the site's first trunk presenting its main number; every
// emergency number goes out the same way; a door station never reaches
// the trunk.
func (g *generator) callsOut() []Case {
	if len(g.p.Trunks) == 0 {
		return nil
	}
	first := &g.p.Trunks[0]
	out := func(name string, origin ir.Origin, from, number string, t *ir.Trunk, as string) Case {
		carrier := ir.AccountName(ir.AccountTrunk, t.Name)
		return Case{Name: name, Origin: origin, Steps: []Step{
			Dial{From: from, To: number, Answer: carrier},
			ExpectOut{Trunk: t.Name, Number: number, As: as},
			ExpectAnswered{By: carrier},
			Hangup{},
			ExpectOnlyRung{Accounts: []string{carrier}},
		}}
	}
	ddiOf := map[string]*ir.DDI{} // user → their lowest DDI, on any trunk
	for i := range g.p.DDIs {
		d := &g.p.DDIs[i]
		if d.Target.Kind == ir.RefUser && ddiOf[d.Target.Name] == nil && g.p.Trunk(d.Trunk) != nil {
			ddiOf[d.Target.Name] = d
		}
	}
	// via is the trunk a user's calls go out on, and the number shown.
	via := func(user string) (*ir.Trunk, string, ir.Origin) {
		if d := ddiOf[user]; d != nil {
			return g.p.Trunk(d.Trunk), d.Number, d.Origin
		}
		main := ""
		if len(first.DDIs) > 0 {
			main = first.DDIs[0]
		}
		return first, main, first.Origin
	}
	var cases []Case
	caller := "" // the first user with an endpoint, for the emergency calls
	withoutDDI := false
	for _, u := range g.p.Users {
		if len(u.Endpoints) == 0 {
			continue
		}
		if caller == "" {
			caller = u.Name
		}
		t, as, origin := via(u.Name)
		if ddiOf[u.Name] != nil {
			cases = append(cases, out(fmt.Sprintf("%s calls %s → out over trunk %q as %s", u.Name, externalNumber, t.Name, as),
				origin, u.Endpoints[0], externalNumber, t, as))
			continue
		}
		if !withoutDDI {
			// One user without a number of their own shows the trunk's.
			withoutDDI = true
			name := fmt.Sprintf("%s (no DDI) calls %s → out over trunk %q as %s", u.Name, externalNumber, t.Name, as)
			if as == "" {
				name = fmt.Sprintf("%s (no DDI) calls %s → out over trunk %q", u.Name, externalNumber, t.Name)
			}
			cases = append(cases, out(name, origin, u.Endpoints[0], externalNumber, t, as))
		}
	}
	for _, e := range g.p.Site.Emergency {
		if caller == "" {
			cases = append(cases, Case{Name: fmt.Sprintf("emergency number %s → out over trunk %q", e, first.Name), Origin: g.p.Site.Origin,
				Skip: "no user has a phone or app to call from"})
			continue
		}
		u := g.users[caller]
		t, as, _ := via(caller)
		cases = append(cases, out(fmt.Sprintf("%s dials emergency number %s → out over trunk %q", u.Name, e, t.Name), g.p.Site.Origin, u.Endpoints[0], e, t, as))
	}
	for _, d := range g.p.Devices {
		if d.Kind != ir.DoorStation {
			continue
		}
		cases = append(cases, Case{Name: fmt.Sprintf("%s cannot call out (404)", d.Name), Origin: d.Origin, Steps: []Step{
			Dial{From: d.Account, To: externalNumber},
			ExpectFailed{Status: 404},
			ExpectOnlyRung{},
		}})
	}
	return cases
}

// conference: three people join a room and each hears the other two and
// not themselves.
func (g *generator) conference(n ir.Number) Case {
	c := Case{Name: fmt.Sprintf("conference room %s", n.Number), Origin: n.Origin}
	if room := g.p.Conference(n.Action.Target.Name); room != nil {
		c.Origin = room.Origin
	}
	var who, accounts []string
	for _, u := range g.p.Users {
		if len(u.Endpoints) > 0 && len(accounts) < 3 {
			who = append(who, u.Name)
			accounts = append(accounts, u.Endpoints[0])
		}
	}
	if len(accounts) < 2 {
		c.Name += " mixes its participants"
		c.Skip = "fewer than two users have a phone or app to join from"
		return c
	}
	c.Name = fmt.Sprintf("%s join conference room %s and each hears the others, not themselves", strings.Join(who, ", "), n.Number)
	c.Steps = []Step{ExpectConference{Number: n.Number, Accounts: accounts}}
	return c
}
