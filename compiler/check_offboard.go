package compiler

import (
	"slices"
	"strings"
	"time"

	"switchboard/lang"
)

// maxOffboardDays bounds archive_days and quarantine_days: ten years.
const maxOffboardDays = 3650

// checkOffboarding checks the site's offboarding attributes: how long a
// removed person's voicemail archive is kept, and how long their auto
// extension stays out of use.
func (c *checker) checkOffboarding() {
	s := c.site
	if s == nil {
		return
	}
	if d := s.ArchiveDays; d.Set && (d.Value < 1 || d.Value > maxOffboardDays) {
		c.errorf(d.Range, "Invalid archive_days",
			"archive_days is how many days a removed person's voicemail archive is kept for the owner, between 1 and %d; it is %d here. Write removed_data = \"delete\" to keep nothing.", maxOffboardDays, d.Value)
	}
	if d := s.QuarantineDays; d.Set && (d.Value < 0 || d.Value > maxOffboardDays) {
		c.errorf(d.Range, "Invalid quarantine_days",
			"quarantine_days is how many days a removed person's auto extension is kept from reuse, between 0 (reuse at once) and %d; it is %d here.", maxOffboardDays, d.Value)
	}
}

// quarantineDays is the site's quarantine, defaulted.
func (c *checker) quarantineDays() int {
	if c.site != nil && c.site.QuarantineDays.Set && c.site.QuarantineDays.Value >= 0 {
		return c.site.QuarantineDays.Value
	}
	return lang.DefaultQuarantineDays
}

// quarantine carries the lock's quarantines that have not ended into the
// new lock, and puts each auto extension of a user no longer in the site
// into quarantine from today. It returns the quarantined numbers, which
// extension = "auto" does not hand out.
func (c *checker) quarantine() map[string]lang.Quarantine {
	held := map[string]lang.Quarantine{}
	today := c.cfg.Today
	if today.IsZero() {
		today = time.Now().UTC().Truncate(24 * time.Hour)
	}
	if c.cfg.Lock != nil {
		for _, q := range c.cfg.Lock.Quarantine {
			if q.Until.After(today) {
				held[q.Extension] = q
			}
		}
		days := c.quarantineDays()
		present := map[string]bool{}
		for _, u := range c.cfg.Users {
			present[u.Name] = true
		}
		for user, n := range c.cfg.Lock.Extensions {
			if present[user] || days == 0 {
				continue
			}
			if _, ok := held[n]; !ok {
				held[n] = lang.Quarantine{Extension: n, User: user, Until: today.AddDate(0, 0, days)}
			}
		}
	}
	for _, q := range held {
		c.out.Lock.Quarantine = append(c.out.Lock.Quarantine, lang.Quarantine{Extension: q.Extension, User: q.User, Until: q.Until})
	}
	slices.SortFunc(c.out.Lock.Quarantine, func(a, b lang.Quarantine) int { return strings.Compare(a.Extension, b.Extension) })
	return held
}

// checkQuarantineReuse warns about a fixed extension that is a removed
// person's number still in quarantine: their callers would reach the new
// holder.
func (c *checker) checkQuarantineReuse(fixed []DialEntry, held map[string]lang.Quarantine) {
	for _, e := range fixed {
		q, ok := held[e.Number]
		if !ok || e.Kind != DialExtension || e.User == q.User {
			continue
		}
		c.warnf(e.Range, "Extension in quarantine",
			"Extension %s was removed user %q's until %s (%s): people who still dial it will reach user %q instead. Pick another number, or delete the quarantine block from %s once that is intended.",
			e.Number, q.User, q.Until.Format(lang.DateLayout), lang.LockFileName, e.User, lang.LockFileName)
	}
}
