// Package compiler turns a loaded site into what runs it. This file holds
// the check pass: Check enforces the rules of a valid site (DESIGN.md,
// "Rules the compiler enforces") and resolves what later stages need.
package compiler

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/catalogue"
	"switchboard/lang"
)

// Checked is a site that went through the check pass, with everything the
// checks resolved on the way, for the lowering to the IR.
//
// Check always returns a Checked, but it is complete and trustworthy only
// when the diagnostics hold no errors; never lower or write the lock of a
// site that failed its checks. Slices are in a deterministic order;
// maps are for lookup (iterate the slices, or sort the keys).
type Checked struct {
	Config *lang.Config
	Site   *lang.Site // the one site; nil when there is none

	// Location is the site's time zone, loaded; nil when it is invalid.
	Location *time.Location
	// Emergency holds the emergency numbers of the site's country, sorted;
	// the dial plan must pass them to a trunk and never shadow them.
	Emergency []string
	// Digest are the digest algorithms offered to accounts whose client
	// is unknown (apps, trunks), in IR names: the site's digest
	// attribute, else MD5 alone.
	Digest []string
	// Nodes are the SIP servers the site is served from, primary first:
	// its nodes attribute; nil when it has none (its domain alone).
	Nodes []Node

	Users      map[string]*lang.User      // by block name
	Residences map[string]*lang.Residence // by block name
	Trunks     map[string]*lang.Trunk     // by block name

	// Devices lists every device in declaration order, with its model and
	// canonical MAC resolved; DeviceByName finds one by block name.
	Devices      []*Device
	DeviceByName map[string]*Device

	// ResidenceUsers lists the users of each residence (by residence name),
	// ResidenceMonitors the monitors bound to it, UserPhones the desk
	// phones of each user (by user name); all in declaration order.
	ResidenceUsers    map[string][]*lang.User
	ResidenceMonitors map[string][]*Device
	UserPhones        map[string][]*Device

	// DoorStations lists each door station with whom a visitor can call
	// from it, in declaration order.
	DoorStations []*DoorStation

	// Extensions maps every user that has an extension to it: the number
	// written in the site, or the one allocated for extension = "auto".
	Extensions map[string]string
	// Allocations lists extensions handed out by this run (not taken from
	// the lock file), in user-name order, so the CLI can say
	// Allocated extension 105 to user "tom".
	Allocations []Allocation
	// Lock is the allocation record to write back beside the site files:
	// the extension of every user with extension = "auto". LockChanged is
	// true when it differs from the lock that was read.
	Lock        *lang.Lock
	LockChanged bool

	// Dial is the site's namespace of numbers dialled from phones and
	// apps (extensions, conference rooms, feature codes, DDI short forms),
	// sorted by number, then by declaration.
	Dial []DialEntry
	// DDIs lists every number of every trunk's pool, sorted, with the user
	// it rings (nil when unassigned).
	DDIs []DDI
}

// Device is a device block with what the catalogue says about it.
type Device struct {
	*lang.Device
	Model *catalogue.Model // nil when the model is unknown
	// Kind is the model's kind, or, for an unknown model, the kind its
	// attributes suggest (residence: monitor; user: phone; buttons or
	// keypad: door station); empty when nothing does.
	Kind catalogue.Kind
	MAC  catalogue.MAC // zero when the MAC is invalid
}

// DoorStation is a door station and whom it reaches.
type DoorStation struct {
	Device *Device
	// Residences a visitor can call: those its buttons call, and with
	// keypad = true every residence of the site; in declaration order.
	// Keypad door stations share one slice: do not modify it.
	Residences []*lang.Residence
	// Users its buttons call directly, in button order.
	Users []*lang.User
}

// Allocation is an extension handed out for extension = "auto".
type Allocation struct {
	User      string
	Extension string
	// Previous is the number the lock file recorded when that number
	// could not be kept (another declaration now uses it); else empty.
	Previous string
	Range    hcl.Range // the user's extension attribute
}

// DialKind is what a dialled number reaches.
type DialKind string

// Kinds of dialled numbers.
const (
	DialExtension  DialKind = "extension"
	DialConference DialKind = "conference room"
	DialFeature    DialKind = "feature code"
	DialShortForm  DialKind = "short form"
)

// DialEntry is one number of the site's dial namespace.
type DialEntry struct {
	Number  string
	Kind    DialKind
	User    string // the user it belongs to; empty for feature codes
	Feature string // for feature codes: "voicemail"
	DDI     string // for short forms: the full E.164 number
	Trunk   string // for short forms: the trunk whose short_dial made it
	Auto    bool   // an extension allocated for extension = "auto"
	Range   hcl.Range
}

// String describes the entry for a diagnostic: extension 101 of user "mary".
func (e DialEntry) String() string {
	switch e.Kind {
	case DialFeature:
		return fmt.Sprintf("the %s feature code %s", e.Feature, e.Number)
	case DialShortForm:
		return fmt.Sprintf("short form %s of %s (user %q, trunk %q short_dial)", e.Number, e.DDI, e.User, e.Trunk)
	}
	return fmt.Sprintf("%s %s of user %q", e.Kind, e.Number, e.User)
}

// DDI is a carrier number from a trunk's pool.
type DDI struct {
	Number string
	Trunk  *lang.Trunk
	User   *lang.User // nil when no user lists it
	// Short is the internal short form (trunk short_dial), when the trunk
	// has one and a user is assigned; else empty.
	Short string
}

// Check enforces the site rules on a loaded configuration and resolves
// what the lowering needs. It collects every problem it finds; it never
// panics on a partial configuration such as one lang.Load returned with
// errors.
func Check(cfg *lang.Config) (*Checked, hcl.Diagnostics) {
	c := &checker{cfg: cfg, out: &Checked{
		Config:            cfg,
		Users:             map[string]*lang.User{},
		Residences:        map[string]*lang.Residence{},
		Trunks:            map[string]*lang.Trunk{},
		DeviceByName:      map[string]*Device{},
		ResidenceUsers:    map[string][]*lang.User{},
		ResidenceMonitors: map[string][]*Device{},
		UserPhones:        map[string][]*Device{},
		Extensions:        map[string]string{},
		Lock:              &lang.Lock{Extensions: map[string]string{}},
	}}
	if cfg == nil {
		return c.out, nil
	}
	c.checkSite()
	c.checkOffboarding()
	c.index()
	c.checkResidences()
	c.checkUsers()
	c.checkTrunks()
	c.checkDDIs()
	c.checkDevices()
	c.checkNodesFit()
	c.checkNumbers()
	c.checkBLF()
	c.checkDoorStations()
	c.checkUsersReached()
	c.checkPresentedNumbers()
	sortDiagnostics(c.diags)
	return c.out, c.diags
}

// checker carries the state of one Check run.
type checker struct {
	cfg   *lang.Config
	out   *Checked
	diags hcl.Diagnostics
	site  *lang.Site
	// country is the site's country when it is known to the emergency
	// table, else empty.
	country string

	// pool maps each carrier number to its trunk; poolOrder holds the
	// numbers sorted (checkTrunks).
	pool      map[string]*lang.Trunk
	poolOrder []string
	// shortForms are the DDI short forms users can dial (checkDDIs).
	shortForms []DialEntry
}

func (c *checker) errorf(rng hcl.Range, summary, format string, args ...any) {
	c.add(hcl.DiagError, rng, summary, fmt.Sprintf(format, args...))
}

func (c *checker) warnf(rng hcl.Range, summary, format string, args ...any) {
	c.add(hcl.DiagWarning, rng, summary, fmt.Sprintf(format, args...))
}

func (c *checker) add(sev hcl.DiagnosticSeverity, rng hcl.Range, summary, detail string) {
	if rng.Filename == "" {
		rng = c.fallbackRange()
	}
	d := &hcl.Diagnostic{Severity: sev, Summary: summary, Detail: detail}
	if rng.Filename != "" {
		d.Subject = rng.Ptr()
	}
	c.diags = append(c.diags, d)
}

// fallbackRange is where a diagnostic about the site as a whole points:
// the site block's header, else the start of the first file. It is empty
// only when there are no files at all.
func (c *checker) fallbackRange() hcl.Range {
	if c.site != nil {
		return c.site.DeclRange
	}
	if len(c.cfg.Sites) > 0 {
		return c.cfg.Sites[0].DeclRange
	}
	names := make([]string, 0, len(c.cfg.Files))
	for name := range c.cfg.Files {
		names = append(names, name)
	}
	if len(names) == 0 {
		return hcl.Range{}
	}
	slices.Sort(names)
	return hcl.Range{Filename: names[0], Start: hcl.InitialPos, End: hcl.InitialPos}
}

// at renders a range as file:line for "declared at" details.
func at(r hcl.Range) string { return fmt.Sprintf("%s:%d", r.Filename, r.Start.Line) }

// before orders ranges by file, then position: the earlier declaration.
func before(a, b hcl.Range) bool { return compareRanges(a, b) < 0 }

func compareRanges(a, b hcl.Range) int {
	return cmp.Or(cmp.Compare(a.Filename, b.Filename), cmp.Compare(a.Start.Byte, b.Start.Byte))
}

// sortDiagnostics orders diagnostics by file, position, then severity
// (errors first), keeping the pass's order otherwise.
func sortDiagnostics(diags hcl.Diagnostics) {
	slices.SortStableFunc(diags, func(a, b *hcl.Diagnostic) int {
		var ra, rb hcl.Range
		if a.Subject != nil {
			ra = *a.Subject
		}
		if b.Subject != nil {
			rb = *b.Subject
		}
		return cmp.Or(compareRanges(ra, rb), cmp.Compare(a.Severity, b.Severity))
	})
}

// index fills the lookup maps; duplicates were reported by lang.Load,
// which keeps only the first block of a name.
func (c *checker) index() {
	for _, r := range c.cfg.Residences {
		c.out.Residences[r.Name] = r
	}
	for _, u := range c.cfg.Users {
		c.out.Users[u.Name] = u
		if u.Residence != nil {
			c.out.ResidenceUsers[u.Residence.Name] = append(c.out.ResidenceUsers[u.Residence.Name], u)
		}
	}
	for _, t := range c.cfg.Trunks {
		c.out.Trunks[t.Name] = t
	}
}
