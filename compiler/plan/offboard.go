package plan

import (
	"fmt"
	"strings"
	"time"

	"switchboard/compiler/ir"
	"switchboard/compiler/state"
)

// Offboarding is the site's policy for the data of people it removes, as
// the plan and apply need it.
type Offboarding struct {
	// Data is "archive" or "delete"; ArchiveDays how long an archive is
	// kept.
	Data        string
	ArchiveDays int
	// Owner is the owner user's block name and display name (who an
	// archive is kept for); empty when the site has none.
	Owner, OwnerName string
	// Spare says where the carrier's calls to a spare number of each trunk
	// go: "404", "voicemail <box>", "user.x", by trunk name.
	Spare map[string]string
	// Quarantine maps an extension held from reuse to the date it is
	// free again (switchboard.lock.hcl).
	Quarantine map[string]string
	// Inventory, when set, counts what a person's voicemail box holds on
	// this machine, by identity; ok is false when it cannot tell (no data
	// directory here).
	Inventory func(identity string) (Inventory, bool) `json:"-"`
}

// Inventory is what a voicemail box holds.
type Inventory struct {
	Messages int
	Greeting bool
	PIN      bool // a PIN the person chose (else the derived one)
}

// NewOffboarding reads the policy off the compiled site.
func NewOffboarding(p *ir.Program) Offboarding {
	o := Offboarding{Spare: map[string]string{}, Quarantine: map[string]string{}}
	o.Data, o.ArchiveDays = p.Site.Offboarding()
	for _, u := range p.Users {
		if u.Role == "owner" {
			o.Owner, o.OwnerName = u.Name, u.DisplayName
			break
		}
	}
	for _, t := range p.Trunks {
		switch {
		case t.Unassigned.IsZero():
			o.Spare[t.Name] = "404"
		case t.UnassignedMailbox != "":
			o.Spare[t.Name] = "voicemail " + t.UnassignedMailbox
		default:
			o.Spare[t.Name] = t.Unassigned.String()
		}
	}
	return o
}

// Offboard is what removing one person does, step by step: the plan lists
// it, apply carries it out and reports each step.
type Offboard struct {
	// Identity is the identity the person's data belongs to.
	Identity string
	// Data, ArchiveDays and Owner/OwnerName are the site's policy.
	Data        string
	ArchiveDays int
	Owner       string
	OwnerName   string
	// Inventory is what their box holds; Counted is false when this
	// machine cannot tell.
	Inventory Inventory
	Counted   bool
	// DDIs are the carrier numbers that become spare, each with where its
	// calls go from now on ("+35315550102 via carrier → 404").
	DDIs []SpareDDI
	// Extension is the extension they held, and QuarantinedUntil the date
	// it is free again when it was handed out by extension = "auto".
	Extension        string
	QuarantinedUntil string
}

// SpareDDI is a carrier number that becomes spare.
type SpareDDI struct {
	Number, Trunk, Goes string
}

// offboard works out what removing the user of change c does.
func offboard(c Change, st *state.State, ob *Offboarding) *Offboard {
	if ob == nil {
		return nil
	}
	o := &Offboard{Identity: st.Identity(c.Name), Data: ob.Data, ArchiveDays: ob.ArchiveDays, Owner: ob.Owner, OwnerName: ob.OwnerName}
	if ob.Inventory != nil {
		o.Inventory, o.Counted = ob.Inventory(o.Identity)
	}
	for _, d := range list(before(c, "ddis")) {
		number, trunk, _ := strings.Cut(d, " via ")
		o.DDIs = append(o.DDIs, SpareDDI{Number: number, Trunk: trunk, Goes: ob.Spare[trunk]})
	}
	o.Extension = unquote(before(c, "extension"))
	o.QuarantinedUntil = ob.Quarantine[o.Extension]
	return o
}

// Steps are the offboarding's steps in the order apply takes them, as
// sentences; now dates the archive's end.
func (o *Offboard) Steps(now time.Time) []string {
	steps := []string{"app and portal logins revoked, registrations dropped when the server reloads"}
	steps = append(steps, o.dataStep(now))
	for _, d := range o.DDIs {
		goes := d.Goes
		if goes == "" {
			goes = "404"
		}
		steps = append(steps, fmt.Sprintf("DDI %s becomes spare (trunk %s; its calls go to %s)", d.Number, d.Trunk, goes))
	}
	if o.Extension != "" {
		if o.QuarantinedUntil != "" {
			steps = append(steps, fmt.Sprintf("extension %s quarantined until %s", o.Extension, o.QuarantinedUntil))
		} else {
			steps = append(steps, fmt.Sprintf("extension %s is free", o.Extension))
		}
	}
	return steps
}

// dataStep says what happens to the voicemail data.
func (o *Offboard) dataStep(now time.Time) string {
	what := "voicemail messages, greeting and PIN"
	if o.Counted {
		parts := []string{plural(o.Inventory.Messages, "voicemail message")}
		if o.Inventory.Greeting {
			parts = append(parts, "greeting")
		}
		if o.Inventory.PIN {
			parts = append(parts, "PIN")
		}
		what = strings.Join(parts, ", ")
	}
	if o.Data == "delete" {
		return what + " deleted (removed_data = \"delete\")"
	}
	for_ := "for the site's owner"
	if o.OwnerName != "" {
		for_ = "for " + o.OwnerName
	}
	until := ""
	if !now.IsZero() {
		until = ", until " + now.AddDate(0, 0, o.ArchiveDays).UTC().Format("2006-01-02")
	}
	return fmt.Sprintf("%s archived for %d days%s %s, then deleted (identity %s)", what, o.ArchiveDays, until, for_, o.Identity)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
