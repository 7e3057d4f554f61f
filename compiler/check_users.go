package compiler

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/ir"
	"switchboard/lang"
)

// checkResidences checks the residences' own attributes; their labels and
// answering endpoints are checked per door station (checkDoorStations).
func (c *checker) checkResidences() {
	for _, r := range c.cfg.Residences {
		c.checkDuration(r.RingTimeout, ringTimeoutRange, "ring_timeout", "residence", r.Name)
	}
}

// checkDuration reports a set duration outside its sane range.
func (c *checker) checkDuration(d lang.Duration, want durationRange, attr, kind, name string) {
	if d.Set && !want.contains(d.Value) {
		c.errorf(d.Range, "Duration out of range",
			"The %s of %s %q is %s; it must be between %s and %s.", attr, kind, name, d.Raw, formatDuration(want.min), formatDuration(want.max))
	}
}

// checkE164 reports a phone number that is not in E.164 form.
func (c *checker) checkE164(number string, rng hcl.Range, what string) bool {
	if validE164(number) {
		return true
	}
	detail := "write " + e164Hint + "."
	if sug := suggestE164(number); sug != "" {
		detail += " Did you mean " + quote(sug) + "?"
	}
	c.errorf(rng, "Invalid phone number", "%q, %s, is not in E.164 form: %s", number, what, detail)
	return false
}

// checkUsers enforces one account per real person: well-formed, unique
// logins and mobiles, none shared with the installer, and a documented
// owner.
func (c *checker) checkUsers() {
	var installerEmail string
	if c.site != nil && c.site.Installer != nil && c.site.Installer.Email.Set {
		installerEmail = strings.ToLower(c.site.Installer.Email.Value)
	}
	emails := map[string]*lang.User{}
	mobiles := map[string]*lang.User{}
	var owners, admins []*lang.User
	for _, u := range c.cfg.Users {
		switch u.Role.Value {
		case lang.RoleOwner:
			owners = append(owners, u)
		case lang.RoleAdmin:
			admins = append(admins, u)
		}
		c.checkReachable(u)
		if u.Email.Set {
			switch key := strings.ToLower(u.Email.Value); {
			case !validEmail(u.Email.Value):
				c.errorf(u.Email.Range, "Invalid email address", "The login email of user %q, %q, is not %s.", u.Name, u.Email.Value, emailHint)
			case key == installerEmail:
				c.errorf(u.Email.Range, "Installer email used by a user",
					"User %q logs in with %q, the installer's email (%s). The installer's account binds devices and is handed over to nobody; give the user a login of their own. If the installer is the site's owner, remove this user and set owns_site = true in the installer block instead.",
					u.Name, u.Email.Value, at(c.site.Installer.Email.Range))
			case emails[key] != nil:
				prev := emails[key]
				c.errorf(u.Email.Range, "Duplicate email",
					"User %q already logs in with %q (%s). Every person has a login of their own; emails are compared without regard to case.", prev.Name, prev.Email.Value, at(prev.Email.Range))
			default:
				emails[key] = u
			}
		}
		if u.NotifyEmail.Set && !validEmail(u.NotifyEmail.Value) {
			c.errorf(u.NotifyEmail.Range, "Invalid email address", "The notify_email of user %q, %q, is not %s.", u.Name, u.NotifyEmail.Value, emailHint)
		}
		if u.Mobile.Set && c.checkE164(u.Mobile.Value, u.Mobile.Range, "the mobile number of user "+quote(u.Name)) {
			if prev := mobiles[u.Mobile.Value]; prev != nil {
				c.errorf(u.Mobile.Range, "Duplicate mobile number",
					"User %q already has the mobile number %s (%s). A mobile identifies one person; give each user their own.", prev.Name, u.Mobile.Value, at(prev.Mobile.Range))
			} else {
				mobiles[u.Mobile.Value] = u
			}
		}
		c.checkDuration(u.RingTimeout, ringTimeoutRange, "ring_timeout", "user", u.Name)
	}

	c.checkOwnership(owners, admins)
}

// checkOwnership: exactly one owner, the installer's owns_site only when
// no user owns the site, and no more admins than the site justifies
// (ir.AdminLimit).
func (c *checker) checkOwnership(owners, admins []*lang.User) {
	for _, u := range owners[min(1, len(owners)):] {
		first := owners[0]
		c.errorf(u.Role.Range, "Second site owner",
			"User %q (%s) and user %q (%s) both have role = \"owner\". A site has exactly one owner: the person it is handed over to, who receives the handover sheet and may hand it on. Make one of them \"admin\": an admin sees the whole site and manages people (see docs/roles.md).",
			first.Name, at(first.Role.Range), u.Name, at(u.Role.Range))
	}
	if limit := ir.AdminLimit(len(c.cfg.Residences)); len(admins) > limit {
		extra := admins[limit]
		c.warnf(extra.Role.Range, "More admins than the site needs",
			"The site has %d admins and %d residences; a site justifies max(2, residences/10) = %d. Every admin can add and remove people and see the whole site, so each one more is one more login to lose. Make those who only live or work here role = \"user\".",
			len(admins), len(c.cfg.Residences), limit)
	}
	if c.site == nil || c.site.Installer == nil {
		return
	}
	if in := c.site.Installer; len(owners) > 0 && in.OwnsSite.Value {
		c.warnf(in.OwnsSite.Range, "Two site owners",
			"owns_site = true says the installer %q owns the site, and user %q has role = \"owner\" (%s). If the site is being handed over, remove owns_site: the next apply records the handover from the installer to %s and mails them the handover sheet (switchboard handover prints it). If the installer keeps the site, make the user \"admin\".",
			in.Company.Value, owners[0].Name, at(owners[0].Role.Range), owners[0].Name)
	}
	if len(owners) > 0 {
		return
	}
	if in := c.site.Installer; in.OwnsSite.Value {
		c.warnf(in.OwnsSite.Range, "Installer owns the site",
			"No user has role = \"owner\", and owns_site = true records that the installer %q owns the site. That is fine for a small site run by its installer; the handover sheet will say so. Once the site is handed over, give the new owner role = \"owner\" and remove owns_site.", in.Company.Value)
		return
	}
	c.errorf(c.site.DeclRange, "No site owner",
		"Every site has a documented owner: give one user role = \"owner\". The owner is a real person with their own login, not the installer's account. If the installer really owns the site, add owns_site = true to the installer block.")
}

// checkReachable: a person is someone the installer can reach, by e-mail
// (their login and invitation) or mobile (an invitation handed over in
// person), and is named in full: their name is what the invitation
// greets, what the directories and BLF keys list, the caller ID their
// calls present and what the handover sheet calls them.
func (c *checker) checkReachable(u *lang.User) {
	if !u.Email.Set && !u.Mobile.Set {
		c.errorf(u.DeclRange, "No e-mail or mobile",
			"User %q has neither an email nor a mobile number. Every person needs one: an email is their login and where their invitation goes; with only a mobile, the invitation is handed over in person. Add email = \"…\" or mobile = \"+…\".", u.Name)
	}
	var missing []string
	if !u.FirstName.Set || u.FirstName.Value == "" {
		missing = append(missing, "first_name")
	}
	if !u.LastName.Set || u.LastName.Value == "" {
		missing = append(missing, "last_name")
	}
	if len(missing) > 0 {
		c.warnf(u.DeclRange, "Missing name",
			"User %q has no %s. Their name shows in their invitation, in the directories and on the BLF keys of the site's phones, as the caller ID of their calls and on the handover sheet; without it they appear as %q. Add %s.",
			u.Name, strings.Join(missing, " or "), u.DisplayName(), missingNameHint(missing))
	}
}

// missingNameHint is what to write for the missing name attributes.
func missingNameHint(missing []string) string {
	parts := make([]string, len(missing))
	for i, m := range missing {
		parts[i] = m + ` = "…"`
	}
	return strings.Join(parts, " and ")
}

// checkDDIs checks the carrier numbers users list: each from a trunk's
// pool and given to one user at most.
func (c *checker) checkDDIs() {
	type assignment struct {
		user *lang.User
		rng  hcl.Range
	}
	assigned := map[string]assignment{}
	for _, u := range c.cfg.Users {
		for _, n := range u.Numbers {
			if !c.checkE164(n.Value, n.Range, "a number of user "+quote(u.Name)) {
				continue
			}
			if prev, ok := assigned[n.Value]; ok {
				c.errorf(n.Range, "Number assigned twice",
					"%s is already assigned to user %q (%s). A carrier number rings one user; to ring several people, give them a residence.", n.Value, prev.user.Name, at(prev.rng))
				continue
			}
			assigned[n.Value] = assignment{u, n.Range}
			if c.pool[n.Value] == nil {
				c.errorf(n.Range, "Number not in a trunk's pool",
					"User %q lists %s, but no trunk has it among its numbers. Add it to the numbers of the trunk that carries it, or correct the number.", u.Name, n.Value)
			}
		}
	}
	for _, num := range c.poolOrder {
		t := c.pool[num]
		d := DDI{Number: num, Trunk: t}
		if a, ok := assigned[num]; ok {
			d.User = a.user
			if n := t.ShortDial.Value; n > 0 && n <= maxShortDial && n < len(num)-1 {
				d.Short = num[len(num)-n:]
			}
		}
		c.out.DDIs = append(c.out.DDIs, d)
		if d.Short != "" {
			c.shortForms = append(c.shortForms, DialEntry{
				Number: d.Short, Kind: DialShortForm, User: d.User.Name, DDI: num, Trunk: t.Name, Range: assigned[num].rng,
			})
		}
	}
}

// checkUsersReached warns about a person nothing of theirs can ring: no
// residence (so no monitor or family app answers for them) and no
// endpoint of their own. Such a user validates, gets an extension and a
// mailbox, and yet no call ever reaches them. A door button that calls
// them directly has its own warning at the button (checkDoorStations), so
// they are not warned about twice.
func (c *checker) checkUsersReached() {
	called := map[string]bool{}
	for _, ds := range c.out.DoorStations {
		for _, u := range ds.Users {
			called[u.Name] = true
		}
	}
	for _, u := range c.cfg.Users {
		if u.Residence != nil || c.userCanAnswer(u) || called[u.Name] {
			continue
		}
		what := "calls to them ring nowhere"
		if ext := c.out.Extensions[u.Name]; ext != "" {
			what = "calls to extension " + ext + " ring nowhere"
		}
		c.warnf(u.DeclRange, "User with no endpoint",
			"User %q belongs to no residence and has no app (app = true) and no desk phone (a device with user = user.%s), so %s and no door station can reach them. Give them an app or a desk phone, or a residence whose monitor answers for them. If they only use the portal, nothing needs to ring for them and this warning can be ignored.",
			u.Name, u.Name, what)
	}
}

// checkPresentedNumbers warns when residents present another household's
// number. A call out presents the caller's own number (their lowest DDI,
// on the trunk holding it); a user without one presents the first number
// of the site's first trunk by name (runtime/b2bua callerID and
// runtime/routing outboundTrunk). When that number is another user's own,
// every resident without a number presents it: whoever they call sees,
// and calls back, someone of another household. Users without a
// residence (an office's staff) presenting the main number is the usual
// arrangement, and so is one household sharing a member's number, so
// neither is warned about.
func (c *checker) checkPresentedNumbers() {
	var trunk *lang.Trunk
	for _, t := range c.cfg.Trunks {
		if trunk == nil || t.Name < trunk.Name {
			trunk = t
		}
	}
	if trunk == nil {
		return
	}
	var first string
	for _, n := range trunk.Numbers {
		if first == "" || n.Value < first {
			first = n.Value
		}
	}
	var holder *lang.User
	for _, d := range c.out.DDIs {
		if d.Number == first {
			holder = d.User
		}
	}
	if holder == nil {
		return
	}
	var rng hcl.Range
	for _, n := range holder.Numbers {
		if n.Value == first {
			rng = n.Range
		}
	}
	var presenting []string
	for _, u := range c.cfg.Users {
		if u == holder || u.Residence == nil || len(u.Numbers) > 0 || !c.userCanAnswer(u) {
			continue
		}
		if holder.Residence != nil && holder.Residence.Name == u.Residence.Name {
			continue
		}
		presenting = append(presenting, fmt.Sprintf("user %q (residence %q)", u.Name, u.Residence.Name))
	}
	if len(presenting) == 0 {
		return
	}
	const named = 3
	who := presenting
	more := ""
	if len(who) > named {
		more = fmt.Sprintf(" and %d more", len(who)-named)
		who = who[:named]
	}
	c.warnf(rng, "Residents present another's number",
		"Users without a number of their own call out over trunk %q presenting its first number, %s, and that is user %q's own: whoever they call sees it and, calling back, reaches %s. Residents of other households present it: %s%s. Give each of them a number of their own from the trunk's pool (numbers = [...]), or make the pool's first number one that no user holds (calls out present it; calls to it are refused).",
		trunk.Name, first, holder.Name, holder.Name, strings.Join(who, ", "), more)
}
