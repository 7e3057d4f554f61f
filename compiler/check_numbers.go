package compiler

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"switchboard/compiler/emergency"
	"switchboard/lang"
)

// checkNumbers checks the one namespace of numbers dialled from phones and
// apps: extensions, conference rooms, feature codes and DDI short forms.
// Exact collisions are errors naming both declarations; a number that is
// a prefix of another is a warning, because phones' digit maps then wait
// for more digits; none may equal or begin with an emergency number of the
// site's country. Then it allocates extension = "auto".
func (c *checker) checkNumbers() {
	fixed := c.fixedNumbers()
	c.checkCollisions(fixed)
	held := c.quarantine()
	c.checkQuarantineReuse(fixed, held)
	all := append(fixed, c.allocate(fixed, held)...)
	c.finishLock()
	for _, e := range all {
		c.checkEmergency(e)
	}
	c.checkOverlaps(all)
	slices.SortStableFunc(all, func(a, b DialEntry) int {
		if a.Number != b.Number {
			return strings.Compare(a.Number, b.Number)
		}
		return compareRanges(a.Range, b.Range)
	})
	c.out.Dial = all
}

// fixedNumbers gathers every number written in the site, in declaration
// order, and records users' fixed extensions.
func (c *checker) fixedNumbers() []DialEntry {
	var out []DialEntry
	if c.site != nil && c.site.Features.Voicemail.Value != "" {
		out = append(out, DialEntry{Number: c.site.Features.Voicemail.Value, Kind: DialFeature, Feature: "voicemail", Range: c.site.Features.Voicemail.Range})
	}
	for _, u := range c.cfg.Users {
		if x := u.Extension; x.Set && !x.Auto && x.Number != "" {
			out = append(out, DialEntry{Number: x.Number, Kind: DialExtension, User: u.Name, Range: x.Range})
			c.out.Extensions[u.Name] = x.Number
		}
		if u.Conference.Set && u.Conference.Value != "" {
			if !allDigits(u.Conference.Value) {
				c.errorf(u.Conference.Range, "Invalid conference room",
					"A conference room is a number dialled like an extension, digits only; %q is not.", u.Conference.Value)
				continue
			}
			out = append(out, DialEntry{Number: u.Conference.Value, Kind: DialConference, User: u.Name, Range: u.Conference.Range})
		}
		if u.ConferencePIN.Set && u.ConferencePIN.Value && !u.Conference.Set {
			c.errorf(u.ConferencePIN.Range, "Conference PIN without a room",
				"User %q has conference_pin = true but no conference room. Give the user a room (conference = 8101) or remove conference_pin.", u.Name)
		}
	}
	return append(out, c.shortForms...)
}

// sameDestination reports whether two entries ring the same user and may
// therefore share a number: a DDI's short form equal to its user's own
// extension, or two short forms of the same user.
func sameDestination(a, b DialEntry) bool {
	if a.User == "" || a.User != b.User {
		return false
	}
	ok := func(e DialEntry) bool { return e.Kind == DialShortForm || e.Kind == DialExtension }
	return ok(a) && ok(b) && (a.Kind == DialShortForm || b.Kind == DialShortForm)
}

// checkCollisions reports numbers declared twice, at the later declaration.
func (c *checker) checkCollisions(entries []DialEntry) {
	first := make(map[string]int, len(entries)) // number -> index of its first entry
	groups := map[string][]DialEntry{}          // only numbers declared more than once
	var order []string
	for i, e := range entries {
		j, ok := first[e.Number]
		if !ok {
			first[e.Number] = i
			continue
		}
		if groups[e.Number] == nil {
			groups[e.Number] = []DialEntry{entries[j]}
			order = append(order, e.Number)
		}
		groups[e.Number] = append(groups[e.Number], e)
	}
	for _, n := range order {
		group := groups[n]
		slices.SortStableFunc(group, func(a, b DialEntry) int { return compareRanges(a.Range, b.Range) })
		for i, e := range group[1:] {
			for _, prev := range group[:i+1] {
				if sameDestination(prev, e) {
					continue
				}
				summary := "Duplicate number"
				if prev.Kind == DialExtension && e.Kind == DialExtension {
					summary = "Duplicate extension"
				}
				c.errorf(e.Range, summary,
					"%s is already %s (%s). Extensions, conference rooms, feature codes and short forms share one namespace: each number reaches one thing.",
					n, prev, at(prev.Range))
				break
			}
		}
	}
}

// checkEmergency reports a number that equals or begins with an emergency
// number (errors: the emergency call could be delayed or misrouted), or is
// a prefix of one (a warning: that number waits for an inter-digit timeout).
func (c *checker) checkEmergency(e DialEntry) {
	conflict, num := emergency.Check(e.Number, c.out.Emergency)
	country := c.country
	switch conflict {
	case emergency.Equals:
		c.errorf(e.Range, "Emergency number",
			"%s is an emergency number in %s. It must always reach the emergency services, so no extension, conference room, feature code or short form may use it. Choose another number.",
			capitalize(e.String()), country)
	case emergency.BeginsWith:
		c.errorf(e.Range, "Number begins with emergency number",
			"%s begins with %s, an emergency number in %s: phones would have to wait for more digits before placing an emergency call. Choose a number that does not start with %s.",
			capitalize(e.String()), num, country, num)
	case emergency.PrefixOf:
		c.warnf(e.Range, "Number overlaps emergency number",
			"%s is the start of %s, an emergency number in %s. Emergency calls still go through, but phones wait for a further digit before dialling %s. Prefer a number that is not the start of an emergency number.",
			capitalize(e.String()), num, country, e.Number)
	}
}

// checkOverlaps warns when one number is a proper prefix of another.
func (c *checker) checkOverlaps(entries []DialEntry) {
	first := map[string]DialEntry{}
	for _, e := range entries {
		if prev, ok := first[e.Number]; !ok || before(e.Range, prev.Range) {
			first[e.Number] = e
		}
	}
	numbers := make([]string, 0, len(first))
	for n := range first {
		numbers = append(numbers, n)
	}
	slices.Sort(numbers)
	for _, long := range numbers {
		for i := 1; i < len(long); i++ {
			short, ok := first[long[:i]]
			if !ok {
				continue
			}
			l := first[long]
			if before(short.Range, l.Range) {
				c.warnf(l.Range, "Overlapping numbers",
					"%s begins with %s (%s). Phones and apps that dial %s wait for a further digit before calling it. Prefer numbers of one length, or numbers where neither begins the other.",
					capitalize(l.String()), short, at(short.Range), short.Number)
			} else {
				c.warnf(short.Range, "Overlapping numbers",
					"%s is the start of %s (%s). Phones and apps that dial %s wait for a further digit before calling it. Prefer numbers of one length, or numbers where neither begins the other.",
					capitalize(short.String()), l, at(l.Range), short.Number)
			}
		}
	}
}

// allocate gives every user with extension = "auto" a number and returns
// the new entries. A number recorded in the lock is kept while nothing
// else uses it; others get the next free number at or after the site's
// auto_extensions_from, with the same digit count, that is unused, neither
// begins nor is the start of a used number, and is clear of the emergency
// numbers. Allocation runs in user-name order, so the outcome does not
// depend on file layout.
func (c *checker) allocate(fixed []DialEntry, held map[string]lang.Quarantine) []DialEntry {
	var autos []*lang.User
	for _, u := range c.cfg.Users {
		if u.Extension.Auto {
			autos = append(autos, u)
		}
	}
	slices.SortFunc(autos, func(a, b *lang.User) int { return strings.Compare(a.Name, b.Name) })

	a := newAllocator(fixed, c.out.Emergency)
	for n := range held {
		// Taken, though nobody dials it here: a newcomer must not get it.
		a.taken[n] = true
	}
	var out []DialEntry
	give := func(u *lang.User, n string) {
		a.use(n)
		c.out.Extensions[u.Name] = n
		c.out.Lock.Extensions[u.Name] = n
		out = append(out, DialEntry{Number: n, Kind: DialExtension, User: u.Name, Auto: true, Range: u.Extension.Range})
	}

	// Keep what the lock recorded, where still possible.
	var fresh []*lang.User
	previous := map[string]string{}
	for _, u := range autos {
		n := ""
		if c.cfg.Lock != nil {
			n = c.cfg.Lock.Extensions[u.Name]
		}
		if n == "" {
			fresh = append(fresh, u)
			continue
		}
		if conflict, _ := emergency.Check(n, a.emergency); !a.taken[n] && conflict != emergency.Equals && conflict != emergency.BeginsWith {
			give(u, n)
			continue
		}
		previous[u.Name] = n
		fresh = append(fresh, u)
	}

	from := defaultAutoFrom
	if c.site != nil && validAutoFrom(c.site.AutoExtensionsFrom.Value) {
		from = c.site.AutoExtensionsFrom.Value
	}
	a.start(from)
	for i, u := range fresh {
		n, ok := a.next()
		if !ok {
			who := quote(u.Name)
			if rest := len(fresh) - i - 1; rest > 0 {
				who += fmt.Sprintf(" and %d more user(s) with extension = \"auto\"", rest)
			}
			c.errorf(u.Extension.Range, "No free extension",
				"Every %d-digit number from %s up is taken, overlaps a number in use or an emergency number, so no extension is left for user %s. Set auto_extensions_from in the site block to a longer number, such as %s0.",
				len(from), from, who, from)
			break
		}
		give(u, n)
		prev := previous[u.Name]
		c.out.Allocations = append(c.out.Allocations, Allocation{User: u.Name, Extension: n, Previous: prev, Range: u.Extension.Range})
		if prev != "" {
			c.warnf(u.Extension.Range, "Extension reallocated",
				"%s recorded extension %s for user %q, but that number is now used by another declaration (or is an emergency number), so the user gets %s. Tell the user, or renumber the other declaration to keep %s.",
				lang.LockFileName, prev, u.Name, n, prev)
		}
	}
	return out
}

// defaultAutoFrom is where allocation starts when the site does not say;
// lang.Load applies the same default.
const defaultAutoFrom = "100"

// maxAutoDigits bounds the length of allocated extensions.
const maxAutoDigits = 9

func validAutoFrom(s string) bool { return allDigits(s) && len(s) <= maxAutoDigits }

// allocator hands out free numbers of one digit count in increasing order.
type allocator struct {
	taken     map[string]bool // numbers in use
	prefixes  map[string]bool // proper prefixes of numbers in use
	emergency []string
	width     int // digits per number
	cur, end  int // next candidate; one past the last
}

func newAllocator(fixed []DialEntry, emergencyNumbers []string) *allocator {
	a := &allocator{taken: map[string]bool{}, prefixes: map[string]bool{}, emergency: emergencyNumbers}
	for _, e := range fixed {
		a.use(e.Number)
	}
	return a
}

func (a *allocator) use(n string) {
	a.taken[n] = true
	for i := 1; i < len(n); i++ {
		a.prefixes[n[:i]] = true
	}
}

// start sets the first candidate; from is validAutoFrom.
func (a *allocator) start(from string) {
	a.width = len(from)
	a.cur, _ = strconv.Atoi(from)
	a.end = pow10(a.width)
}

// next returns the next free number. A candidate that begins with a used
// or emergency number skips the whole block of numbers sharing that
// beginning, so a short number in use costs one step, not thousands.
func (a *allocator) next() (string, bool) {
	for a.cur < a.end {
		s := fmt.Sprintf("%0*d", a.width, a.cur)
		if k := a.blockedPrefix(s); k > 0 {
			block := pow10(a.width - k)
			a.cur = (a.cur/block + 1) * block
			continue
		}
		a.cur++
		if a.taken[s] || a.prefixes[s] {
			continue
		}
		if conflict, _ := emergency.Check(s, a.emergency); conflict != emergency.None {
			continue
		}
		return s, true
	}
	return "", false
}

// blockedPrefix returns the length of a proper prefix of s that is in use
// or an emergency number, or 0.
func (a *allocator) blockedPrefix(s string) int {
	for k := 1; k < len(s); k++ {
		if a.taken[s[:k]] || slices.Contains(a.emergency, s[:k]) {
			return k
		}
	}
	return 0
}

func pow10(n int) int {
	p := 1
	for range n {
		p *= 10
	}
	return p
}

// finishLock decides whether the lock needs writing.
func (c *checker) finishLock() {
	old := c.cfg.Lock
	if old == nil {
		old = &lang.Lock{}
	}
	c.out.LockChanged = !c.out.Lock.Equal(old)
}

// capitalize upper-cases the first letter of a description that starts a
// sentence.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
