// Package apply carries out a plan: it publishes the provisioning
// directory that `switchboard serve` hands out, makes a running server
// reload it, pushes settings to devices that have a management API (Akuvox
// /api/config/set with digest authentication and a monitor's contacts
// through /api/contact, then a read-back and a verdict per device), asks
// the server to send check-sync to the others and, for Yealink and
// Grandstream phones with an address, reads their settings back through
// their web API (readback.go), sends invitations by mail, and offboards
// removed users.
//
// Order: the directory is published first — so a removed user's accounts
// and a removed device's files are gone at once — and the server reloaded;
// then the site, trunks, residences and conference rooms; then devices,
// several at a time; then the users they serve (and their invitations);
// removals last.
//
// The state records exactly what succeeded, written after every step: an
// apply killed at any point loses nothing, and the next plan shows only
// what is left. A failed device does not stop the others; a device whose
// settings did not stick is not recorded, so the next apply tries it again.
package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/compiler/handover"
	"switchboard/compiler/ir"
	"switchboard/compiler/plan"
	"switchboard/compiler/provision"
	"switchboard/compiler/provision/akuvox"
	"switchboard/compiler/state"
	"switchboard/email"
)

// Options are what Run needs.
type Options struct {
	Plan    *plan.Plan
	Desired *plan.Desired
	Program *ir.Program
	Bundle  *provision.Bundle
	Key     credentials.Key

	// State is the state the plan was made against; Run updates it and
	// writes it through Store after every step.
	State *state.State
	Store *state.Store

	// Publish writes dialplan.json and the provisioning files (and removes
	// files no longer in the bundle). It runs first.
	Publish func() error
	// Server is the running serve, nil when none is configured.
	Server Server
	// Targets are the devices' management API addresses, by device name.
	Targets map[string]Target
	// Mailer sends invitations; nil when no mail server is configured.
	Mailer email.Mailer
	// From is the invitations' sender address.
	From string
	// App says which app an invitation tells people to install.
	App string
	// Installer names the site's installer (company) in invitations;
	// InstallerLogin is the installer's login, which no invitation may
	// contain.
	Installer, InstallerLogin string
	// SheetKey is where the site key lives and its fingerprint, for the
	// handover sheet mailed when the plan moves ownership (handover.go).
	SheetKey handover.KeyInfo

	// Parallelism is how many devices are pushed at once (default 4).
	Parallelism int
	// DeviceTimeout bounds each API request (default 10s).
	DeviceTimeout time.Duration
	// VerifyWait is how long a phone told to fetch its files (check-sync)
	// may take until its read-back shows them (default 60s); VerifyPoll how
	// often it is read meanwhile (default 2s).
	VerifyWait, VerifyPoll time.Duration
	// Progress, if set, is called as each step ends (from several
	// goroutines, one call at a time).
	Progress func(Step)
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Step is the outcome of one change.
type Step struct {
	Address string
	Kind    plan.Kind
	Name    string
	Label   string
	Action  plan.Action
	// Outcome is short: a device verdict ("set and verified"), "check-sync
	// sent", "applied", "offboarded", "removed".
	Outcome string
	// Detail explains, in a sentence or two; never a secret.
	Detail string
	// Done reports whether the step succeeded and is recorded in the
	// state.
	Done bool
	// Invitation, for users, says what happened to their invitation.
	Invitation string
	// Reach, for a device created, updated or replaced, says whether its
	// configuration reached it (see Reach).
	Reach Reach
	// Offboarding, for a user removed, are the steps of their offboarding
	// as sentences, in order (also joined in Detail).
	Offboarding []string
}

// Reach is how far a device's configuration got: the verdict an apply
// owes the operator, beside the mechanism's own outcome.
type Reach string

const (
	// Verified: pushed through the device's management API, or fetched by
	// the device on check-sync, and read back as written (or found already
	// set). Done.
	Verified Reach = "applied and verified"
	// Unverified: the running server told the device to fetch its files
	// (check-sync); nothing reads its settings back (no address was given,
	// or its vendor has no read-back). Done: switchboard can do no more
	// without one.
	Unverified Reach = "applied, not verified"
	// NotReached: the configuration is not known to be on the device: no
	// server was configured to tell it, check-sync failed, the device was
	// unreachable, refused the settings or did not keep them. Not done and
	// not recorded, so the next plan shows the device again.
	NotReached Reach = "not reached"
)

// Result is what Run did.
type Result struct {
	// Reload is what happened when the server was asked to reload.
	Reload string
	// ReloadOK is false when a configured server failed to reload.
	ReloadOK bool
	Steps    []Step // in plan order
	// Handover is set when the plan moved the site's ownership.
	Handover *HandoverOutcome
}

// Complete reports whether every step succeeded — every device reached,
// if not necessarily verified — so the next plan is empty.
func (r *Result) Complete() bool {
	for _, s := range r.Steps {
		if !s.Done || strings.HasPrefix(s.Invitation, "not sent") || strings.HasPrefix(s.Invitation, "held") {
			return false
		}
	}
	return true
}

// Run carries out o.Plan. It returns an error only when nothing could be
// done (the directory could not be published) or the state could not be
// written; a device or mail failure is a Step that is not Done.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Parallelism <= 0 {
		o.Parallelism = 4
	}
	if o.DeviceTimeout <= 0 {
		o.DeviceTimeout = 10 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.VerifyWait <= 0 {
		o.VerifyWait = 60 * time.Second
	}
	if o.VerifyPoll <= 0 {
		o.VerifyPoll = 2 * time.Second
	}
	r := &runner{o: o, res: &Result{ReloadOK: true, Steps: make([]Step, len(o.Plan.Changes))}}
	// Before anything leaves this machine, the state marks every object
	// about to change as in progress: if the apply dies after publishing
	// or pushing and before recording, the next plan still shows the
	// object, even if the site has meanwhile gone back to what the state
	// recorded.
	marked := false
	now := o.Now().UTC().Truncate(time.Second)
	for _, c := range o.Plan.Changes {
		if c.Action == plan.Delete {
			if c.Kind == plan.KindUser && c.Offboard != nil {
				// Recorded before the reload, so that the server the
				// reload recompiles already archives or deletes the data.
				o.State.RecordRemoval(c.Name, removal(c.Offboard, now))
				marked = true
			}
			continue
		}
		obj := state.Object{Address: c.Address, Attributes: map[string]string{}}
		if have := o.State.Object(c.Address); have != nil {
			obj = *have
		}
		if id := identityOf(o.Program, c); id != "" && obj.Identity != id {
			// Recorded before anything leaves this machine: the identity
			// the plan compiled the person under is theirs from now on.
			obj.Identity = id
			obj.InProgress = true
			o.State.Put(obj)
			marked = true
		}
		if !obj.InProgress {
			obj.InProgress = true
			o.State.Put(obj)
			marked = true
		}
	}
	if marked {
		if err := o.Store.Write(o.State); err != nil {
			return nil, err
		}
	}
	if err := o.Publish(); err != nil {
		return nil, fmt.Errorf("publishing the provisioning directory: %w", err)
	}
	if o.Server == nil {
		r.res.Reload = "no server configured: serve loads the new dial plan when it starts"
	} else if err := o.Server.Reload(ctx); err != nil {
		r.res.ReloadOK = false
		r.res.Reload = "failed: " + err.Error()
	} else {
		r.res.Reload = "reloaded"
	}

	// Phases: server-side objects, devices (in parallel), users, removals.
	var servers, devices, users, removals []int
	for i, c := range o.Plan.Changes {
		switch {
		case c.Action == plan.Delete:
			removals = append(removals, i)
		case c.Kind == plan.KindDevice:
			devices = append(devices, i)
		case c.Kind == plan.KindUser:
			users = append(users, i)
		default:
			servers = append(servers, i)
		}
	}
	for _, phase := range [][]int{servers, devices, users, removals} {
		workers := 1
		if len(phase) > 0 && o.Plan.Changes[phase[0]].Kind == plan.KindDevice && o.Plan.Changes[phase[0]].Action != plan.Delete {
			workers = o.Parallelism
		}
		if err := r.run(ctx, phase, workers); err != nil {
			return r.res, err
		}
	}
	r.handOver(ctx)
	return r.res, r.failed
}

type runner struct {
	o   Options
	res *Result

	mu     sync.Mutex // guards the state, its writes and Progress
	failed error      // the first state write error
}

// run runs the steps with workers goroutines; steps not started when ctx
// ends are reported as not done.
func (r *runner) run(ctx context.Context, steps []int, workers int) error {
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(workers, max(len(steps), 1)) {
		wg.Go(func() {
			for i := range next {
				r.step(ctx, i)
			}
		})
	}
	for _, i := range steps {
		if ctx.Err() != nil || r.writeFailed() {
			c := r.o.Plan.Changes[i]
			r.res.Steps[i] = r.newStep(c, "not started", "the apply was interrupted", false)
			continue
		}
		next <- i
	}
	close(next)
	wg.Wait()
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed
}

func (r *runner) writeFailed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.failed != nil
}

func (r *runner) newStep(c plan.Change, outcome, detail string, done bool) Step {
	return Step{Address: c.Address, Kind: c.Kind, Name: c.Name, Label: c.Label, Action: c.Action, Outcome: outcome, Detail: detail, Done: done}
}

// step carries out change i and records it.
func (r *runner) step(ctx context.Context, i int) {
	c := r.o.Plan.Changes[i]
	var s Step
	var record func(st *state.State)
	switch {
	case c.Action == plan.Delete:
		s, record = r.remove(c)
	case c.Kind == plan.KindDevice:
		s, record = r.device(ctx, c)
	case c.Kind == plan.KindUser:
		s, record = r.user(ctx, c)
	default:
		s, record = r.serverObject(c)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if record != nil && r.failed == nil {
		record(r.o.State)
		if err := r.o.Store.Write(r.o.State); err != nil {
			r.failed = err
			s.Done = false
			s.Detail = "the state could not be written: " + err.Error()
		}
	}
	r.res.Steps[i] = s
	if r.o.Progress != nil {
		r.o.Progress(s)
	}
}

func (r *runner) put(c plan.Change, attrs map[string]string, d *state.Delivery) func(*state.State) {
	now := r.o.Now().UTC().Truncate(time.Second)
	id := identityOf(r.o.Program, c)
	return func(st *state.State) {
		st.Put(state.Object{Address: c.Address, Attributes: attrs, AppliedAt: now, Delivery: d, Identity: id})
		if id != "" {
			st.Returned(id)
		}
	}
}

// removal is the state's record of an offboarding applied at now.
func removal(ob *plan.Offboard, now time.Time) state.Removed {
	rec := state.Removed{At: now, Data: ob.Data, Owner: ob.Owner, Extension: ob.Extension}
	for _, d := range ob.DDIs {
		rec.DDIs = append(rec.DDIs, d.Number)
	}
	if ob.Data != "delete" {
		rec.ArchiveUntil = now.AddDate(0, 0, ob.ArchiveDays)
	}
	return rec
}

// identityOf is the identity the compiled site gives the user of change
// c (empty for other objects).
func identityOf(p *ir.Program, c plan.Change) string {
	if c.Kind != plan.KindUser || p == nil {
		return ""
	}
	if u := p.User(c.Name); u != nil {
		return u.ID()
	}
	return ""
}

// serverObject applies the site, a trunk, residence or conference room:
// they take effect when the server loads the published dial plan.
func (r *runner) serverObject(c plan.Change) (Step, func(*state.State)) {
	if !r.res.ReloadOK {
		return r.newStep(c, "not applied", "the server did not reload ("+r.res.Reload+")", false), nil
	}
	return r.newStep(c, "applied", "", true), r.put(c, c.After.Attributes, nil)
}

// remove forgets a removed object. Its accounts and files left with the
// published directory; a user's logins are revoked when the server
// reloads.
func (r *runner) remove(c plan.Change) (Step, func(*state.State)) {
	forget := func(st *state.State) { st.Remove(c.Address) }
	switch c.Kind {
	case plan.KindUser:
		if !r.res.ReloadOK {
			return r.newStep(c, "not offboarded", "the server did not reload, so it still accepts the user's logins ("+r.res.Reload+")", false), nil
		}
		detail := "app and portal logins revoked"
		if r.o.Server == nil {
			detail = "app and portal logins removed from the dial plan; revoked when serve loads it"
		}
		if c.Offboard == nil {
			return r.newStep(c, "offboarded", detail, true), forget
		}
		// The removal is recorded with the person's identity and the
		// policy for their data, which the server carries out when it
		// loads the dial plan compiled from this state.
		now := r.o.Now().UTC().Truncate(time.Second)
		ob := c.Offboard
		rec := removal(ob, now)
		steps := ob.Steps(now)
		if r.o.Server == nil {
			steps[0] = detail
			steps[1] += " when serve next loads the dial plan"
		} else {
			steps[1] += " at the next reload"
		}
		s := r.newStep(c, "offboarded", strings.Join(steps, "; "), true)
		s.Offboarding = steps
		return s, func(st *state.State) { st.RemoveUser(c.Name, rec) }
	case plan.KindDevice:
		return r.newStep(c, "removed", "its provisioning files are withdrawn and its SIP login revoked", true), forget
	}
	if !r.res.ReloadOK {
		return r.newStep(c, "not removed", "the server did not reload ("+r.res.Reload+")", false), nil
	}
	return r.newStep(c, "removed", "", true), forget
}

// device delivers a device's configuration: pushed and read back through
// an Akuvox device's API; for the others, check-sync through the running
// server, then a read-back through the device's web API when it has an
// address.
func (r *runner) device(ctx context.Context, c plan.Change) (Step, func(*state.State)) {
	d := r.o.Program.Device(c.Name)
	if d == nil {
		return r.newStep(c, "failed", "the device is not in the compiled site", false), nil
	}
	t, hasTarget := r.o.Targets[c.Name]
	settings := deviceSettings(r.o.Bundle, d)
	if hasTarget && d.Vendor == akuvox.Vendor {
		p := r.pushAkuvoxDevice(ctx, d, t)
		s := r.newStep(c, string(p.Verdict), p.Detail, p.Verdict.Succeeded())
		s.Reach = NotReached
		if s.Done {
			s.Reach = Verified
		}
		if p.Firmware != "" {
			if s.Detail != "" {
				s.Detail = "firmware " + p.Firmware + "; " + s.Detail
			} else {
				s.Detail = "firmware " + p.Firmware
			}
		}
		if !s.Done {
			return s, nil
		}
		return s, r.put(c, c.After.Attributes, &state.Delivery{Method: "api", Outcome: string(p.Verdict), Firmware: p.Firmware, Settings: settings})
	}
	note := ""
	var read phoneReader
	if hasTarget {
		var done func()
		read, done = readerFor(d.Vendor, t, r.o.DeviceTimeout)
		defer done()
		if read == nil {
			note = fmt.Sprintf("switchboard has no management API for %s devices, so the address given for it is not used; ", d.Vendor)
		}
	}
	if r.o.Server == nil {
		// Publishing the files tells the device nothing: until it polls or
		// reboots, it keeps its old settings, and nothing here would know.
		s := r.newStep(c, "no server configured", note+"its files are published, but nothing told it to fetch them; give -serve (check-sync through the running server) or an API address with -device, or reboot it, then apply again", false)
		s.Reach = NotReached
		return s, nil
	}
	if err := r.o.Server.CheckSync(ctx, d.Name); err != nil {
		s := r.newStep(c, "check-sync failed", note+err.Error(), false)
		s.Reach = NotReached
		return s, nil
	}
	if read == nil {
		s := r.newStep(c, "check-sync sent", strings.TrimSuffix(note, "; "), true)
		s.Reach = Unverified
		return s, r.put(c, c.After.Attributes, &state.Delivery{Method: "check-sync", Outcome: s.Outcome, Settings: settings})
	}
	p := verifyPhone(ctx, read, settings, r.o.VerifyWait, r.o.VerifyPoll)
	s := r.newStep(c, string(p.Verdict), p.Detail, p.Verdict.Succeeded())
	s.Reach = NotReached
	if !s.Done {
		return s, nil
	}
	s.Reach = Verified
	return s, r.put(c, c.After.Attributes, &state.Delivery{Method: "check-sync", Outcome: s.Outcome, Settings: settings})
}

// pushAkuvoxDevice pushes an Akuvox device's settings and then, for a
// device with a contact list (monitors), its contacts; the verdict is the
// worse of the two.
func (r *runner) pushAkuvoxDevice(ctx context.Context, d *ir.Device, t Target) Push {
	var file []byte
	if f := r.o.Bundle.File(akuvox.Path(d.MAC)); f != nil {
		file = f.Data
	}
	p := pushAkuvox(ctx, t, file, r.o.DeviceTimeout)
	cf := r.o.Bundle.File(akuvox.ContactsPath(d.MAC))
	if !p.Verdict.Succeeded() || cf == nil {
		return p
	}
	want, err := akuvox.ParseContacts(cf.Data)
	if err != nil {
		p.Verdict, p.Detail = Unsupported, "the device's contact list cannot be read back: "+err.Error()
		return p
	}
	cp := pushAkuvoxContacts(ctx, t, want, r.o.DeviceTimeout)
	switch {
	case !cp.Verdict.Succeeded():
		p.Verdict, p.Detail = cp.Verdict, joinDetail(p.Detail, "contacts: "+cp.Detail)
	case cp.Verdict == SetVerified:
		p.Verdict = SetVerified
	}
	return p
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}

// user applies a user: live once the server has loaded the dial plan; an
// invitation is sent when one is due.
func (r *runner) user(ctx context.Context, c plan.Change) (Step, func(*state.State)) {
	if !r.res.ReloadOK {
		return r.newStep(c, "not applied", "the server did not reload ("+r.res.Reload+")", false), nil
	}
	s := r.newStep(c, "applied", "", true)
	attrs := c.After.Attributes
	if r.invitationDue(c) {
		to := plan.InvitationTo(attrs[plan.AttrInvitation])
		var err error
		held := r.heldBy(c)
		switch {
		case attrs[plan.AttrInvitation] == plan.InvitationInPerson:
			s.Invitation = "to hand over in person (no e-mail address; listed for the handover sheet)"
		case held != "":
			// The seeds' order: nobody is invited to a system whose
			// door cannot ring them yet.
			s.Invitation = "held: " + held + "; it is sent by the next apply that reaches the device"
			attrs = withAttr(attrs, plan.AttrInvitation, quoteJSON(plan.InvitationHeldPrefix+held))
		default:
			if err = r.invite(ctx, c.Name, to); err == nil {
				s.Invitation = "sent to " + to
			}
		}
		if err != nil {
			s.Invitation = "not sent: " + err.Error()
			recorded := make(map[string]string, len(attrs))
			for k, v := range attrs {
				recorded[k] = v
			}
			recorded[plan.AttrInvitation] = plan.InvitationNotSent
			attrs = recorded
		}
	}
	return s, r.put(c, attrs, nil)
}

// heldBy says why c's user may not be invited yet: a device that rings
// them (a door station that calls them, or a phone of theirs) was not
// reached by this apply, or has never been applied. Empty when every
// such device is in place.
func (r *runner) heldBy(c plan.Change) string {
	var devices []string
	var stations []string
	if json.Unmarshal([]byte(c.After.Attributes[plan.AttrDoorStations]), &stations) == nil {
		devices = append(devices, stations...)
	}
	var endpoints []string
	if json.Unmarshal([]byte(c.After.Attributes["endpoints"]), &endpoints) == nil {
		for _, e := range endpoints {
			if a := r.o.Program.Account(e); a != nil && a.Kind == ir.AccountDevice {
				devices = append(devices, a.Device)
			}
		}
	}
	slices.Sort(devices)
	devices = slices.Compact(devices)
	var reasons []string
	for _, d := range devices {
		if why := r.deviceMissing(d); why != "" {
			reasons = append(reasons, why)
		}
	}
	return strings.Join(reasons, "; ")
}

// deviceMissing says why device is not in place for an invitation, or "".
func (r *runner) deviceMissing(device string) string {
	addr := string(plan.KindDevice) + "." + device
	for i, c := range r.o.Plan.Changes {
		if c.Address != addr || c.Action == plan.Delete {
			continue
		}
		if st := r.res.Steps[i]; !st.Done {
			return fmt.Sprintf("device %q was not reached (%s)", device, st.Outcome)
		}
		return ""
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if o := r.o.State.Object(addr); o == nil || o.InProgress {
		return fmt.Sprintf("device %q has not been applied", device)
	}
	return ""
}

// withAttr is attrs with name set to value, attrs left as it was.
func withAttr(attrs map[string]string, name, value string) map[string]string {
	out := make(map[string]string, len(attrs))
	for k, v := range attrs {
		out[k] = v
	}
	out[name] = value
	return out
}

func quoteJSON(s string) string {
	data, _ := json.Marshal(s)
	return string(data)
}

// invitationDue: the user has send_credentials and is new, or their
// invitation was not sent, or goes elsewhere now, or their login changed.
func (r *runner) invitationDue(c plan.Change) bool {
	if c.After.Attributes[plan.AttrInvitation] == "" {
		return false
	}
	if c.Before == nil {
		return true
	}
	for _, a := range c.Attributes {
		if a.Name == plan.AttrInvitation || a.Name == "portal.password" || a.Name == "app.password" {
			return true
		}
	}
	return false
}

func (r *runner) invite(ctx context.Context, name, to string) error {
	if r.o.Mailer == nil {
		return fmt.Errorf("no mail server configured (-smtp)")
	}
	m, err := InvitationMail(r.o.Program, r.o.Key, name, to, MailOptions{
		From: r.o.From, App: r.o.App, Installer: r.o.Installer, InstallerLogin: r.o.InstallerLogin, Now: r.o.Now(),
	})
	if err != nil {
		return err
	}
	return r.o.Mailer.Send(ctx, m)
}

// MailOptions say how an invitation is written.
type MailOptions struct {
	// From is the sender (default switchboard@<site domain>); App the app
	// it tells people to install; Installer the installer's company, and
	// InstallerLogin the installer's login, which no invitation may show.
	From, App, Installer, InstallerLogin string
	Now                                  time.Time
}

// InvitationMail writes user name's invitation to address to, with the
// logins and passwords the site key derives for them now: sending it again
// changes no password. `switchboard invite` resends it with this.
func InvitationMail(p *ir.Program, key credentials.Key, name, to string, o MailOptions) (email.Message, error) {
	u := p.User(name)
	if u == nil {
		return email.Message{}, fmt.Errorf("user %q is not in the compiled site", name)
	}
	src := credentials.NewSource(key, p)
	inv := Invitation{
		To: to, Name: u.DisplayName, SiteName: firstNonEmpty(p.Site.DisplayName, p.Site.Name),
		App: firstNonEmpty(o.App, "a SIP app"), Installer: o.Installer,
	}
	if u.Email != "" {
		inv.PortalUser, inv.PortalPassword = u.Email, src.PortalPassword(*u)
	}
	inv.Role = u.Role
	for _, right := range ir.RightsOf(ir.Role(u.Role)) {
		inv.Rights = append(inv.Rights, string(right))
	}
	if a := p.Account(ir.AccountName(ir.AccountApp, name)); a != nil {
		inv.SIPUser, inv.SIPAuthName, inv.SIPPassword, inv.SIPDomain = a.Username, a.AuthName, src.SIPPassword(*a), p.Site.Domain
	}
	if inv.PortalUser == "" && inv.SIPUser == "" {
		return email.Message{}, fmt.Errorf("%s has neither an email login nor an app account to send", u.DisplayName)
	}
	from := o.From
	if from == "" {
		from = "switchboard@" + p.Site.Domain
	}
	return Compose(inv, from, o.InstallerLogin, o.Now)
}

// HeldBy says why the user of change c may not be invited yet, given what
// an apply did (see runner.heldBy); exported for `switchboard invite`,
// which applies nothing: every device must be in the state, applied.
func HeldBy(p *ir.Program, st *state.State, c plan.Change) string {
	r := &runner{o: Options{Program: p, State: st, Plan: &plan.Plan{}}, res: &Result{}}
	return r.heldBy(c)
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
