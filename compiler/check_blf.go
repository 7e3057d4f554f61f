package compiler

import (
	"switchboard/compiler/catalogue"
)

// checkBLF checks the busy-lamp-field keys of desk phones (blf): only a
// phone has them, and each watches a person with an extension (a BLF key
// subscribes to and dials it), once.
func (c *checker) checkBLF() {
	for _, d := range c.out.Devices {
		ld := d.Device
		if !ld.BLFSet {
			continue
		}
		if d.Kind != catalogue.Phone {
			c.errorf(ld.BLFRange, "Unexpected BLF keys",
				"Device %q is not a desk phone; busy-lamp-field keys belong to desk phones. Remove blf.", ld.Name)
			continue
		}
		seen := map[string]bool{}
		for _, r := range ld.BLF {
			switch {
			case seen[r.Name]:
				c.errorf(r.Range, "Duplicate BLF key",
					"Device %q already has a BLF key for %s; each person gets one key. Remove the second.", ld.Name, r)
			case c.out.Extensions[r.Name] == "":
				c.errorf(r.Range, "BLF key without extension",
					"A BLF key watches and dials a person's extension, and %s has none. Give the user an extension, or remove the key.", r)
			case ld.User != nil && ld.User.Name == r.Name:
				c.warnf(r.Range, "BLF key for the phone's own user",
					"Device %q is %s's own phone, so a BLF key for %s shows the phone's own calls. Remove it unless that is meant.", ld.Name, r, r)
			}
			seen[r.Name] = true
		}
	}
}
