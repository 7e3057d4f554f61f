package plan

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"switchboard/compiler/ir"
)

// summarise says what the plan changes for people, one line per object
// (two for a user who also gains or loses door stations), in plan order.
func summarise(p *Plan) []string {
	var lines []string
	for _, c := range p.Changes {
		if c.Drifted && len(c.Attributes) == 0 {
			lines = append(lines, fmt.Sprintf("%s %s: its settings changed on the device since the last apply; they are applied again", c.Kind, c.Name))
			continue
		}
		if c.Interrupted && len(c.Attributes) == 0 {
			lines = append(lines, fmt.Sprintf("%s %s: an earlier apply did not finish it; it is applied again", c.Kind, c.Name))
			continue
		}
		switch c.Kind {
		case KindUser:
			lines = append(lines, rekeyReason(p, userLines(c, p.Changes))...)
		case KindDevice:
			lines = append(lines, rekeyReason(p, []string{deviceLine(c)})...)
		case KindResidence:
			lines = append(lines, genericLine(c, "residence "+c.Label))
		case KindSite:
			lines = append(lines, genericLine(c, "site "+quoteName(c.Label)))
		default:
			lines = append(lines, genericLine(c, string(c.Kind)+" "+c.Name))
		}
	}
	return lines
}

// reachedBy lists where a user's new display name shows: their app account
// and every device of the plan one of whose changed settings becomes that
// name (a desk phone's line and account, a directory, phone book or
// monitor contact), in plan order.
func reachedBy(c Change, all []Change) []string {
	name := after(c, "display_name")
	var out []string
	for _, a := range c.Attributes {
		if a.Name == "app.display_name" && a.After == name {
			out = append(out, "app account")
		}
	}
	for _, d := range all {
		if d.Kind != KindDevice || d.Action != Update {
			continue
		}
		for _, a := range d.Attributes {
			if a.After == name && a.Before != name {
				out = append(out, d.Name)
				break
			}
		}
	}
	return out
}

// rekeyReason says why passwords change when the site key was rekeyed:
// no rotation counter moved, so the line would otherwise not say.
func rekeyReason(p *Plan, lines []string) []string {
	if !p.Rekeyed {
		return lines
	}
	for i, l := range lines {
		l = strings.Replace(l, "new SIP password", "new SIP password (site key rekeyed)", 1)
		if !strings.Contains(l, "(site key rekeyed)") {
			l = strings.Replace(l, "new password", "new password (site key rekeyed)", 1)
		}
		lines[i] = l
	}
	return lines
}

func userLines(c Change, all []Change) []string {
	who := c.Label
	switch c.Action {
	case Create:
		line := "new user " + who
		if ext := unquote(after(c, "extension")); ext != "" {
			line += ", extension " + ext
		}
		if to := invitationTo(after(c, AttrInvitation)); to != "" {
			line += ": invitation will be sent to " + to
		} else if after(c, AttrInvitation) == InvitationInPerson {
			line += ": invitation to hand over in person (no e-mail address)"
		}
		return []string{line}
	case Delete:
		line := who + " is removed: logins revoked"
		if ds := list(before(c, AttrDoorStations)); len(ds) > 0 {
			line += ", stops receiving calls from " + strings.Join(ds, ", ")
		}
		lines := []string{line}
		if c.Offboard != nil {
			// The archive's end is dated by apply; the plan says how long.
			for _, s := range c.Offboard.Steps(time.Time{})[1:] {
				lines = append(lines, who+": "+s)
			}
		}
		return lines
	}
	var parts, lines []string
	changed := map[string]bool{}
	for _, a := range c.Attributes {
		changed[a.Name] = true
	}
	if changed["display_name"] {
		line := fmt.Sprintf("%s is now called %s", unquote(before(c, "display_name")), who)
		if where := reachedBy(c, all); len(where) > 0 {
			line += "; the name changes on " + strings.Join(where, ", ")
		}
		lines = append(lines, line)
	}
	if changed["extension"] {
		b, a := unquote(before(c, "extension")), unquote(after(c, "extension"))
		switch {
		case b == "":
			parts = append(parts, "gets extension "+a)
		case a == "":
			parts = append(parts, "extension "+b+" removed")
		default:
			parts = append(parts, "extension "+b+" → "+a)
		}
	}
	if changed["residence"] {
		parts = append(parts, fmt.Sprintf("moves from residence %s to %s", orNone(unquote(before(c, "residence"))), orNone(unquote(after(c, "residence")))))
	}
	if changed["email"] {
		parts = append(parts, "login email becomes "+orNone(unquote(after(c, "email"))))
	}
	if changed["role"] {
		parts = append(parts, "role "+unquote(before(c, "role"))+" → "+unquote(after(c, "role")))
	}
	newPassword := changed["portal.password"] || changed["app.password"]
	if newPassword {
		parts = append(parts, "new password")
	}
	if to := invitationTo(after(c, AttrInvitation)); to != "" && (changed[AttrInvitation] || newPassword) {
		line := "invitation will be sent to " + to
		if held, ok := strings.CutPrefix(unquote(before(c, AttrInvitation)), InvitationHeldPrefix); ok {
			line = "invitation pending (held at the last apply: " + held + "); it will be sent to " + to + " once the device is reached"
		}
		parts = append(parts, line)
	}
	if after(c, AttrInvitation) == InvitationInPerson && (changed[AttrInvitation] || newPassword) {
		parts = append(parts, "invitation to hand over in person (no e-mail address)")
	}
	handled := map[string]bool{"display_name": true, "app.display_name": changed["display_name"], "extension": true, "residence": true, "email": true, "role": true,
		"portal.password": true, "app.password": true, AttrInvitation: true, AttrDoorStations: true, "numbers": true,
		// A rotation shows as the new password it gives.
		"rotation": true, "app.rotation": true}
	if other := topics(c, handled); len(other) > 0 {
		parts = append(parts, strings.Join(other, ", ")+" change")
	}
	if len(parts) > 0 {
		lines = append(lines, who+": "+strings.Join(parts, "; "))
	}
	if changed[AttrDoorStations] {
		b, a := list(before(c, AttrDoorStations)), list(after(c, AttrDoorStations))
		if lost := minus(b, a); len(lost) > 0 {
			lines = append(lines, who+" stops receiving calls from "+strings.Join(lost, ", "))
		}
		if gained := minus(a, b); len(gained) > 0 {
			lines = append(lines, who+" starts receiving calls from "+strings.Join(gained, ", "))
		}
	}
	if len(lines) == 0 {
		lines = append(lines, who+": settings change")
	}
	return lines
}

func deviceLine(c Change) string {
	what := "device"
	var k ir.DeviceKind
	if c.After != nil {
		k = c.After.DeviceKind
	} else {
		k = ir.DeviceKind(unquote(before(c, "kind")))
	}
	switch k {
	case ir.DoorStation:
		what = "door station"
	case ir.Monitor:
		what = "indoor monitor"
	case ir.Phone:
		what = "desk phone"
	}
	switch c.Action {
	case Create:
		return fmt.Sprintf("new %s %s (%s)", what, c.Name, unquote(after(c, "model")))
	case Delete:
		return fmt.Sprintf("%s %s is removed: its files are withdrawn and its login revoked", what, c.Name)
	case Replace:
		var why []string
		for _, a := range c.ReplacedBecause {
			why = append(why, fmt.Sprintf("%s %s → %s", a, unquote(before(c, a)), unquote(after(c, a))))
		}
		return fmt.Sprintf("%s %s is replaced (%s)", what, c.Name, strings.Join(why, ", "))
	}
	var parts []string
	seen := map[string]bool{}
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			parts = append(parts, s)
		}
	}
	for _, a := range c.Attributes {
		switch top, field := split(a.Name); {
		case top == "relays" && field == "dtmf":
			add("relay code changes")
		case top == "relays" && field == "hold":
			add("relay hold time changes")
		case top == "relays":
			add("relays change")
		case top == "buttons":
			add("buttons change")
		case top == "entries":
			add("door entries change")
		case a.Name == "account.password":
			add("new SIP password")
		case a.Name == "account.rotation":
		case top == "contacts":
			add("contacts change")
		case top == "line_keys":
			add("line keys change")
		case top == "sip":
			add("SIP server settings change")
		case a.Name == AttrFiles || a.Name == "files":
		default:
			add(strings.ReplaceAll(top, "_", " ") + " changes")
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "provisioning files change")
	}
	return c.Name + ": " + strings.Join(parts, ", ")
}

func genericLine(c Change, what string) string {
	switch c.Action {
	case Create:
		return "new " + what
	case Delete:
		return what + " is removed"
	}
	t := topics(c, nil)
	if len(t) == 0 {
		return what + ": provisioning files change"
	}
	return what + ": " + strings.Join(t, ", ") + " change"
}

// topics lists the top-level names of the changed attributes, in words.
func topics(c Change, skip map[string]bool) []string {
	var out []string
	for _, a := range c.Attributes {
		if skip[a.Name] || a.Name == AttrFiles || a.Name == "files" {
			continue
		}
		top, _ := split(a.Name)
		if skip[top] {
			continue
		}
		word := topicWords[top]
		if word == "" {
			word = strings.ReplaceAll(top, "_", " ")
		}
		if !slices.Contains(out, word) {
			out = append(out, word)
		}
	}
	return out
}

var topicWords = map[string]string{
	"ring":      "ring settings",
	"app":       "app account",
	"mailbox":   "voicemail",
	"directory": "directory listing",
	"ddis":      "carrier numbers",
	"endpoints": "endpoints",
	"numbers":   "dialled numbers",
	"rotation":  "login rotation",
}

// split returns the first path element (without an index) and the last.
func split(name string) (top, field string) {
	top, _, _ = strings.Cut(name, ".")
	if i := strings.IndexByte(top, '['); i >= 0 {
		top = top[:i]
	}
	field = name[strings.LastIndexByte(name, '.')+1:]
	return top, field
}

func before(c Change, name string) string {
	if c.Before == nil {
		return ""
	}
	return c.Before.Attributes[name]
}

func after(c Change, name string) string {
	if c.After == nil {
		return ""
	}
	return c.After.Attributes[name]
}

// unquote decodes a JSON-encoded attribute value to its text: strings
// without quotes, other values as written.
func unquote(v string) string {
	var s string
	if err := json.Unmarshal([]byte(v), &s); err == nil {
		return s
	}
	return v
}

func list(v string) []string {
	var xs []string
	json.Unmarshal([]byte(v), &xs)
	return xs
}

func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if !slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func invitationTo(v string) string {
	s, _ := strings.CutPrefix(unquote(v), "sent to ")
	if s == unquote(v) {
		return ""
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func quoteName(s string) string { return fmt.Sprintf("%q", s) }

// InvitationTo returns the address of an AttrInvitation value `"sent to
// ADDR"`, or "".
func InvitationTo(v string) string { return invitationTo(v) }

// Unquote decodes a JSON-encoded attribute value to its text.
func Unquote(v string) string { return unquote(v) }
