package ir

import (
	"fmt"
	"slices"
	"strings"
)

// Role is what a person is to a site: one of the users' roles, or the
// installer (who is not a user: the site's installer block).
type Role string

const (
	RoleOwner     Role = "owner"
	RoleAdmin     Role = "admin"
	RoleUser      Role = "user"
	RoleInstaller Role = "installer"
)

// Right is one thing a role may do. Every decision about who may do what
// — the portal's pages, who is sent the handover sheet, who may hand the
// site over — asks Can, so the table below is the whole policy.
type Right string

const (
	// RightAnswer: be rung by door stations and extensions, keep a
	// voicemail box.
	RightAnswer Right = "answer calls"
	// RightOwnSettings: change one's own settings, greeting and PIN in the
	// app and portal.
	RightOwnSettings Right = "change own settings"
	// RightSeeSite: see every residence, person, number and device of the
	// site (read only).
	RightSeeSite Right = "see the whole site"
	// RightInvite: have a person's invitation sent (again).
	RightInvite Right = "send invitations"
	// RightManagePeople: add, move and remove people and residences.
	RightManagePeople Right = "manage people"
	// RightBindDevices: bind, replace and configure devices.
	RightBindDevices Right = "bind devices"
	// RightReceiveHandover: be handed the site, and be sent its handover
	// sheet.
	RightReceiveHandover Right = "receive the handover"
	// RightHandOver: pass ownership and the site key on.
	RightHandOver Right = "hand the site over"
	// RightRekey: replace the site key (every password changes).
	RightRekey Right = "rekey the site"
)

// Rights are every right, in the order the table lists them.
var Rights = []Right{RightAnswer, RightOwnSettings, RightSeeSite, RightInvite, RightManagePeople, RightBindDevices, RightReceiveHandover, RightHandOver, RightRekey}

// RoleRights is one row of the roles table.
type RoleRights struct {
	Role   Role
	Rights []Right
	// Doc says who holds the role, in a sentence.
	Doc string
}

// Roles is the roles table: what each role may do. It is the one
// definition; docs/roles.md is rendered from it (RolesMarkdown) and a test
// keeps the two equal.
var Roles = []RoleRights{
	{RoleOwner, []Right{RightAnswer, RightOwnSettings, RightSeeSite, RightInvite, RightManagePeople, RightHandOver, RightRekey, RightReceiveHandover},
		"Exactly one person per site (or the installer, with owns_site = true): the one the site is handed over to."},
	{RoleAdmin, []Right{RightAnswer, RightOwnSettings, RightSeeSite, RightInvite, RightManagePeople},
		"Someone who runs the site day to day for the owner: a caretaker, a property manager. A few per site: more than max(2, residences/10) is a warning."},
	{RoleUser, []Right{RightAnswer, RightOwnSettings},
		"Everyone else: a resident or employee, with their own login."},
	{RoleInstaller, []Right{RightSeeSite, RightInvite, RightManagePeople, RightBindDevices, RightHandOver, RightRekey},
		"The installer's account (the site's installer block): binds devices and never answers calls; hands the site over to its owner."},
}

// Can reports whether role holds right. An unknown role holds none.
func Can(role Role, right Right) bool {
	for _, r := range Roles {
		if r.Role == role {
			return slices.Contains(r.Rights, right)
		}
	}
	return false
}

// RightsOf returns the rights of role, in table order.
func RightsOf(role Role) []Right {
	var out []Right
	for _, r := range Rights {
		if Can(role, r) {
			out = append(out, r)
		}
	}
	return out
}

// AdminLimit is how many admins a site of residences residences
// justifies: two, or one for every ten residences when that is more
// (max(2, residences/10)). More than that is a warning: every admin can
// add and remove people, so each is one more login to lose.
func AdminLimit(residences int) int { return max(2, residences/10) }

// RolesMarkdown renders the roles table as Markdown: one row per role, a
// column per right.
func RolesMarkdown() string {
	var b strings.Builder
	b.WriteString("# Roles\n\n")
	b.WriteString("<!-- Generated from compiler/ir/roles.go (ir.Roles); `UPDATE_GOLDEN=1 go test ./compiler/ir` rewrites it. -->\n\n")
	b.WriteString("What each role may do. The same table in code (`ir.Roles`, asked through `ir.Can`) decides\n")
	b.WriteString("who is sent the handover sheet and who may receive a site; a portal asks it too.\n\n")
	b.WriteString("| right |")
	for _, r := range Roles {
		fmt.Fprintf(&b, " %s |", r.Role)
	}
	b.WriteString("\n|---|")
	for range Roles {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, right := range Rights {
		fmt.Fprintf(&b, "| %s |", right)
		for _, r := range Roles {
			mark := ""
			if slices.Contains(r.Rights, right) {
				mark = "yes"
			}
			fmt.Fprintf(&b, " %s |", mark)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
	for _, r := range Roles {
		fmt.Fprintf(&b, "- **%s**: %s\n", r.Role, r.Doc)
	}
	fmt.Fprintf(&b, "\nA site has exactly one owner (a second `role = \"owner\"` is an error). An installer with `owns_site = true` beside an owner user is a warning: remove `owns_site` once the site is handed over. More admins than max(2, residences/10) is a warning (a site of 50 residences justifies %d, of 300 %d).\n", AdminLimit(50), AdminLimit(300))
	return b.String()
}
