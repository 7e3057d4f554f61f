package plan

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"switchboard/compiler/state"
)

// Action is what happens to an object.
type Action string

const (
	Create  Action = "create"
	Update  Action = "update"
	Delete  Action = "delete"
	Replace Action = "replace" // delete and create: a device with a new MAC
)

// Plan is the diff of a desired site against the applied state.
type Plan struct {
	Site        string
	DisplayName string
	// Lineage and Serial identify the state the plan was made against;
	// Hash the desired configuration. A saved plan is applied only while
	// all three still match (see CheckSaved).
	Lineage string
	Serial  int64
	Hash    string
	// Changes are in apply order: creates and updates (site, trunks,
	// residences, conference rooms, devices, then the users they serve),
	// then removals in the reverse order.
	Changes []Change
	// Summary says what changes for people, in plain words.
	Summary []string
	// Targets are the addresses a partial plan was restricted to (see
	// Target); LeftOut counts the changes of the site it left out.
	Targets []string
	LeftOut int
	// Handover is set when the plan moves the site's ownership.
	Handover *Handover
	// Rekeyed says the site key changed since the last apply: every
	// password and provisioning file changes with it.
	Rekeyed bool
}

// Handover is a change of the site's owner.
type Handover struct {
	// From and To are "user.NAME" or OwnerInstaller.
	From, To string
	// FromName and ToName are a person's name, or the installer's company.
	FromName, ToName string
}

// Callout is the sentence a plan opens with: "Ownership passes from the
// installer (Dublin Door Systems) to Anne Byrne".
func (h *Handover) Callout() string {
	return "Ownership passes from " + ownerPhrase(h.From, h.FromName) + " to " + ownerPhrase(h.To, h.ToName)
}

func ownerPhrase(who, name string) string {
	if who == OwnerInstaller {
		return "the installer (" + name + ")"
	}
	return name
}

// handover finds the site's change of owner in p: an owner recorded in the
// state that differs from the desired one.
func handover(p *Plan) *Handover {
	for _, c := range p.Changes {
		if c.Kind != KindSite || c.Before == nil || c.After == nil {
			continue
		}
		from, to := unquote(c.Before.Attributes[AttrOwner]), unquote(c.After.Attributes[AttrOwner])
		if from == "" || to == "" || from == to {
			return nil
		}
		return &Handover{From: from, To: to, FromName: unquote(c.Before.Attributes[AttrOwnerName]), ToName: unquote(c.After.Attributes[AttrOwnerName])}
	}
	return nil
}

// rekeyed reports whether the plan changes the site key's fingerprint.
func rekeyed(p *Plan) bool {
	for _, c := range p.Changes {
		if c.Kind != KindSite || c.Before == nil || c.After == nil {
			continue
		}
		b, a := c.Before.Attributes[AttrSiteKey], c.After.Attributes[AttrSiteKey]
		return b != "" && a != "" && a != b
	}
	return false
}

// Change is the change of one object.
type Change struct {
	Address string
	Kind    Kind
	Name    string
	Label   string
	Action  Action
	// Attributes are the attributes that change (all of them for a create
	// or delete), sorted by name.
	Attributes []AttributeChange
	// Unchanged counts the attributes that stay the same.
	Unchanged int
	// ReplacedBecause names the attributes that force a replacement.
	ReplacedBecause []string
	// Interrupted says an earlier apply started this change and did not
	// finish it; it is made again even when no attribute differs.
	Interrupted bool
	// Drifted says a refresh found the device's settings changed behind
	// switchboard's back; it is applied again even when no attribute
	// differs (see WithDrift).
	Drifted bool
	// Before is the applied object (nil for a create), After the desired
	// one (nil for a delete).
	Before *state.Object
	After  *Object
	// Offboard, for a user removed, is what happens to their data,
	// numbers and logins (nil when the plan was made without the site's
	// policy).
	Offboard *Offboard
}

// AttributeChange is one attribute's change. Before and After are
// JSON-encoded; empty means absent. A value {"from":"var.x"} is a reference
// to an input (see Reference).
type AttributeChange struct {
	Name              string
	Before, After     string
	Sensitive         bool // a credential fingerprint: never show the values
	Opaque            bool // a digest: show only that it changed
	ForcesReplacement bool
}

// Counts returns how many objects are added, changed and removed. A
// replacement counts as one added and one removed.
func (p *Plan) Counts() (add, change, remove int) {
	for _, c := range p.Changes {
		switch c.Action {
		case Create:
			add++
		case Update:
			change++
		case Delete:
			remove++
		case Replace:
			add++
			remove++
		}
	}
	return add, change, remove
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool { return len(p.Changes) > 0 }

// Diff compares the desired site with the applied state.
func Diff(d *Desired, st *state.State) *Plan {
	p := &Plan{Site: d.Site, DisplayName: d.DisplayName, Lineage: st.Lineage, Serial: st.Serial, Hash: d.Hash}
	for i := range d.Objects {
		want := &d.Objects[i]
		have := st.Object(want.Address)
		if have == nil {
			p.Changes = append(p.Changes, Change{
				Address: want.Address, Kind: want.Kind, Name: want.Name, Label: want.Label,
				Action: Create, Attributes: attributeChanges(want.Kind, nil, want.Attributes), After: want,
			})
			continue
		}
		if have.InProgress && len(have.Attributes) == 0 {
			// A create an apply did not finish.
			p.Changes = append(p.Changes, Change{
				Address: want.Address, Kind: want.Kind, Name: want.Name, Label: want.Label,
				Action: Create, Attributes: attributeChanges(want.Kind, nil, want.Attributes), After: want,
				Interrupted: true,
			})
			continue
		}
		changes := attributeChanges(want.Kind, have.Attributes, want.Attributes)
		if len(changes) == 0 && !have.InProgress {
			continue
		}
		c := Change{
			Address: want.Address, Kind: want.Kind, Name: want.Name, Label: want.Label,
			Action: Update, Attributes: changes, Before: have, After: want,
			Unchanged:   len(union(have.Attributes, want.Attributes)) - len(changes),
			Interrupted: have.InProgress,
		}
		for _, a := range changes {
			if a.ForcesReplacement {
				c.Action = Replace
				c.ReplacedBecause = append(c.ReplacedBecause, a.Name)
			}
		}
		p.Changes = append(p.Changes, c)
	}
	for i := range st.Objects {
		have := &st.Objects[i]
		if d.Object(have.Address) != nil {
			continue
		}
		kind, name, _ := strings.Cut(have.Address, ".")
		c := Change{
			Address: have.Address, Kind: Kind(kind), Name: name, Label: stateLabel(have),
			Action: Delete, Attributes: attributeChanges(Kind(kind), have.Attributes, nil), Before: have,
		}
		if c.Kind == KindUser {
			c.Offboard = offboard(c, st, d.Offboarding)
		}
		p.Changes = append(p.Changes, c)
	}
	sortChanges(p.Changes)
	p.Handover, p.Rekeyed = handover(p), rekeyed(p)
	p.Summary = summarise(p)
	return p
}

// WithDrift adds to p an update of every object at addrs that p does not
// change already: devices whose settings a refresh found changed on the
// device, so that apply pushes the applied settings again. Objects the
// site no longer has are left out (their removal is already planned).
func WithDrift(p *Plan, d *Desired, st *state.State, addrs []string) *Plan {
	out := *p
	out.Changes = slices.Clone(p.Changes)
	for _, a := range addrs {
		want, have := d.Object(a), st.Object(a)
		if want == nil || have == nil {
			continue
		}
		i := slices.IndexFunc(out.Changes, func(c Change) bool { return c.Address == a })
		if i >= 0 {
			out.Changes[i].Drifted = true
			continue
		}
		out.Changes = append(out.Changes, Change{
			Address: a, Kind: want.Kind, Name: want.Name, Label: want.Label,
			Action: Update, Before: have, After: want, Drifted: true,
			Unchanged: len(union(have.Attributes, want.Attributes)),
		})
	}
	sortChanges(out.Changes)
	out.Summary = summarise(&out)
	return &out
}

func sortChanges(cs []Change) {
	slices.SortStableFunc(cs, func(a, b Change) int {
		if x, y := rank(a), rank(b); x != y {
			return x - y
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// applyOrder is the order kinds are created and updated in; removals go
// the other way, after every create and update.
var applyOrder = []Kind{KindSite, KindTrunk, KindResidence, KindConference, KindDevice, KindUser}

func rank(c Change) int {
	i := slices.Index(applyOrder, c.Kind)
	if i < 0 {
		i = len(applyOrder)
	}
	if c.Action == Delete {
		return 2*len(applyOrder) - i
	}
	return i
}

// stateLabel is the label of an object that only the state knows.
func stateLabel(o *state.Object) string {
	for _, k := range []string{"display_name", "label"} {
		if v := unquote(o.Attributes[k]); v != "" {
			return v
		}
	}
	_, name, _ := strings.Cut(o.Address, ".")
	return name
}

func union(a, b map[string]string) []string {
	set := map[string]bool{}
	for k := range a {
		set[k] = true
	}
	for k := range b {
		set[k] = true
	}
	return slices.Sorted(maps.Keys(set))
}

func attributeChanges(k Kind, before, after map[string]string) []AttributeChange {
	var out []AttributeChange
	for _, name := range union(before, after) {
		b, a := before[name], after[name]
		if b == a {
			continue
		}
		// A reference names an input and holds no value: it is shown.
		_, bRef := Reference(b)
		_, aRef := Reference(a)
		valued := (b != "" && !bRef) || (a != "" && !aRef)
		out = append(out, AttributeChange{
			Name: name, Before: b, After: a,
			Sensitive:         Sensitive(name) && valued,
			Opaque:            Opaque(name) && valued,
			ForcesReplacement: before != nil && after != nil && ForcesReplacement(k, name),
		})
	}
	return out
}

// SavedRef is what a saved plan records to detect staleness.
type SavedRef struct {
	Site    string
	Lineage string
	Serial  int64
	Hash    string
}

// StaleError says why a saved plan may not be applied.
type StaleError struct{ Reason string }

func (e *StaleError) Error() string { return "the saved plan is stale: " + e.Reason }

// CheckSaved returns a *StaleError when a plan saved as ref no longer fits
// the desired site or the state: the configuration, the key or the state
// changed since it was made.
func CheckSaved(ref SavedRef, d *Desired, st *state.State) error {
	switch {
	case ref.Site != d.Site:
		return &StaleError{fmt.Sprintf("it was made for site %q, and this is site %q", ref.Site, d.Site)}
	case ref.Serial != st.Serial:
		return &StaleError{fmt.Sprintf("the state changed since it was made (serial %d, now %d): another apply ran", ref.Serial, st.Serial)}
	case st.Serial > 0 && ref.Lineage != st.Lineage:
		return &StaleError{"it was made against another state file (lineage " + ref.Lineage + ", now " + st.Lineage + ")"}
	case ref.Hash != d.Hash:
		return &StaleError{"the site's configuration changed since it was made"}
	}
	return nil
}

// Ref returns what a saved copy of p must record.
func (p *Plan) Ref() SavedRef {
	return SavedRef{Site: p.Site, Lineage: p.Lineage, Serial: p.Serial, Hash: p.Hash}
}
