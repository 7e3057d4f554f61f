// Package handover makes the handover sheet of a site: what an installer
// gives the owner when the site changes hands, and what the owner keeps.
// It says who owns and who installed the site, every bound device with
// what the last apply recorded of it, every residence with its people,
// their numbers and invitation status, the number plan, where the site key
// lives and its fingerprint (never the key), what is still open and what
// the owner must do next.
//
// The sheet is made from the compiled site (the IR) and the applied state
// alone, like the plan: never from the site files. It holds no secret —
// the IR and the state hold none — and renders as text, Markdown, JSON and
// a self-contained HTML page that prints on A4.
package handover

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"switchboard/compiler/ir"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
)

// Input is what New needs.
type Input struct {
	Program *ir.Program
	// State is the applied state; an empty one when nothing was applied.
	State *state.State
	// Key is where the site key lives and its fingerprint.
	Key KeyInfo
	// Now dates the sheet.
	Now time.Time
}

// KeyInfo locates the site key without holding it.
type KeyInfo struct {
	// Location is the key file's path or the environment variable that
	// holds it.
	Location string `json:"location"`
	// Fingerprint is credentials.Key.Fingerprint.
	Fingerprint string `json:"fingerprint"`
	// PreviousFingerprint and PreviousUntil describe the key a rekey
	// replaced, while its grace lasts.
	PreviousFingerprint string    `json:"previous_fingerprint,omitempty"`
	PreviousUntil       time.Time `json:"previous_until,omitzero"`
}

// Sheet is the handover sheet.
type Sheet struct {
	Site      SiteInfo   `json:"site"`
	Generated time.Time  `json:"generated"`
	Owner     Contact    `json:"owner"`
	Installer *Contact   `json:"installer,omitempty"`
	Devices   []Device   `json:"devices"`
	Homes     []Home     `json:"residences"`
	Numbers   Numbers    `json:"numbers"`
	Key       KeyInfo    `json:"site_key"`
	OpenItems []string   `json:"open_items"`
	NextSteps []string   `json:"next_steps"`
	Handovers []Handover `json:"handovers,omitempty"`
	// Applied says whether the site was ever applied (the state exists).
	Applied bool `json:"applied"`
	// Commissioning is the live checklist as `switchboard commission`
	// last left it; nil when the site was never commissioned.
	Commissioning *Commissioning `json:"commissioning,omitempty"`
}

// Commissioning is the result of ticking the site's cases off by real
// calls on the live site.
type Commissioning struct {
	Updated time.Time                `json:"updated"`
	Passed  int                      `json:"passed"`
	Failed  int                      `json:"failed"`
	Open    int                      `json:"open"`
	Skipped int                      `json:"skipped"`
	Cases   []state.CommissionedCase `json:"cases"`
}

// SiteInfo names the site.
type SiteInfo struct {
	Name        string `json:"name"`
	DisplayName string `json:"display_name"`
	Domain      string `json:"domain"`
	Country     string `json:"country,omitempty"`
	Timezone    string `json:"timezone,omitempty"`
}

// Contact is the owner or the installer.
type Contact struct {
	// Role is "owner" (a user), "installer" (the installer owns the
	// site), or "" when the site names no owner.
	Role  string `json:"role"`
	Name  string `json:"name"`
	Email string `json:"email,omitempty"`
	Phone string `json:"phone,omitempty"`
	// Residence is the owner's residence label.
	Residence string `json:"residence,omitempty"`
}

// Device is one bound device.
type Device struct {
	Name     string `json:"name"`
	Model    string `json:"model"`
	Kind     string `json:"kind"`
	MAC      string `json:"mac"`
	Location string `json:"location,omitempty"`
	// Firmware is what the device reported at its last push.
	Firmware string `json:"firmware,omitempty"`
	// Status is the last apply's verdict: "set and verified", "check-sync
	// sent", "not applied".
	Status string `json:"status"`
	// ReadBack is when its settings were last read back and found set.
	ReadBack time.Time `json:"read_back,omitzero"`
	Verified bool      `json:"verified"`
}

// Home is a residence and its people; the people with no residence are
// gathered in one Home with no Name.
type Home struct {
	Name   string   `json:"name,omitempty"`
	Label  string   `json:"label"`
	People []Person `json:"people"`
}

// Person is one user.
type Person struct {
	Name        string   `json:"name"`
	DisplayName string   `json:"display_name"`
	Role        string   `json:"role"`
	Rights      []string `json:"rights"`
	Email       string   `json:"email,omitempty"`
	Extension   string   `json:"extension,omitempty"`
	DDIs        []string `json:"ddis,omitempty"`
	Endpoints   []string `json:"endpoints,omitempty"`
	Mailbox     bool     `json:"voicemail"`
	// Invitation is what the state says of their invitation.
	Invitation string `json:"invitation"`
}

// Numbers is the number plan.
type Numbers struct {
	Extensions   []NumberRow `json:"extensions"`
	DDIs         []NumberRow `json:"ddis"`
	SpareDDIs    []NumberRow `json:"spare_ddis"`
	Conferences  []NumberRow `json:"conference_rooms"`
	FeatureCodes []NumberRow `json:"feature_codes"`
	Emergency    []string    `json:"emergency"`
}

// NumberRow is one number and what it reaches.
type NumberRow struct {
	Number string `json:"number"`
	What   string `json:"what"`
}

// Handover is one recorded change of owner.
type Handover struct {
	From     string    `json:"from"`
	To       string    `json:"to"`
	At       time.Time `json:"at"`
	PlanHash string    `json:"plan_hash"`
}

// New makes the sheet of in.Program as in.State records it.
func New(in Input) *Sheet {
	p, st := in.Program, in.State
	if st == nil {
		st = state.New(p.Site.Name)
	}
	s := &Sheet{
		Site: SiteInfo{Name: p.Site.Name, DisplayName: firstNonEmpty(p.Site.DisplayName, p.Site.Name),
			Domain: p.Site.Domain, Country: p.Site.Country, Timezone: p.Site.Timezone},
		Generated: in.Now.UTC().Truncate(time.Second),
		Key:       in.Key,
		Applied:   len(st.Objects) > 0, // not Serial: commission records its results in a state nothing was applied with
		Devices:   []Device{}, Homes: []Home{}, OpenItems: []string{}, NextSteps: []string{},
	}
	if in := p.Site.Installer; in != nil {
		s.Installer = &Contact{Role: string(ir.RoleInstaller), Name: in.Company, Email: in.Email, Phone: in.Phone}
	}
	s.Owner = owner(p)
	for _, d := range p.Devices {
		s.Devices = append(s.Devices, device(d, st.Object("device."+d.Name)))
	}
	s.Homes = homes(p, st)
	s.Numbers = numbers(p)
	for _, h := range st.Handovers {
		s.Handovers = append(s.Handovers, Handover{From: h.FromName, To: h.ToName, At: h.At, PlanHash: h.PlanHash})
	}
	if c := st.Commissioning; c != nil {
		s.Commissioning = commissioning(c)
	}
	s.OpenItems = openItems(s)
	s.NextSteps = nextSteps(s)
	return s
}

func commissioning(c *state.Commissioning) *Commissioning {
	out := &Commissioning{Updated: c.Updated.UTC().Truncate(time.Second), Cases: c.Cases}
	for _, k := range c.Cases {
		switch k.Status {
		case "passed":
			out.Passed++
		case "failed":
			out.Failed++
		case "skipped":
			out.Skipped++
		default:
			out.Open++
		}
	}
	return out
}

func owner(p *ir.Program) Contact {
	for _, u := range p.Users {
		if ir.Role(u.Role) == ir.RoleOwner {
			c := Contact{Role: string(ir.RoleOwner), Name: firstNonEmpty(u.DisplayName, u.Name), Email: u.Email}
			if r := p.Residence(u.Residence); r != nil {
				c.Residence = r.Label
			}
			return c
		}
	}
	if in := p.Site.Installer; in != nil && in.OwnsSite {
		return Contact{Role: string(ir.RoleInstaller), Name: in.Company, Email: in.Email, Phone: in.Phone}
	}
	return Contact{Name: "nobody"}
}

func device(d ir.Device, o *state.Object) Device {
	out := Device{Name: d.Name, Model: d.Model, Kind: kindName(d.Kind), MAC: formatMAC(d.MAC), Location: d.Location, Status: "not applied"}
	if o == nil || o.Delivery == nil {
		if o != nil && o.InProgress {
			out.Status = "an apply did not finish"
		}
		return out
	}
	out.Firmware = o.Delivery.Firmware
	out.Status = o.Delivery.Outcome
	if o.Delivery.Method == "api" {
		out.Verified = true
		out.ReadBack = o.AppliedAt
	}
	if o.InProgress {
		out.Status += "; a later apply did not finish"
		out.Verified = false
	}
	return out
}

func kindName(k ir.DeviceKind) string {
	switch k {
	case ir.DoorStation:
		return "door station"
	case ir.Monitor:
		return "indoor monitor"
	case ir.Phone:
		return "desk phone"
	}
	return string(k)
}

// formatMAC writes a canonical MAC (12 hex digits) as the label on the
// device shows it.
func formatMAC(m string) string {
	if len(m) != 12 {
		return m
	}
	var parts []string
	for i := 0; i < 12; i += 2 {
		parts = append(parts, strings.ToUpper(m[i:i+2]))
	}
	return strings.Join(parts, ":")
}

func homes(p *ir.Program, st *state.State) []Home {
	ddis := map[string][]string{}
	for _, d := range p.DDIs {
		if d.Target.Kind == ir.RefUser {
			ddis[d.Target.Name] = append(ddis[d.Target.Name], d.Number)
		}
	}
	person := func(u ir.User) Person {
		out := Person{Name: u.Name, DisplayName: firstNonEmpty(u.DisplayName, u.Name), Role: u.Role, Email: u.Email,
			Extension: u.Extension, DDIs: ddis[u.Name], Endpoints: u.Endpoints, Mailbox: u.Mailbox != "",
			Invitation: invitationStatus(u, st.Object("user."+u.Name)), Rights: []string{}}
		for _, r := range ir.RightsOf(ir.Role(u.Role)) {
			out.Rights = append(out.Rights, string(r))
		}
		return out
	}
	var out []Home
	for _, r := range p.Residences {
		h := Home{Name: r.Name, Label: firstNonEmpty(r.Label, r.Name), People: []Person{}}
		for _, name := range r.Users {
			if u := p.User(name); u != nil {
				h.People = append(h.People, person(*u))
			}
		}
		out = append(out, h)
	}
	var none []Person
	for _, u := range p.Users {
		if u.Residence == "" {
			none = append(none, person(u))
		}
	}
	if len(none) > 0 {
		out = append(out, Home{Label: "No residence", People: none})
	}
	return out
}

// invitationStatus says what the state records of a person's invitation.
// Other values an apply may record (an invitation held until a device is
// verified, one to hand over in person) are shown as recorded.
func invitationStatus(u ir.User, o *state.Object) string {
	if !u.SendCredentials {
		return "none: send_credentials is off"
	}
	if o == nil || (o.InProgress && len(o.Attributes) == 0) {
		return "not sent: not applied yet"
	}
	v := o.Attributes[plan.AttrInvitation]
	switch {
	case v == "":
		return "not sent"
	case v == plan.InvitationNotSent:
		return "not sent: the last apply could not send it"
	}
	return plan.Unquote(v)
}

func numbers(p *ir.Program) Numbers {
	n := Numbers{Extensions: []NumberRow{}, DDIs: []NumberRow{}, SpareDDIs: []NumberRow{}, Conferences: []NumberRow{}, FeatureCodes: []NumberRow{}, Emergency: slices.Clone(p.Site.Emergency)}
	if n.Emergency == nil {
		n.Emergency = []string{}
	}
	for _, x := range p.Numbers {
		switch x.Action.Kind {
		case ir.ActionRing:
			n.Extensions = append(n.Extensions, NumberRow{x.Number, refName(p, x.Action.Target)})
		case ir.ActionConference:
			what := "room " + x.Action.Target.Name
			if c := p.Conference(x.Action.Target.Name); c != nil && c.Owner.Name != "" {
				what += ", owned by " + refName(p, c.Owner)
			}
			n.Conferences = append(n.Conferences, NumberRow{x.Number, what})
		case ir.ActionVoicemail:
			n.FeatureCodes = append(n.FeatureCodes, NumberRow{x.Number, "voicemail: your own box from your phone or app"})
		}
	}
	assigned := map[string]bool{}
	for _, d := range p.DDIs {
		assigned[d.Number] = true
		n.DDIs = append(n.DDIs, NumberRow{d.Number, refName(p, d.Target) + " (trunk " + d.Trunk + ")"})
	}
	// Spare DDIs: the trunks' numbers nobody is given. (Quarantined
	// numbers of removed people are the number plan's to say; this lists
	// what the compiled site leaves unassigned.)
	for _, t := range p.Trunks {
		for _, d := range t.DDIs {
			if !assigned[d] {
				n.SpareDDIs = append(n.SpareDDIs, NumberRow{d, "spare (trunk " + t.Name + ")"})
			}
		}
	}
	slices.SortFunc(n.SpareDDIs, func(a, b NumberRow) int { return strings.Compare(a.Number, b.Number) })
	return n
}

func refName(p *ir.Program, r ir.Ref) string {
	switch r.Kind {
	case ir.RefUser:
		if u := p.User(r.Name); u != nil {
			return firstNonEmpty(u.DisplayName, u.Name)
		}
	case ir.RefResidence:
		if res := p.Residence(r.Name); res != nil {
			return "residence " + firstNonEmpty(res.Label, res.Name)
		}
	}
	return r.String()
}

func openItems(s *Sheet) []string {
	var out []string
	if !s.Applied {
		out = append(out, "The site was never applied: nothing below is known to be on the devices (run switchboard apply).")
	}
	for _, d := range s.Devices {
		if !d.Verified {
			out = append(out, fmt.Sprintf("Device %s (%s) is not verified: %s.", d.Name, d.Model, d.Status))
		}
	}
	for _, h := range s.Homes {
		for _, p := range h.People {
			if strings.HasPrefix(p.Invitation, "not sent") || strings.HasPrefix(p.Invitation, "held") || strings.HasPrefix(p.Invitation, "to hand over") {
				out = append(out, fmt.Sprintf("%s's invitation was not delivered (%s).", p.DisplayName, p.Invitation))
			}
			if len(p.Endpoints) == 0 {
				out = append(out, fmt.Sprintf("%s has no endpoint of their own (no app, no desk phone): only a residence's monitor can ring for them.", p.DisplayName))
			}
		}
	}
	if c := s.Commissioning; c != nil {
		for _, k := range c.Cases {
			if k.Status == "failed" {
				out = append(out, fmt.Sprintf("Commissioning: %q failed: %s.", k.Name, k.Detail))
			}
		}
		if c.Open > 0 {
			out = append(out, fmt.Sprintf("Commissioning: %d of %d cases are not yet proven on the live site (switchboard commission).", c.Open, len(c.Cases)-c.Skipped))
		}
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func nextSteps(s *Sheet) []string {
	var out []string
	switch s.Owner.Role {
	case string(ir.RoleInstaller):
		out = append(out, fmt.Sprintf("The installer (%s) still owns the site. To hand it over, give the new owner role = \"owner\", remove owns_site from the installer block, and apply: the apply records the handover and mails the owner this sheet.", s.Owner.Name))
	case "":
		out = append(out, "The site names no owner: give one user role = \"owner\" and apply.")
	default:
		out = append(out, fmt.Sprintf("%s: check the people, numbers and devices on this sheet, and tell the installer what is wrong.", s.Owner.Name))
	}
	if len(s.OpenItems) > 0 {
		out = append(out, fmt.Sprintf("Have the %d open items above resolved, then ask for this sheet again (switchboard handover).", len(s.OpenItems)))
	}
	out = append(out, "Once the installer's work is done, have the site rekeyed (switchboard rekey): every password changes, so the key the installer held opens nothing.")
	out = append(out, "Keep the site key somewhere only you and your installer reach (see Site key above): losing it changes every password. Compare its fingerprint with this sheet's to know it is the same key.")
	out = append(out, "Keep this sheet: it holds no password, and every person's login reached them by their own invitation.")
	return out
}

func firstNonEmpty(xs ...string) string {
	for _, x := range xs {
		if x != "" {
			return x
		}
	}
	return ""
}
