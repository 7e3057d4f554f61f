package ir

import (
	"cmp"
	"slices"
	"strings"
)

// Sort puts every keyed slice of p, at every level, into canonical order:
// by Name for named nodes, by Number for numbers and DDIs, by (Device, Code)
// for entries, by Index for buttons, relays and line keys, and plain string
// order for lists of names. Ring legs and NTP servers keep their order.
// Sort is idempotent.
func (p *Program) Sort() {
	slices.Sort(p.Site.Emergency)
	slices.SortFunc(p.Accounts, func(a, b Account) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(p.Users, func(a, b User) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(p.Retired, func(a, b Retired) int { return strings.Compare(a.Identity, b.Identity) })
	for i := range p.Users {
		u := &p.Users[i]
		slices.Sort(u.Endpoints)
		sortRing(&u.Ring)
	}
	slices.SortFunc(p.Residences, func(a, b Residence) int { return strings.Compare(a.Name, b.Name) })
	for i := range p.Residences {
		r := &p.Residences[i]
		slices.Sort(r.Users)
		slices.Sort(r.Monitors)
		sortRing(&r.Ring)
	}
	slices.SortFunc(p.Mailboxes, func(a, b Mailbox) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(p.Numbers, func(a, b Number) int { return strings.Compare(a.Number, b.Number) })
	slices.SortFunc(p.Entries, compareEntry)
	slices.SortFunc(p.DDIs, func(a, b DDI) int { return strings.Compare(a.Number, b.Number) })
	slices.SortFunc(p.Conferences, func(a, b Conference) int { return strings.Compare(a.Name, b.Name) })
	slices.SortFunc(p.Trunks, func(a, b Trunk) int { return strings.Compare(a.Name, b.Name) })
	for i := range p.Trunks {
		slices.Sort(p.Trunks[i].DDIs)
	}
	slices.SortFunc(p.Devices, func(a, b Device) int { return strings.Compare(a.Name, b.Name) })
	for i := range p.Devices {
		d := &p.Devices[i]
		slices.SortFunc(d.Buttons, func(a, b Button) int { return cmp.Compare(a.Index, b.Index) })
		slices.SortFunc(d.Relays, func(a, b Relay) int { return cmp.Compare(a.Index, b.Index) })
		for j := range d.Relays {
			slices.Sort(d.Relays[j].Trigger.Accounts)
		}
		slices.SortFunc(d.Contacts, compareContact)
		slices.SortFunc(d.LineKeys, func(a, b LineKey) int { return cmp.Compare(a.Index, b.Index) })
	}
}

func sortRing(r *Ring) {
	for i := range r.Legs {
		slices.Sort(r.Legs[i].Accounts)
	}
}

func compareEntry(a, b Entry) int {
	if c := strings.Compare(a.Device, b.Device); c != 0 {
		return c
	}
	return strings.Compare(a.Code, b.Code)
}

func compareContact(a, b Contact) int {
	if c := strings.Compare(a.Name, b.Name); c != 0 {
		return c
	}
	return strings.Compare(a.Number, b.Number)
}

// find looks name up in a slice sorted by key, without copying elements.
func find[T any](s []T, key func(*T) string, name string) *T {
	lo, hi := 0, len(s)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if key(&s[m]) < name {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(s) && key(&s[lo]) == name {
		return &s[lo]
	}
	return nil
}

// Account returns the account with the given name, or nil. Like the other
// lookups it relies on canonical order (Sort).
func (p *Program) Account(name string) *Account {
	return find(p.Accounts, func(a *Account) string { return a.Name }, name)
}

// User returns the named user, or nil.
func (p *Program) User(name string) *User {
	return find(p.Users, func(u *User) string { return u.Name }, name)
}

// Residence returns the named residence, or nil.
func (p *Program) Residence(name string) *Residence {
	return find(p.Residences, func(r *Residence) string { return r.Name }, name)
}

// Mailbox returns the named mailbox, or nil.
func (p *Program) Mailbox(name string) *Mailbox {
	return find(p.Mailboxes, func(m *Mailbox) string { return m.Name }, name)
}

// Device returns the named device, or nil.
func (p *Program) Device(name string) *Device {
	return find(p.Devices, func(d *Device) string { return d.Name }, name)
}

// Trunk returns the named trunk, or nil.
func (p *Program) Trunk(name string) *Trunk {
	return find(p.Trunks, func(t *Trunk) string { return t.Name }, name)
}

// Conference returns the named conference room, or nil.
func (p *Program) Conference(name string) *Conference {
	return find(p.Conferences, func(c *Conference) string { return c.Name }, name)
}

// Number returns the dial-plan entry for a dialled number, or nil.
func (p *Program) Number(number string) *Number {
	return find(p.Numbers, func(n *Number) string { return n.Number }, number)
}

// Entry returns the entry point of door station device for code, or nil.
func (p *Program) Entry(device, code string) *Entry {
	i, ok := slices.BinarySearchFunc(p.Entries, Entry{Device: device, Code: code}, compareEntry)
	if !ok {
		return nil
	}
	return &p.Entries[i]
}

// VoicemailAccess returns the number whose action is ActionVoicemail, or "".
func (p *Program) VoicemailAccess() string {
	for _, n := range p.Numbers {
		if n.Action.Kind == ActionVoicemail {
			return n.Number
		}
	}
	return ""
}
