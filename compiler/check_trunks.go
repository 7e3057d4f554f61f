package compiler

import (
	"slices"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

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
		c.checkSecret(t, "username", t.Username)
		c.checkSecret(t, "password", t.Password)
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

// checkSecret warns about trunk credentials that would end up in git or in
// plans: any literal, and a password from a variable not marked sensitive.
// A username from an ordinary variable is fine.
func (c *checker) checkSecret(t *lang.Trunk, attr string, s lang.Secret) {
	if !s.Set || s.Sensitive {
		return
	}
	if c.isLiteral(s.Range) {
		c.warnf(s.Range, "Secret written in config",
			"The %s of trunk %q is written in the site files, so it ends up in git and in plans. Declare a variable with sensitive = true, write %s = var.trunk_%s, and supply the value with -var, -var-file or %strunk_%s.",
			attr, t.Name, attr, attr, lang.EnvVarPrefix, attr)
		return
	}
	if attr == "password" {
		c.warnf(s.Range, "Secret not marked sensitive",
			"The password of trunk %q comes from a variable that is not marked sensitive, so plans and logs may print it. Add sensitive = true to that variable block.", t.Name)
	}
}

// isLiteral reports whether the expression at rng refers to nothing: no
// variable, local or other reference, just text written in the file.
func (c *checker) isLiteral(rng hcl.Range) bool {
	f := c.cfg.Files[rng.Filename]
	if f == nil || !rng.CanSliceBytes(f.Bytes) {
		return true
	}
	expr, diags := hclsyntax.ParseExpression(rng.SliceBytes(f.Bytes), rng.Filename, rng.Start)
	return diags.HasErrors() || len(expr.Variables()) == 0
}
