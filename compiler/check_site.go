package compiler

import (
	"fmt"
	"strings"
	"time"
	_ "time/tzdata" // time zones resolve the same on every machine

	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/emergency"
	"switchboard/compiler/ir"
	"switchboard/lang"
)

// checkSite enforces one site per directory and checks its attributes and
// installer account.
func (c *checker) checkSite() {
	switch len(c.cfg.Sites) {
	case 0:
		c.errorf(c.fallbackRange(), "Missing site",
			"A site directory declares exactly one site block, with its name, country, timezone, domain and installer. None of the *.pbx.hcl files here has one.")
		return
	case 1:
	default:
		first := c.cfg.Sites[0]
		for _, s := range c.cfg.Sites[1:] {
			c.errorf(s.NameRange, "Duplicate site",
				"Site %q was already declared at %s. A directory holds exactly one site; put each site in its own directory.", first.Name, at(first.NameRange))
		}
	}
	s := c.cfg.Sites[0]
	c.site = s
	c.out.Site = s

	if s.Country.Set {
		if n, ok := emergency.Numbers(s.Country.Value); ok {
			c.country = s.Country.Value
			c.out.Emergency = n
		} else {
			detail := "The country decides the emergency numbers that no extension may shadow, and switchboard has no table for %q. Use an ISO 3166-1 alpha-2 code in capitals; known codes are %s."
			if sug := emergency.Suggest(s.Country.Value); sug != "" {
				detail += " Did you mean " + quote(sug) + "?"
			} else {
				detail += " To add a country, add one line to compiler/emergency."
			}
			c.errorf(s.Country.Range, "Unknown country", detail, s.Country.Value, strings.Join(emergency.Countries(), ", "))
		}
	}

	if s.Timezone.Set {
		tz := s.Timezone.Value
		loc, err := time.LoadLocation(tz)
		if tz == "" || tz == "Local" || err != nil {
			c.errorf(s.Timezone.Range, "Unknown timezone",
				"%q is not an IANA time zone. Write the zone of the site as Area/City, such as \"Europe/Dublin\" or \"America/New_York\"; names are case-sensitive.", tz)
		} else {
			c.out.Location = loc
		}
	}

	if s.Domain.Set && !validHost(s.Domain.Value) {
		c.errorf(s.Domain.Range, "Invalid domain",
			"%q is not a plausible host name. The SIP domain is a DNS name such as \"harbour-view.example.net\": letters, digits and dashes in dot-separated labels.", s.Domain.Value)
	}

	if s.AutoExtensionsFrom.Set && !validAutoFrom(s.AutoExtensionsFrom.Value) {
		c.errorf(s.AutoExtensionsFrom.Range, "Invalid auto_extensions_from",
			"Allocated extensions are digits only, %d at most; %q is not one. Write the first number to hand out, such as 100.", maxAutoDigits, s.AutoExtensionsFrom.Value)
	}

	c.checkDigest(s)
	c.checkNodes(s)

	if in := s.Installer; in != nil {
		if in.Email.Set && !validEmail(in.Email.Value) {
			c.errorf(in.Email.Range, "Invalid email address", "The installer email %q is not %s.", in.Email.Value, emailHint)
		}
		if in.Phone.Set {
			c.checkE164(in.Phone.Value, in.Phone.Range, "the installer's phone")
		}
	}
}

// digestNames maps the names the site's digest attribute takes to the
// IR's (RFC 8760's).
var digestNames = map[string]string{"md5": ir.DigestMD5, "sha-256": ir.DigestSHA256}

// checkDigest checks the site's digest attribute and records the
// algorithms offered to accounts whose client is unknown: the attribute's,
// else MD5 alone. MD5 is the default because it is the one algorithm every
// SIP client answers; a client that reads only the first challenge, or
// gives up at the first it cannot answer, registers only when MD5 is all
// it is offered.
func (c *checker) checkDigest(s *lang.Site) {
	c.out.Digest = []string{ir.DigestMD5}
	if s.Digest == nil {
		return
	}
	if len(s.Digest) == 0 {
		c.errorf(s.DigestRange, "Empty digest list",
			"The site's digest attribute lists the digest algorithms offered to apps and trunks, in order of preference, and an empty list would let none of them register. Write [\"md5\"] (the default), or [\"sha-256\", \"md5\"] when every app answers SHA-256 challenges.")
		return
	}
	var out []string
	seen := map[string]hcl.Range{}
	for _, d := range s.Digest {
		name, ok := digestNames[d.Value]
		if !ok {
			detail := fmt.Sprintf("switchboard offers the digest algorithms \"md5\" and \"sha-256\" (RFC 8760), and %q is neither.", d.Value)
			low := strings.ReplaceAll(strings.ToLower(d.Value), "_", "-")
			if low == "sha256" {
				low = "sha-256"
			}
			if _, ok := digestNames[low]; ok {
				detail += " Did you mean " + quote(low) + "?"
			}
			c.errorf(d.Range, "Unknown digest algorithm", "%s", detail)
			continue
		}
		if first, dup := seen[name]; dup {
			c.errorf(d.Range, "Duplicate digest algorithm",
				"%q is already listed at %s. Each algorithm is offered once, in the order written.", d.Value, at(first))
			continue
		}
		seen[name] = d.Range
		out = append(out, name)
	}
	if len(out) > 0 {
		c.out.Digest = out
	}
}
