package compiler

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
	"switchboard/lang"
)

// LowerOptions are the facts about the serving side that the site files do
// not hold: where devices find the SIP server and their provisioning files.
type LowerOptions struct {
	// Server is the SIP server devices register with, replacing the
	// site's nodes; when empty, the site's first node (the others its
	// backups), else its domain.
	Server    string
	Port      int    // 5060 when zero
	Transport string // "udp" when empty
	// Expiry is the registration expiry devices ask for; one hour when zero.
	Expiry time.Duration
	// NTP servers in order of preference; pool.ntp.org when empty.
	NTP []string
	// ProvisionURL is the base URL devices fetch their files from.
	ProvisionURL string
	// Identity gives each user's stable identity, which their voicemail
	// box is named for (the applied state's State.Identity); nil, or an
	// empty answer, is the block name: what a site never applied has.
	Identity func(user string) string
	// Retired are the people applies removed, whose data the server
	// archives or deletes (from the applied state).
	Retired []ir.Retired
}

// DefaultSequentialLeg is the shortest time one leg of a sequential ring
// gets when the total is shared out.
const minSequentialLeg = 5 * time.Second

// Lower turns a checked site into the IR program that the runtime executes
// and the provisioning renderers read. It must only be called on a site
// whose check produced no errors; the diagnostics it returns are about
// things only visible once the dial plan is laid out (door-station codes
// that clash on one panel).
func Lower(c *Checked, opts LowerOptions) (*ir.Program, hcl.Diagnostics) {
	if c == nil || c.Site == nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "No site to compile", Detail: "The configuration has no valid site block."}}
	}
	l := &lowerer{c: c, opts: opts, p: &ir.Program{Version: ir.Version}}
	if l.opts.Port == 0 {
		l.opts.Port = 5060
	}
	if l.opts.Server == "" && len(c.Nodes) > 0 {
		l.opts.Server, l.port = c.Nodes[0].Host, cmp.Or(c.Nodes[0].Port, l.opts.Port)
		for _, n := range c.Nodes[1:] {
			l.backup = append(l.backup, ir.SIPServer{Server: n.Host, Port: cmp.Or(n.Port, l.opts.Port)})
		}
	}
	if l.opts.Server == "" {
		l.opts.Server = c.Site.Domain.Value
	}
	if l.port == 0 {
		l.port = l.opts.Port
	}
	if l.opts.Transport == "" {
		l.opts.Transport = "udp"
	}
	if l.opts.Expiry == 0 {
		l.opts.Expiry = time.Hour
	}
	if len(l.opts.NTP) == 0 {
		l.opts.NTP = []string{"pool.ntp.org"}
	}
	l.lowerSite()
	l.lowerUsers()
	l.lowerResidences()
	l.lowerNumbers()
	l.lowerTrunks()
	l.lowerDevices()
	l.p.Sort()
	return l.p, l.diags
}

type lowerer struct {
	c    *Checked
	opts LowerOptions
	// port is the primary SIP server's port, backup the further servers:
	// from the site's nodes, else opts.
	port   int
	backup []ir.SIPServer
	p      *ir.Program
	diags  hcl.Diagnostics
}

// origin converts an hcl.Range into the IR's dependency-free form.
func origin(r hcl.Range, object string) ir.Origin {
	return ir.Origin{
		File: r.Filename, Line: r.Start.Line, Column: r.Start.Column, Byte: r.Start.Byte,
		EndLine: r.End.Line, EndColumn: r.End.Column, EndByte: r.End.Byte,
		Object: object,
	}
}

func userObject(u *lang.User) string           { return fmt.Sprintf("user %q", u.Name) }
func residenceObject(r *lang.Residence) string { return fmt.Sprintf("residence %q", r.Name) }
func deviceObject(d *lang.Device) string       { return fmt.Sprintf("device %q", d.Name) }

func (l *lowerer) lowerSite() {
	s := l.c.Site
	l.p.Site = ir.Site{
		Name:         s.Name,
		DisplayName:  s.DisplayName.Value,
		Domain:       s.Domain.Value,
		Country:      s.Country.Value,
		Timezone:     s.Timezone.Value,
		Emergency:    slices.Clone(l.c.Emergency),
		NTP:          slices.Clone(l.opts.NTP),
		ProvisionURL: l.opts.ProvisionURL,
		Digest:       slices.Clone(l.c.Digest),
		Origin:       origin(s.DeclRange, fmt.Sprintf("site %q", s.Name)),
	}
	if in := s.Installer; in != nil {
		l.p.Site.Installer = &ir.Installer{Company: in.Company.Value, Email: in.Email.Value, Phone: in.Phone.Value, OwnsSite: in.OwnsSite.Value}
	}
	// The offboarding policy, where the site departs from the defaults.
	if s.RemovedData.Value != lang.OffboardArchive {
		l.p.Site.RemovedData = s.RemovedData.Value
	}
	if s.ArchiveDays.Value != lang.DefaultArchiveDays {
		l.p.Site.ArchiveDays = s.ArchiveDays.Value
	}
	l.p.Retired = slices.Clone(l.opts.Retired)
}

// appAccount is the account name of a user's own app endpoint.
func appAccount(u *lang.User) string { return ir.AccountName(ir.AccountApp, u.Name) }

func deviceAccount(d *lang.Device) string { return ir.AccountName(ir.AccountDevice, d.Name) }

// endpoints are the accounts that ring for a user: the app first, then desk
// phones in declaration order.
func (l *lowerer) endpoints(u *lang.User) []string {
	var out []string
	if u.App.Value {
		out = append(out, appAccount(u))
	}
	for _, d := range l.c.UserPhones[u.Name] {
		out = append(out, deviceAccount(d.Device))
	}
	return out
}

func (l *lowerer) mailbox(u *lang.User) string {
	if u != nil && u.Voicemail.Value {
		return l.identity(u)
	}
	return ""
}

// identity is u's stable identity (see LowerOptions.Identity).
func (l *lowerer) identity(u *lang.User) string {
	if l.opts.Identity != nil {
		if id := l.opts.Identity(u.Name); id != "" {
			return id
		}
	}
	return u.Name
}

func fallback(mailbox string) ir.Fallback {
	if mailbox == "" {
		return ir.Fallback{Kind: ir.FallbackHangup}
	}
	return ir.Fallback{Kind: ir.FallbackVoicemail, Mailbox: mailbox}
}

func (l *lowerer) lowerUsers() {
	for _, u := range l.c.Config.Users {
		o := origin(u.DeclRange, userObject(u))
		if u.App.Value {
			l.p.Accounts = append(l.p.Accounts, ir.Account{
				Name: appAccount(u), Kind: ir.AccountApp,
				Username: appAccount(u), AuthName: appAccount(u),
				DisplayName: u.DisplayName(), Owner: ir.UserRef(u.Name),
				CallerName: u.DisplayName(), CallerNumber: l.c.Extensions[u.Name],
				Rotation: u.Rotation.Value, Digest: slices.Clone(l.c.Digest), Origin: origin(u.App.Range, userObject(u)),
			})
		}
		timeout := lang.DefaultRingTimeout
		if u.RingTimeout.Set {
			timeout = u.RingTimeout.Value
		}
		eps := l.endpoints(u)
		ring := ir.Ring{Strategy: ir.Simultaneous, Timeout: ir.Duration(timeout)}
		if len(eps) > 0 {
			ring.Legs = []ir.Leg{{Label: "user." + u.Name, Accounts: slices.Sorted(slices.Values(eps)), Timeout: ir.Duration(timeout)}}
		}
		mb := l.mailbox(u)
		ring.NoAnswer, ring.Busy, ring.Decline = fallback(mb), fallback(mb), fallback(mb)
		res := ""
		if u.Residence != nil {
			res = u.Residence.Name
		}
		id := l.identity(u)
		if id == u.Name {
			id = "" // the default: the IR says so by leaving it out
		}
		l.p.Users = append(l.p.Users, ir.User{
			Name: u.Name, Identity: id, DisplayName: u.DisplayName(), Email: u.Email.Value, NotifyEmail: u.NotifyEmail.Value,
			Role: u.Role.Value, Residence: res, Extension: l.c.Extensions[u.Name],
			Endpoints: slices.Sorted(slices.Values(eps)), Mailbox: mb,
			Directory: u.Directory.Value, SendCredentials: u.SendCredentials.Value, Ring: ring, Rotation: u.Rotation.Value, Origin: o,
		})
		if mb != "" {
			l.p.Mailboxes = append(l.p.Mailboxes, ir.Mailbox{Name: mb, Owner: ir.UserRef(u.Name), Origin: origin(u.Voicemail.Range, userObject(u))})
		}
		if u.Conference.Set {
			l.p.Conferences = append(l.p.Conferences, ir.Conference{
				Name: u.Name, Number: u.Conference.Value, Owner: ir.UserRef(u.Name), PIN: u.ConferencePIN.Value,
				Origin: origin(u.Conference.Range, userObject(u)),
			})
		}
	}
}

// residenceOwner is whose mailbox takes a residence's unanswered calls: its
// owner-role resident with voicemail, else its first resident with voicemail.
func (l *lowerer) residenceOwner(r *lang.Residence) *lang.User {
	var first *lang.User
	for _, u := range l.c.ResidenceUsers[r.Name] {
		if !u.Voicemail.Value {
			continue
		}
		if u.Role.Value == lang.RoleOwner {
			return u
		}
		if first == nil {
			first = u
		}
	}
	return first
}

func (l *lowerer) lowerResidences() {
	for _, r := range l.c.Config.Residences {
		var legs []ir.Leg
		// Monitors first: in a flat the wall panel is where the door call
		// is expected, and in a sequential ring it is tried first.
		for _, m := range l.c.ResidenceMonitors[r.Name] {
			legs = append(legs, ir.Leg{Label: "device." + m.Name, Accounts: []string{deviceAccount(m.Device)}})
		}
		for _, u := range l.c.ResidenceUsers[r.Name] {
			eps := l.endpoints(u)
			if len(eps) == 0 {
				continue
			}
			leg := ir.Leg{Label: "user." + u.Name, Accounts: slices.Sorted(slices.Values(eps))}
			if u.RingTimeout.Set {
				leg.Timeout = ir.Duration(u.RingTimeout.Value)
			}
			legs = append(legs, leg)
		}
		total := r.RingTimeout.Value
		strategy := ir.Simultaneous
		if r.Ring.Value == lang.RingSequential {
			strategy = ir.Sequential
		}
		for i := range legs {
			if legs[i].Timeout != 0 {
				continue
			}
			legs[i].Timeout = ir.Duration(total)
			if strategy == ir.Sequential && len(legs) > 0 {
				legs[i].Timeout = ir.Duration(max(minSequentialLeg, total/time.Duration(len(legs))))
			}
		}
		ring := ir.Ring{Strategy: strategy, Legs: legs, Timeout: ir.Duration(total)}
		mb := ""
		if r.NoAnswer.Value == lang.NoAnswerVoicemail {
			mb = l.mailbox(l.residenceOwner(r))
		}
		ring.NoAnswer, ring.Busy, ring.Decline = fallback(mb), fallback(mb), fallback(mb)
		var users, monitors []string
		for _, u := range l.c.ResidenceUsers[r.Name] {
			users = append(users, u.Name)
		}
		for _, m := range l.c.ResidenceMonitors[r.Name] {
			monitors = append(monitors, m.Name)
		}
		slices.Sort(users)
		slices.Sort(monitors)
		l.p.Residences = append(l.p.Residences, ir.Residence{
			Name: r.Name, Label: r.Label.Value, Users: users, Monitors: monitors,
			Ring: ring, Origin: origin(r.DeclRange, residenceObject(r)),
		})
	}
}

func (l *lowerer) lowerNumbers() {
	// The check pass lets a number appear twice only when both entries
	// ring the same user (a DDI's short form equal to the user's own
	// extension, or two short forms of one user); the dial plan holds
	// each number once, from its first entry.
	seen := map[string]bool{}
	for _, e := range l.c.Dial {
		if seen[e.Number] {
			continue
		}
		seen[e.Number] = true
		n := ir.Number{Number: e.Number, Origin: origin(e.Range, "")}
		switch e.Kind {
		case DialExtension, DialShortForm:
			n.Action = ir.Action{Kind: ir.ActionRing, Target: ir.UserRef(e.User)}
			n.Origin.Object = fmt.Sprintf("user %q", e.User)
		case DialConference:
			n.Action = ir.Action{Kind: ir.ActionConference, Target: ir.ConferenceRef(e.User)}
			n.Origin.Object = fmt.Sprintf("user %q", e.User)
		case DialFeature:
			n.Action = ir.Action{Kind: ir.ActionVoicemail}
			n.Origin.Object = fmt.Sprintf("site %q", l.c.Site.Name)
		default:
			continue
		}
		l.p.Numbers = append(l.p.Numbers, n)
	}
	for _, d := range l.c.DDIs {
		if d.User == nil {
			continue
		}
		rng := d.User.DeclRange
		for _, n := range d.User.Numbers {
			if n.Value == d.Number {
				rng = n.Range
			}
		}
		l.p.DDIs = append(l.p.DDIs, ir.DDI{Number: d.Number, Trunk: d.Trunk.Name, Target: ir.UserRef(d.User.Name), Origin: origin(rng, userObject(d.User))})
	}
}

func (l *lowerer) lowerTrunks() {
	for _, t := range l.c.Config.Trunks {
		// The dial plan never holds a secret: the server reads the
		// password (and a username from a variable) from the variables
		// they are written as; the check pass made sure they are.
		var login string
		if t.Username.Source == "" {
			login = t.Username.Value
		}
		port := 0 // not written: the server looks the host up as an SRV service
		if t.Port.Set {
			port, _ = strconv.Atoi(t.Port.Value)
		}
		var ddis []string
		for _, n := range t.Numbers {
			ddis = append(ddis, n.Value)
		}
		slices.Sort(ddis)
		var unassigned ir.Ref
		mailbox := ""
		if r := t.Unassigned; r != nil {
			unassigned = ir.Ref{Kind: ir.RefKind(r.Kind), Name: r.Name}
			if t.UnassignedVoicemail.Value {
				if u := l.c.Users[r.Name]; u != nil {
					mailbox = l.mailbox(u)
				}
			}
		}
		l.p.Trunks = append(l.p.Trunks, ir.Trunk{
			Name: t.Name, Host: t.Host.Value, Port: port, Transport: t.Transport.Value, DDIs: ddis,
			Username: ir.SecretRef(t.Username.Source), Login: login, Password: ir.SecretRef(t.Password.Source),
			Unassigned: unassigned, UnassignedMailbox: mailbox,
			Origin: origin(t.DeclRange, fmt.Sprintf("trunk %q", t.Name)),
		})
	}
}

// entryCode is what a door station dials to reach a target: a residence by
// the label a visitor would key, a user by extension (or name without one).
func (l *lowerer) entryCode(ref *lang.Ref) string {
	if ref.Kind == "residence" {
		if r := l.c.Residences[ref.Name]; r != nil {
			return r.Label.Value
		}
	}
	if ext := l.c.Extensions[ref.Name]; ext != "" {
		return ext
	}
	return ref.Name
}

func irKind(k catalogue.Kind) ir.DeviceKind {
	switch k {
	case catalogue.DoorStation:
		return ir.DoorStation
	case catalogue.Monitor:
		return ir.Monitor
	}
	return ir.Phone
}

func (l *lowerer) lowerDevices() {
	// unlock is the relay code a residence's endpoints send to open the
	// door station that reaches it; the first door station's first relay.
	unlock := map[string]string{}
	unlockUser := map[string]string{} // users a door button calls directly
	doorOf := map[string]*DoorStation{}
	for _, ds := range l.c.DoorStations {
		doorOf[ds.Device.Name] = ds
		if len(ds.Device.Relays) == 0 {
			continue
		}
		for _, r := range ds.Residences {
			if _, ok := unlock[r.Name]; !ok {
				unlock[r.Name] = ds.Device.Relays[0].DTMF.Value
			}
		}
		for _, u := range ds.Users {
			if _, ok := unlockUser[u.Name]; !ok {
				unlockUser[u.Name] = ds.Device.Relays[0].DTMF.Value
			}
		}
	}
	directory := l.directory()

	for _, d := range l.c.Devices {
		if d.Model == nil {
			continue
		}
		obj := deviceObject(d.Device)
		acct := deviceAccount(d.Device)
		var owner ir.Ref
		dev := ir.Device{
			Name: d.Name, Model: d.Model.ID, Vendor: d.Model.Vendor.ID, Kind: irKind(d.Kind),
			MAC: d.MAC.String(), Location: d.Location.Value, Account: acct, Timezone: l.c.Site.Timezone.Value,
			SIP:    ir.SIP{Server: l.opts.Server, Port: l.port, Transport: l.opts.Transport, Expiry: ir.Duration(l.opts.Expiry), Backup: slices.Clone(l.backup)},
			Origin: origin(d.DeclRange, obj),
		}
		switch dev.Kind {
		case ir.DoorStation:
			owner = ir.DeviceRef(d.Name)
			l.lowerDoorStation(&dev, d, doorOf[d.Name])
		case ir.Monitor:
			if d.Residence != nil {
				dev.Residence = d.Residence.Name
				owner = ir.ResidenceRef(d.Residence.Name)
				dev.UnlockDTMF = unlock[d.Residence.Name]
				dev.Contacts = l.contacts(directory, l.c.ResidenceUsers[d.Residence.Name])
			}
		case ir.Phone:
			if d.User != nil {
				dev.User = d.User.Name
				owner = ir.UserRef(d.User.Name)
				dev.Contacts = l.contacts(directory, nil)
				u := l.c.Users[d.User.Name]
				// The line shows whose phone it is: the user's name, unless
				// the device names its line itself.
				label := d.User.Name
				if d.Label.Value != "" {
					label = d.Label.Value
				} else if u != nil {
					label = u.DisplayName()
				}
				dev.LineKeys = []ir.LineKey{{Index: 1, Type: ir.KeyLine, Label: label, Origin: origin(d.DeclRange, obj)}}
				code := ""
				if u != nil && u.Residence != nil {
					code = unlock[u.Residence.Name]
				}
				if code == "" {
					code = unlockUser[d.User.Name]
				}
				if code != "" {
					dev.LineKeys = append(dev.LineKeys, ir.LineKey{Index: 2, Type: ir.KeyDTMF, Value: code, Label: "Open door", Origin: origin(d.DeclRange, obj)})
				}
				dev.LineKeys = append(dev.LineKeys, l.blfKeys(d, len(dev.LineKeys)+1)...)
			}
		}
		l.p.Devices = append(l.p.Devices, dev)
		display := deviceDisplayName(d.Device)
		callerName, callerNumber := display, ""
		if u := l.phoneUser(d); u != nil {
			// A desk phone is its user's: it shows, and calls as, their
			// name, not the room it stands in.
			display = u.DisplayName()
		}
		if u := l.c.Users[dev.User]; u != nil {
			// A person's phone presents the person, as their app does.
			callerName, callerNumber = u.DisplayName(), l.c.Extensions[u.Name]
		}
		l.p.Accounts = append(l.p.Accounts, ir.Account{
			Name: acct, Kind: ir.AccountDevice, Username: acct, AuthName: acct,
			DisplayName: display, Owner: owner, Device: d.Name,
			CallerName: callerName, CallerNumber: callerNumber,
			Rotation: d.Rotation.Value, Digest: slices.Clone(d.Model.Digest.Algorithms), Origin: origin(d.DeclRange, obj),
		})
	}
}

// phoneUser is the user of a desk phone, nil for other devices.
func (l *lowerer) phoneUser(d *Device) *lang.User {
	if irKind(d.Kind) != ir.Phone || d.User == nil {
		return nil
	}
	return l.c.Users[d.User.Name]
}

func deviceDisplayName(d *lang.Device) string {
	if d.Location.Value != "" {
		return d.Location.Value
	}
	return d.Name
}

func (l *lowerer) lowerDoorStation(dev *ir.Device, d *Device, ds *DoorStation) {
	obj := deviceObject(d.Device)
	codes := map[string]ir.Entry{}
	addEntry := func(code string, target ir.Ref, callerName string, rng hcl.Range) {
		if prev, ok := codes[code]; ok {
			if prev.Target != target {
				l.diags = append(l.diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Clashing door-station codes",
					Detail:   fmt.Sprintf("On door station %q the code %q would call both %s and %s (the latter from %s). Give the residence a different label, or the user a different extension.", d.Name, code, target, prev.Target, prev.Origin.Pos()),
					Subject:  rng.Ptr(),
				})
			}
			return
		}
		e := ir.Entry{Device: d.Name, Code: code, Target: target, CallerName: callerName, Origin: origin(rng, obj)}
		codes[code] = e
		l.p.Entries = append(l.p.Entries, e)
	}
	for i, b := range d.Buttons {
		if b.Calls == nil {
			continue
		}
		idx, err := strconv.Atoi(b.Label)
		if err != nil || idx < 1 {
			idx = i + 1
		}
		target := ir.Ref{Kind: ir.RefKind(b.Calls.Kind), Name: b.Calls.Name}
		code := l.entryCode(b.Calls)
		// The callee sees where the visitor stands and which button
		// they pressed: "Front gate, button 1".
		addEntry(code, target, deviceDisplayName(d.Device)+", button "+b.Label, b.DeclRange)
		dev.Buttons = append(dev.Buttons, ir.Button{Index: idx, Label: b.Label, Dial: code, Target: target, Origin: origin(b.DeclRange, obj)})
	}
	if d.Keypad.Value && ds != nil {
		dev.Keypad = true
		for _, r := range ds.Residences {
			addEntry(r.Label.Value, ir.ResidenceRef(r.Name), deviceDisplayName(d.Device)+", keypad", d.Keypad.Range)
		}
	}
	for i, r := range d.Relays {
		dev.Relays = append(dev.Relays, ir.Relay{
			Name: r.Name, Index: i + 1, DTMF: r.DTMF.Value, Hold: ir.Duration(r.Hold.Value),
			Trigger: ir.Trigger{Policy: ir.TriggerCalled}, Origin: origin(r.DeclRange, obj),
		})
	}
}

// directory lists the users who asked to be in the site directory and can
// be dialled, in declaration order.
func (l *lowerer) directory() []*lang.User {
	var out []*lang.User
	for _, u := range l.c.Config.Users {
		if u.Directory.Value && l.c.Extensions[u.Name] != "" {
			out = append(out, u)
		}
	}
	return out
}

// contacts merges own residents with the directory, each user once.
func (l *lowerer) contacts(directory, own []*lang.User) []ir.Contact {
	seen := map[string]bool{}
	var out []ir.Contact
	for _, u := range append(slices.Clone(own), directory...) {
		ext := l.c.Extensions[u.Name]
		if ext == "" || seen[u.Name] {
			continue
		}
		seen[u.Name] = true
		out = append(out, ir.Contact{Name: u.DisplayName(), Number: ext, Origin: origin(u.DeclRange, userObject(u))})
	}
	return out
}
