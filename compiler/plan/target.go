package plan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"switchboard/compiler/state"
)

// ParseAddress checks that addr is "<kind>.<name>" with a known kind.
func ParseAddress(addr string) (Kind, string, error) {
	kind, name, ok := strings.Cut(addr, ".")
	if !ok || name == "" || !slices.Contains(applyOrder, Kind(kind)) {
		var kinds []string
		for _, k := range applyOrder {
			kinds = append(kinds, string(k))
		}
		return "", "", fmt.Errorf("%q is not an object address: want KIND.NAME, as in device.gate or user.anne (kinds: %s)", addr, strings.Join(kinds, ", "))
	}
	return Kind(kind), name, nil
}

// Target restricts p to the changes of the objects at addrs and of the
// objects that depend on them: those with an attribute naming one of them
// (a desk phone's user, a monitor's residence, a user's door stations, a
// conference room's owner, a dialled number that rings it), in the desired
// site or in the state. It goes one step: what depends on a dependent is
// left out, or targeting one person would take in their whole building.
// Every address must be an object of the desired site or of the state;
// the error names those that are not.
//
// The returned plan records its targets and how many changes it left out,
// so that it can say it is partial.
func Target(p *Plan, d *Desired, st *state.State, addrs []string) (*Plan, error) {
	var unknown []string
	for _, a := range addrs {
		if d.Object(a) == nil && st.Object(a) == nil {
			unknown = append(unknown, a)
		}
	}
	if len(unknown) > 0 {
		return nil, fmt.Errorf("no object %s in the site or its state", strings.Join(quoteAll(unknown), ", "))
	}
	keep := map[string]bool{}
	for _, a := range addrs {
		keep[a] = true
	}
	for _, c := range p.Changes {
		if keep[c.Address] {
			continue
		}
		for _, attrs := range []map[string]string{attributesOf(c.Before), attributesOf(c.After)} {
			if dependsOn(attrs, addrs) {
				keep[c.Address] = true
			}
		}
	}
	out := *p
	out.Changes = nil
	for _, c := range p.Changes {
		if keep[c.Address] {
			out.Changes = append(out.Changes, c)
		}
	}
	out.Targets = slices.Compact(slices.Sorted(slices.Values(addrs)))
	out.LeftOut = len(p.Changes) - len(out.Changes)
	// A partial plan that leaves the site out moves no ownership; its
	// passwords still change because the key did (Rekeyed stays).
	out.Handover = handover(&out)
	out.Summary = summarise(&out)
	return &out, nil
}

func attributesOf(o any) map[string]string {
	switch x := o.(type) {
	case *state.Object:
		if x != nil {
			return x.Attributes
		}
	case *Object:
		if x != nil {
			return x.Attributes
		}
	}
	return nil
}

// refFields maps an attribute's last path element to the kind of object
// its value names by bare name.
var refFields = map[string]Kind{
	"residence": KindResidence, "residences": KindResidence,
	"user": KindUser, "users": KindUser,
	"device": KindDevice, "devices": KindDevice, AttrDoorStations: KindDevice,
	"trunk": KindTrunk,
}

// dependsOn reports whether an attribute names one of addrs: a value (or
// a word of it, as in "ring user.mary") that is the address, a bare name
// in an attribute that holds names of that kind, or the trunk a carrier
// number comes in by ("+35315550101 via carrier").
func dependsOn(attrs map[string]string, addrs []string) bool {
	for name, v := range attrs {
		field := name[strings.LastIndexByte(name, '.')+1:]
		kind := refFields[field]
		for _, s := range stringsIn(v) {
			for _, a := range addrs {
				k, n, _ := strings.Cut(a, ".")
				if Kind(k) == kind && s == n {
					return true
				}
				words := strings.Fields(s)
				if slices.Contains(words, a) {
					return true
				}
				if i := slices.Index(words, "via"); Kind(k) == KindTrunk && i >= 0 && i+1 < len(words) && words[i+1] == n {
					return true
				}
			}
		}
	}
	return false
}

// stringsIn returns the string, or the strings of a list, a JSON value
// holds.
func stringsIn(v string) []string {
	var s string
	if json.Unmarshal([]byte(v), &s) == nil {
		return []string{s}
	}
	var list []string
	if json.Unmarshal([]byte(v), &list) == nil {
		return list
	}
	return nil
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}
