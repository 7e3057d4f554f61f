package compiler

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/hashicorp/hcl/v2"

	"switchboard/lang"
)

// maxShortDial bounds trunk short_dial: more digits than that is not a
// short form any more.
const maxShortDial = 10

// checkTrunks checks each trunk's host, port, number pool and secrets, and
// builds the pool of carrier numbers (c.pool).
func (c *checker) checkTrunks() {
	c.pool = map[string]*lang.Trunk{}
	declared := map[string]lang.Number{}
	for _, t := range c.cfg.Trunks {
		if t.Host.Set && !validHost(t.Host.Value) {
			c.errorf(t.Host.Range, "Invalid host",
				"The host of trunk %q, %q, is not a plausible host name or IP address. Write the carrier's SIP server, such as \"sip.carrier.example\"; the port goes in port.", t.Name, t.Host.Value)
		}
		if p, err := strconv.Atoi(t.Port.Value); t.Port.Set && (err != nil || p < 1 || p > 65535) {
			c.errorf(t.Port.Range, "Invalid port", "The port of trunk %q must be between 1 and 65535; %q is not.", t.Name, t.Port.Value)
		}
		if t.ShortDial.Set && (t.ShortDial.Value < 1 || t.ShortDial.Value > maxShortDial) {
			c.errorf(t.ShortDial.Range, "Invalid short_dial",
				"short_dial is how many trailing digits of each number users can dial internally, between 1 and %d; it is %d here. Remove it to turn short forms off.", maxShortDial, t.ShortDial.Value)
		}
		c.checkCredentials(t)
		c.checkUnassigned(t)
		for _, n := range t.Numbers {
			if !c.checkE164(n.Value, n.Range, "a number of trunk "+quote(t.Name)) {
				continue
			}
			if prev, ok := declared[n.Value]; ok {
				c.errorf(n.Range, "Duplicate trunk number",
					"%s is already in the pool of trunk %q (%s). A carrier number arrives on one trunk.", n.Value, c.pool[n.Value].Name, at(prev.Range))
				continue
			}
			declared[n.Value] = n
			c.pool[n.Value] = t
			c.poolOrder = append(c.poolOrder, n.Value)
		}
	}
	slices.Sort(c.poolOrder)
}

// checkUnassigned checks where calls to the spare numbers of t's pool go:
// straight to voicemail needs a user whose voicemail is on.
func (c *checker) checkUnassigned(t *lang.Trunk) {
	if !t.UnassignedVoicemail.Value {
		return
	}
	switch r := t.Unassigned; {
	case r == nil:
		c.errorf(t.UnassignedVoicemail.Range, "Voicemail for spare numbers without a user",
			"unassigned_voicemail sends the carrier's calls to spare numbers of trunk %q to a user's voicemail box, but the trunk names no user: add unassigned = user.<name>.", t.Name)
	case r.Kind != "user":
		c.errorf(t.UnassignedVoicemail.Range, "Voicemail for spare numbers without a user",
			"unassigned_voicemail needs unassigned to be a user, whose voicemail box takes the calls; %s is a residence and has no box. Name a user, or remove unassigned_voicemail to ring the residence.", r)
	default:
		if u := c.out.Users[r.Name]; u != nil && !u.Voicemail.Value {
			c.errorf(t.UnassignedVoicemail.Range, "Voicemail for spare numbers without a box",
				"unassigned_voicemail sends calls to spare numbers of trunk %q to user %q's voicemail, but that user has voicemail = false. Turn it on, or remove unassigned_voicemail to ring the user.", t.Name, r.Name)
		}
	}
}

// checkCredentials checks where a trunk's credentials come from. The
// compiled dial plan never holds a secret: the server reads the password
// from the variable it is written as, when it starts. A username is not a
// secret: written as text it goes into the dial plan, and from a variable
// the server reads it as it reads the password.
func (c *checker) checkCredentials(t *lang.Trunk) {
	if u := t.Username; u.Set && u.Source == "" && u.Sensitive {
		c.valueFree(hcl.DiagError, u.Range, "Trunk username not a variable",
			"The username of trunk %q is computed from a sensitive value, which the compiled dial plan must not hold. Write it as var.<name>, or as plain text: a username is not a secret.", t.Name)
	}
	p := t.Password
	switch {
	case !p.Set:
	case p.Literal:
		c.errorf(p.Range, "Secret written in config",
			"The password of trunk %q is written in the site files, so it would end up in git and in plans. Declare a variable with sensitive = true, write password = var.trunk_password, and supply the value with -var, -var-file or %strunk_password.",
			t.Name, lang.EnvVarPrefix)
	case p.Source == "":
		c.valueFree(hcl.DiagError, p.Range, "Trunk password not a variable",
			"The password of trunk %q must be written as var.<name> (a variable marked sensitive = true), so that the server reads it from -var, -var-file or %s<name> when it starts; the compiled dial plan never holds it.", t.Name, lang.EnvVarPrefix)
	case !p.Sensitive:
		c.valueFree(hcl.DiagWarning, p.Range, "Secret not marked sensitive",
			"The password of trunk %q comes from a variable that is not marked sensitive, so plans and logs may print it. Add sensitive = true to that variable block.", t.Name)
	}
}

// valueFree adds a diagnostic whose detail quotes no value, so that it is
// shown whole even about a sensitive one (see lang.QuotesNoValue).
func (c *checker) valueFree(sev hcl.DiagnosticSeverity, rng hcl.Range, summary, format string, args ...any) {
	c.add(sev, rng, summary, fmt.Sprintf(format, args...))
	c.diags[len(c.diags)-1].Extra = lang.QuotesNoValue{}
}
