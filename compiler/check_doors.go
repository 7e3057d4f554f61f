package compiler

import (
	"slices"
	"strings"

	"switchboard/compiler/catalogue"
	"switchboard/lang"
)

// checkDoorStations works out whom each door station reaches and checks
// that visitors can tell the residences apart on keypad panels and that
// somebody can answer every residence a door station calls.
func (c *checker) checkDoorStations() {
	position := make(map[string]int, len(c.cfg.Residences))
	for i, r := range c.cfg.Residences {
		position[r.Name] = i
	}
	var reachedOrder []*lang.Residence
	reachedBy := map[string]*Device{} // residence name -> first door station reaching it

	keypadChecked := false
	for _, d := range c.out.Devices {
		if d.Kind != catalogue.DoorStation {
			continue
		}
		ds := &DoorStation{Device: d}
		var seen map[string]bool
		if d.Keypad.Value {
			// Every keypad panel reaches the same residences: share the
			// slice and check its labels once.
			ds.Residences = c.cfg.Residences
		} else {
			seen = map[string]bool{}
		}
		for _, b := range d.Buttons {
			if b.Calls == nil {
				continue
			}
			switch b.Calls.Kind {
			case "residence":
				if r := c.out.Residences[b.Calls.Name]; r != nil && seen != nil && !seen[r.Name] {
					seen[r.Name] = true
					ds.Residences = append(ds.Residences, r)
				}
			case "user":
				if u := c.out.Users[b.Calls.Name]; u != nil {
					ds.Users = append(ds.Users, u)
					if !c.userCanAnswer(u) {
						c.warnf(b.Calls.Range, "User cannot answer",
							"Button %q of door station %q calls user %q, who has no app (app = true) and no desk phone, so the call rings nowhere. Give the user an app or a phone, or call their residence instead.",
							b.Label, d.Name, u.Name)
					}
				}
			}
		}
		if seen != nil {
			// Keep button panels in declaration order too.
			slices.SortFunc(ds.Residences, func(a, b *lang.Residence) int { return position[a.Name] - position[b.Name] })
		}
		c.out.DoorStations = append(c.out.DoorStations, ds)
		if d.Keypad.Value && !keypadChecked {
			c.checkLabels(ds)
			keypadChecked = true
		}
		for _, r := range ds.Residences {
			if reachedBy[r.Name] == nil {
				reachedBy[r.Name] = d
				reachedOrder = append(reachedOrder, r)
			}
		}
	}

	for _, r := range reachedOrder {
		if !dialable(r.Label.Value) {
			c.errorf(r.Label.Range, "Residence label not dialable",
				"Door station %q calls residence %q by dialling its label, %q, and a SIP address cannot carry that as it is: the door's calls to it would not arrive. Use letters, digits and - _ . ! ~ * ' ( ) only, such as \"1A\" or \"Flat-1\".",
				reachedBy[r.Name].Name, r.Name, r.Label.Value)
		}
		if !c.residenceCanAnswer(r) {
			c.errorf(r.DeclRange, "No answering endpoint",
				"Door station %q can call residence %q, but nothing there answers: no user of the residence has app = true, no indoor monitor is bound to it, and none of its users has a desk phone. Add one, or stop the door station from calling it.",
				reachedBy[r.Name].Name, r.Name)
		}
	}
}

// checkLabels reports two residences with the same label on a keypad door
// station: a visitor keying the label could not tell them apart. Keypad
// panels reach every residence, so it runs once, for the first of them.
// Panels with buttons only are not checked: a visitor presses a button
// and never keys a label.
func (c *checker) checkLabels(ds *DoorStation) {
	byLabel := make(map[string]*lang.Residence, len(ds.Residences))
	for _, r := range ds.Residences {
		key := strings.ToLower(strings.TrimSpace(r.Label.Value))
		prev := byLabel[key]
		if prev == nil {
			byLabel[key] = r
			continue
		}
		c.errorf(r.Label.Range, "Duplicate residence label",
			"Residence %q has the label %q, like residence %q (%s), and door station %q lets visitors key any label, so they could not tell the two apart. Give each residence its own label (labels are compared without regard to case).",
			r.Name, r.Label.Value, prev.Name, at(prev.Label.Range), ds.Device.Name)
	}
}

// userCanAnswer reports whether a user has an endpoint of their own.
func (c *checker) userCanAnswer(u *lang.User) bool {
	return u.App.Value || len(c.out.UserPhones[u.Name]) > 0
}

// residenceCanAnswer reports whether a door call to a residence rings
// somewhere: a user of it with the app, a monitor bound to it, or a desk
// phone of one of its users.
func (c *checker) residenceCanAnswer(r *lang.Residence) bool {
	if len(c.out.ResidenceMonitors[r.Name]) > 0 {
		return true
	}
	for _, u := range c.out.ResidenceUsers[r.Name] {
		if c.userCanAnswer(u) {
			return true
		}
	}
	return false
}

// dialable reports whether a door-station code can be the user part of a
// SIP address as it is (RFC 3261 unreserved characters): the door station
// dials it, and the server routes on it.
func dialable(code string) bool {
	if code == "" {
		return false
	}
	for _, r := range code {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case strings.ContainsRune("-_.!~*'()", r):
		default:
			return false
		}
	}
	return true
}
