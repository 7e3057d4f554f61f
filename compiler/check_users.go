package compiler

import (
	"strings"

	"github.com/hashicorp/hcl/v2"

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
	owners := 0
	for _, u := range c.cfg.Users {
		if u.Role.Value == lang.RoleOwner {
			owners++
		}
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

	if owners > 0 || c.site == nil || c.site.Installer == nil {
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
