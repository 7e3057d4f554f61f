package b2bua

import (
	"strings"

	"github.com/emiago/sipgo/sip"

	"switchboard/compiler/ir"
)

// presented is who a call presents to the site's callees, as the From of
// each leg: "Display Name" <sip:user@domain>.
//
//   - A call from a carrier keeps the carrier's number and the name it
//     gave, if any: the callee sees who rings from outside.
//   - A door station presents the entry it called through: its location
//     and button ("Front gate, button 1", the IR's Entry.CallerName).
//   - Any other account presents its IR caller ID: a person's name and
//     extension, so that the callee can call back by the number shown; a
//     device of nobody its location and account.
//
// Calls out to a carrier replace both (outbound.address): nothing of this
// leaves the site.
func (c *call) presented() (name, user string) {
	if strings.HasPrefix(c.caller, ir.AccountName(ir.AccountTrunk, "")) {
		if f := c.inv.From(); f != nil {
			return f.DisplayName, f.Address.User
		}
		return "", "anonymous"
	}
	name, user = "", c.caller
	if a := c.st.program.Account(c.caller); a != nil {
		name = a.CallerName
		if name == "" {
			name = a.DisplayName
		}
		if a.Username != "" {
			user = a.Username
		}
		if a.CallerNumber != "" {
			user = a.CallerNumber
		}
	}
	if d := c.dec.Door; d != nil && !d.Monitoring && d.Caller != "" {
		name = d.Caller
	}
	return name, user
}

// presentedFrom is the From header of a leg to a callee of the site.
func (c *call) presentedFrom(domain string) *sip.FromHeader {
	if !c.shown.known {
		// Once per call, not per leg: a fork to every phone of a
		// building shows each the same caller. Only the ring loop's
		// goroutine sends INVITEs, so no lock.
		c.shown.name, c.shown.user = c.presented()
		c.shown.known = true
	}
	name, user := c.shown.name, c.shown.user
	from := &sip.FromHeader{DisplayName: name, Address: sip.Uri{Scheme: "sip", User: user, Host: domain}, Params: sip.NewParams()}
	from.Params.Add("tag", sip.GenerateTagN(16))
	return from
}
