package plan

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/ir"
	"switchboard/compiler/state"
)

// RemovedAnswerers warns about door codes only removed people answered:
// a code of a door station that, at the last apply, rang people who are
// all gone from the site files now, and that rings no person any more,
// only devices (a flat's monitor). The site is valid — the monitor
// answers — so the checks cannot see it; only the plan has both the site
// and what was applied. It is what an installer leaves behind when a
// household moves out: visitors keep ringing an empty flat. A code that
// now rings someone else (the people who moved in) is an ordinary change
// the plan shows, and is not warned about.
//
// Each warning points at the code's button or keypad in the site files
// (the entry's origin).
func RemovedAnswerers(p *ir.Program, st *state.State) hcl.Diagnostics {
	if p == nil || st == nil {
		return nil
	}
	var diags hcl.Diagnostics
	for _, e := range p.Entries {
		dev := st.Object(string(KindDevice) + "." + e.Device)
		if dev == nil {
			continue
		}
		was, ok := stateString(dev, "entries."+e.Code)
		if !ok {
			continue // a new code
		}
		before := appliedPeople(st, was)
		if len(before) == 0 {
			continue
		}
		if slices.ContainsFunc(before, func(u string) bool { return p.User(u) != nil }) {
			continue
		}
		people, devices := ringing(p, e.Target)
		if len(people) > 0 {
			continue
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Door code answered only by removed people",
			Detail: fmt.Sprintf("At the last apply, code %q of door station %q rang %s, who %s no longer in the site files; now it rings no person, only %s. If nobody lives in residence %q any more, remove its button (or the residence); if someone has moved in, add them as users of it.",
				e.Code, e.Device, people2text(before), isAre(len(before)), devices2text(devices), e.Target.Name),
			Subject: originRange(e.Origin).Ptr(),
		})
	}
	return diags
}

// legLabel matches the state attribute of a ring leg's label.
var legLabel = regexp.MustCompile(`^ring\.legs\[[0-9]+\]\.label$`)

// appliedPeople are the users a door entry's target rang at the last
// apply, by the state: the user itself, or the people of the residence's
// ring legs.
func appliedPeople(st *state.State, target string) []string {
	ref, err := ir.ParseRef(target)
	if err != nil {
		return nil
	}
	switch ref.Kind {
	case ir.RefUser:
		return []string{ref.Name}
	case ir.RefResidence:
		o := st.Object(string(KindResidence) + "." + ref.Name)
		if o == nil {
			return nil
		}
		set := map[string]bool{}
		for k := range o.Attributes {
			if !legLabel.MatchString(k) {
				continue
			}
			if v, ok := stateString(o, k); ok {
				if r, err := ir.ParseRef(v); err == nil && r.Kind == ir.RefUser {
					set[r.Name] = true
				}
			}
		}
		return slices.Sorted(maps.Keys(set))
	}
	return nil
}

// ringing splits what a target rings now into people and devices.
func ringing(p *ir.Program, target ir.Ref) (people, devices []string) {
	switch target.Kind {
	case ir.RefUser:
		return []string{target.Name}, nil
	case ir.RefResidence:
		r := p.Residence(target.Name)
		if r == nil {
			return nil, nil
		}
		for _, leg := range r.Ring.Legs {
			ref, err := ir.ParseRef(leg.Label)
			switch {
			case err != nil:
			case ref.Kind == ir.RefUser && !slices.Contains(people, ref.Name):
				people = append(people, ref.Name)
			case ref.Kind == ir.RefDevice && !slices.Contains(devices, ref.Name):
				devices = append(devices, ref.Name)
			}
		}
	}
	return people, devices
}

// stateString decodes a state attribute holding a JSON string.
func stateString(o *state.Object, key string) (string, bool) {
	raw, ok := o.Attributes[key]
	if !ok {
		return "", false
	}
	var s string
	if err := json.Unmarshal([]byte(raw), &s); err != nil {
		return "", false
	}
	return s, true
}

func people2text(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("user %q", n)
	}
	return andList(quoted)
}

func devices2text(names []string) string {
	if len(names) == 0 {
		return "nothing"
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = fmt.Sprintf("device %q", n)
	}
	return andList(quoted)
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}

func andList(items []string) string {
	if len(items) <= 1 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// originRange is the source range an IR origin records.
func originRange(o ir.Origin) hcl.Range {
	return hcl.Range{Filename: o.File,
		Start: hcl.Pos{Line: o.Line, Column: o.Column, Byte: o.Byte},
		End:   hcl.Pos{Line: o.EndLine, Column: o.EndColumn, Byte: o.EndByte}}
}
