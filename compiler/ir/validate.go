package ir

import (
	"fmt"
	"slices"
	"strings"
)

// ValidationError lists every internal inconsistency Validate found, in a
// deterministic order.
type ValidationError struct {
	Problems []string
}

func (e *ValidationError) Error() string {
	if len(e.Problems) == 1 {
		return "ir: invalid program: " + e.Problems[0]
	}
	return fmt.Sprintf("ir: invalid program (%d problems):\n\t%s", len(e.Problems), strings.Join(e.Problems, "\n\t"))
}

// Validate checks the program's internal consistency: canonical order and
// unique keys, every reference resolving, values in range. A program from
// the compiler always passes; a failure is a bug in the lowering (or a
// hand-edited dialplan.json), not a problem in the user's config, so it is
// an error rather than a diagnostic. Validate does not modify p.
func (p *Program) Validate() error {
	v := &validator{p: p}
	v.program()
	if len(v.problems) == 0 {
		return nil
	}
	return &ValidationError{Problems: v.problems}
}

type validator struct {
	p        *Program
	problems []string
}

func (v *validator) errf(format string, args ...any) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// sorted checks that keys are strictly increasing, reporting each offender.
func sorted[T any](v *validator, what string, s []T, key func(*T) string) {
	for i := 1; i < len(s); i++ {
		a, b := key(&s[i-1]), key(&s[i])
		switch {
		case a == b:
			v.errf("%s: duplicate %q", what, b)
		case a > b:
			v.errf("%s: %q is out of order (after %q); call Sort", what, b, a)
		}
	}
}

func sortedStrings(v *validator, what string, s []string) {
	sorted(v, what, s, func(x *string) string { return *x })
}

func (v *validator) program() {
	p := v.p
	if p.Version != Version {
		v.errf("version is %d, want %d", p.Version, Version)
	}
	if p.Site.Name == "" {
		v.errf("site: no name")
	}
	if p.Site.Domain == "" {
		v.errf("site: no domain")
	}
	sortedStrings(v, "site emergency numbers", p.Site.Emergency)
	v.digest("site", p.Site.Digest)

	sorted(v, "accounts", p.Accounts, func(a *Account) string { return a.Name })
	sorted(v, "users", p.Users, func(u *User) string { return u.Name })
	sorted(v, "residences", p.Residences, func(r *Residence) string { return r.Name })
	sorted(v, "mailboxes", p.Mailboxes, func(m *Mailbox) string { return m.Name })
	sorted(v, "numbers", p.Numbers, func(n *Number) string { return n.Number })
	sorted(v, "entries", p.Entries, func(e *Entry) string { return e.Device + "\x00" + e.Code })
	sorted(v, "ddis", p.DDIs, func(d *DDI) string { return d.Number })
	sorted(v, "conferences", p.Conferences, func(c *Conference) string { return c.Name })
	sorted(v, "trunks", p.Trunks, func(t *Trunk) string { return t.Name })
	sorted(v, "devices", p.Devices, func(d *Device) string { return d.Name })

	usernames := map[string]string{}
	for i := range p.Accounts {
		v.account(&p.Accounts[i], usernames)
	}
	for i := range p.Users {
		v.user(&p.Users[i])
	}
	for i := range p.Residences {
		v.residence(&p.Residences[i])
	}
	for _, m := range p.Mailboxes {
		if m.Owner.Kind != RefUser || p.User(m.Owner.Name) == nil {
			v.errf("mailbox %q: owner %q is not a user", m.Name, m.Owner)
		}
	}
	for _, n := range p.Numbers {
		v.number(n)
	}
	for _, e := range p.Entries {
		d := p.Device(e.Device)
		switch {
		case d == nil:
			v.errf("entry %q of %q: no such device", e.Code, e.Device)
		case d.Kind != DoorStation:
			v.errf("entry %q of %q: device is a %s, not a door station", e.Code, e.Device, d.Kind)
		}
		if e.Code == "" {
			v.errf("entry of %q: empty code", e.Device)
		}
		v.ringTarget(fmt.Sprintf("entry %q of %q", e.Code, e.Device), e.Target)
	}
	for _, d := range p.DDIs {
		t := p.Trunk(d.Trunk)
		switch {
		case t == nil:
			v.errf("ddi %q: no such trunk %q", d.Number, d.Trunk)
		case !containsSorted(t.DDIs, d.Number):
			v.errf("ddi %q: not in the pool of trunk %q", d.Number, d.Trunk)
		}
		if d.Target.Kind != RefUser || p.User(d.Target.Name) == nil {
			v.errf("ddi %q: target %q is not a user", d.Number, d.Target)
		}
	}
	for _, c := range p.Conferences {
		if c.Number == "" {
			v.errf("conference %q: no number", c.Name)
		}
		if !c.Owner.IsZero() && (c.Owner.Kind != RefUser || p.User(c.Owner.Name) == nil) {
			v.errf("conference %q: owner %q is not a user", c.Name, c.Owner)
		}
	}
	for _, t := range p.Trunks {
		if t.Host == "" {
			v.errf("trunk %q: no host", t.Name)
		}
		if t.Port < 0 || t.Port > 65535 { // 0: none written, located by DNS SRV
			v.errf("trunk %q: port %d out of range", t.Name, t.Port)
		}
		if !validTransport(t.Transport) {
			v.errf("trunk %q: unknown transport %q", t.Name, t.Transport)
		}
		if t.Username != "" && t.Login != "" {
			v.errf("trunk %q: both a username reference and a login", t.Name)
		}
		sortedStrings(v, fmt.Sprintf("trunk %q ddis", t.Name), t.DDIs)
		if !t.Unassigned.IsZero() {
			v.ringTarget(fmt.Sprintf("trunk %q unassigned", t.Name), t.Unassigned)
		}
		if t.UnassignedMailbox != "" {
			if m := v.p.Mailbox(t.UnassignedMailbox); m == nil {
				v.errf("trunk %q: no such mailbox %q", t.Name, t.UnassignedMailbox)
			} else if m.Owner != t.Unassigned {
				v.errf("trunk %q: mailbox %q is not %s's", t.Name, t.UnassignedMailbox, t.Unassigned)
			}
		}
	}
	macs := map[string]string{}
	for i := range p.Devices {
		v.device(&p.Devices[i], macs)
	}
}

func containsSorted(s []string, x string) bool {
	for _, e := range s {
		if e == x {
			return true
		}
	}
	return false
}

func validTransport(t string) bool { return t == "udp" || t == "tcp" || t == "tls" }

func (v *validator) account(a *Account, usernames map[string]string) {
	p := v.p
	what := fmt.Sprintf("account %q", a.Name)
	switch a.Kind {
	case AccountDevice, AccountApp, AccountTrunk:
		if !strings.HasPrefix(a.Name, string(a.Kind)+".") || len(a.Name) == len(a.Kind)+1 {
			v.errf("%s: name must be %q followed by a name", what, string(a.Kind)+".")
		}
	default:
		v.errf("%s: unknown kind %q", what, a.Kind)
	}
	if a.Username == "" {
		v.errf("%s: no username", what)
	} else if strings.ContainsAny(a.Username, " \t\r\n:@;<>\"") {
		v.errf("%s: username %q has a character not allowed in a SIP user part", what, a.Username)
	}
	if prev, ok := usernames[a.Username]; ok {
		v.errf("%s: username %q already used by %q", what, a.Username, prev)
	} else {
		usernames[a.Username] = a.Name
	}
	if a.AuthName == "" {
		v.errf("%s: no auth name", what)
	}
	if a.Rotation < 0 {
		v.errf("%s: negative rotation %d", what, a.Rotation)
	}
	v.digest(what, a.Digest)
	switch a.Owner.Kind {
	case RefUser:
		if p.User(a.Owner.Name) == nil {
			v.errf("%s: owner %q does not exist", what, a.Owner)
		}
	case RefResidence:
		if p.Residence(a.Owner.Name) == nil {
			v.errf("%s: owner %q does not exist", what, a.Owner)
		}
	case RefDevice:
		if p.Device(a.Owner.Name) == nil {
			v.errf("%s: owner %q does not exist", what, a.Owner)
		}
	case RefTrunk:
		if p.Trunk(a.Owner.Name) == nil {
			v.errf("%s: owner %q does not exist", what, a.Owner)
		}
	case RefSite:
	default:
		v.errf("%s: owner %q is not a user, residence, device, trunk or site", what, a.Owner)
	}
	if a.Kind == AccountDevice {
		d := p.Device(a.Device)
		switch {
		case a.Device == "":
			v.errf("%s: device account without a device", what)
		case d == nil:
			v.errf("%s: no such device %q", what, a.Device)
		case d.Account != a.Name:
			v.errf("%s: device %q uses account %q", what, a.Device, d.Account)
		}
	} else if a.Device != "" {
		v.errf("%s: only device accounts name a device", what)
	}
}

func (v *validator) user(u *User) {
	p := v.p
	what := fmt.Sprintf("user %q", u.Name)
	if u.Residence != "" && p.Residence(u.Residence) == nil {
		v.errf("%s: no such residence %q", what, u.Residence)
	}
	sortedStrings(v, what+" endpoints", u.Endpoints)
	for _, e := range u.Endpoints {
		if p.Account(e) == nil {
			v.errf("%s: endpoint %q is not an account", what, e)
		}
	}
	if u.Mailbox != "" && p.Mailbox(u.Mailbox) == nil {
		v.errf("%s: no such mailbox %q", what, u.Mailbox)
	}
	if u.Rotation < 0 {
		v.errf("%s: negative rotation %d", what, u.Rotation)
	}
	v.ring(what, &u.Ring)
}

func (v *validator) residence(r *Residence) {
	p := v.p
	what := fmt.Sprintf("residence %q", r.Name)
	if r.Label == "" {
		v.errf("%s: no label", what)
	}
	sortedStrings(v, what+" users", r.Users)
	for _, n := range r.Users {
		u := p.User(n)
		switch {
		case u == nil:
			v.errf("%s: no such user %q", what, n)
		case u.Residence != r.Name:
			v.errf("%s: user %q lives in %q", what, n, u.Residence)
		}
	}
	sortedStrings(v, what+" monitors", r.Monitors)
	for _, n := range r.Monitors {
		d := p.Device(n)
		switch {
		case d == nil:
			v.errf("%s: no such device %q", what, n)
		case d.Kind != Monitor:
			v.errf("%s: device %q is a %s, not a monitor", what, n, d.Kind)
		}
	}
	v.ring(what, &r.Ring)
}

func (v *validator) ring(what string, r *Ring) {
	switch r.Strategy {
	case Simultaneous, Sequential:
	default:
		v.errf("%s: unknown ring strategy %q", what, r.Strategy)
	}
	if r.Timeout <= 0 {
		v.errf("%s: ring timeout must be positive", what)
	}
	for i, l := range r.Legs {
		lw := fmt.Sprintf("%s: ring leg %d", what, i+1)
		if len(l.Accounts) == 0 {
			v.errf("%s: no accounts", lw)
		}
		sortedStrings(v, lw+" accounts", l.Accounts)
		for _, a := range l.Accounts {
			if v.p.Account(a) == nil {
				v.errf("%s: no such account %q", lw, a)
			}
		}
		if l.Timeout <= 0 {
			v.errf("%s: timeout must be positive", lw)
		}
	}
	v.fallback(what+": no-answer", r.NoAnswer)
	v.fallback(what+": busy", r.Busy)
	v.fallback(what+": decline", r.Decline)
}

func (v *validator) fallback(what string, f Fallback) {
	switch f.Kind {
	case FallbackHangup:
		if f.Mailbox != "" {
			v.errf("%s: hangup with a mailbox", what)
		}
	case FallbackVoicemail:
		if v.p.Mailbox(f.Mailbox) == nil {
			v.errf("%s: no such mailbox %q", what, f.Mailbox)
		}
	default:
		v.errf("%s: unknown fallback %q", what, f.Kind)
	}
}

func (v *validator) ringTarget(what string, t Ref) {
	switch t.Kind {
	case RefUser:
		if v.p.User(t.Name) == nil {
			v.errf("%s: no such user %q", what, t.Name)
		}
	case RefResidence:
		if v.p.Residence(t.Name) == nil {
			v.errf("%s: no such residence %q", what, t.Name)
		}
	default:
		v.errf("%s: target %q is not a user or residence", what, t)
	}
}

func (v *validator) number(n Number) {
	what := fmt.Sprintf("number %q", n.Number)
	if n.Number == "" {
		v.errf("empty number")
	}
	switch n.Action.Kind {
	case ActionRing:
		v.ringTarget(what, n.Action.Target)
	case ActionVoicemail:
		if !n.Action.Target.IsZero() {
			v.errf("%s: voicemail access takes no target", what)
		}
	case ActionConference:
		if n.Action.Target.Kind != RefConference || v.p.Conference(n.Action.Target.Name) == nil {
			v.errf("%s: target %q is not a conference room", what, n.Action.Target)
		}
	default:
		v.errf("%s: unknown action %q", what, n.Action.Kind)
	}
}

// ValidMAC reports whether s is a canonical MAC: 12 lower-case hex digits.
func ValidMAC(s string) bool {
	if len(s) != 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func (v *validator) device(d *Device, macs map[string]string) {
	p := v.p
	what := fmt.Sprintf("device %q", d.Name)
	switch d.Kind {
	case DoorStation, Monitor, Phone:
	default:
		v.errf("%s: unknown kind %q", what, d.Kind)
	}
	if d.Vendor == "" || d.Model == "" {
		v.errf("%s: vendor and model are required", what)
	}
	if !ValidMAC(d.MAC) {
		v.errf("%s: MAC %q is not 12 lower-case hex digits", what, d.MAC)
	} else if prev, ok := macs[d.MAC]; ok {
		v.errf("%s: MAC %s already used by %q", what, d.MAC, prev)
	} else {
		macs[d.MAC] = d.Name
	}
	a := p.Account(d.Account)
	switch {
	case a == nil:
		v.errf("%s: no such account %q", what, d.Account)
	case a.Kind != AccountDevice || a.Device != d.Name:
		v.errf("%s: account %q is not this device's account", what, d.Account)
	}
	if d.Residence != "" && p.Residence(d.Residence) == nil {
		v.errf("%s: no such residence %q", what, d.Residence)
	}
	if d.User != "" && p.User(d.User) == nil {
		v.errf("%s: no such user %q", what, d.User)
	}
	if d.SIP.Server == "" {
		v.errf("%s: no SIP server", what)
	}
	if d.SIP.Port < 1 || d.SIP.Port > 65535 {
		v.errf("%s: SIP port %d out of range", what, d.SIP.Port)
	}
	for _, b := range d.SIP.Backup {
		if b.Server == "" {
			v.errf("%s: backup SIP server without a host", what)
		}
		if b.Port < 1 || b.Port > 65535 {
			v.errf("%s: backup SIP port %d out of range", what, b.Port)
		}
		if b.Server == d.SIP.Server && b.Port == d.SIP.Port {
			v.errf("%s: backup SIP server %s:%d is the primary", what, b.Server, b.Port)
		}
	}
	if !validTransport(d.SIP.Transport) {
		v.errf("%s: unknown SIP transport %q", what, d.SIP.Transport)
	}
	if d.SIP.Expiry <= 0 {
		v.errf("%s: registration expiry must be positive", what)
	}
	if d.Kind != DoorStation && (len(d.Buttons) > 0 || d.Keypad) {
		v.errf("%s: only door stations have buttons or a keypad", what)
	}
	if d.Kind == DoorStation && len(d.LineKeys) > 0 {
		v.errf("%s: door stations have no line keys", what)
	}
	indices(v, what+" buttons", d.Buttons, func(b *Button) int { return b.Index })
	for _, b := range d.Buttons {
		bw := fmt.Sprintf("%s: button %q", what, b.Label)
		e := p.Entry(d.Name, b.Dial)
		switch {
		case b.Dial == "":
			v.errf("%s: dials nothing", bw)
		case e == nil:
			v.errf("%s: dials %q, which is not an entry of this device", bw, b.Dial)
		case e.Target != b.Target:
			v.errf("%s: targets %q but entry %q goes to %q", bw, b.Target, b.Dial, e.Target)
		}
	}
	indices(v, what+" relays", d.Relays, func(r *Relay) int { return r.Index })
	for _, r := range d.Relays {
		rw := fmt.Sprintf("%s: relay %q", what, r.Name)
		if r.Name == "" {
			v.errf("%s: relay %d has no name", what, r.Index)
		}
		if r.DTMF == "" {
			v.errf("%s: no DTMF code", rw)
		}
		if r.Hold <= 0 {
			v.errf("%s: hold time must be positive", rw)
		}
		switch r.Trigger.Policy {
		case TriggerCalled:
			if len(r.Trigger.Accounts) > 0 {
				v.errf("%s: trigger policy %q takes no accounts", rw, r.Trigger.Policy)
			}
		case TriggerAccounts:
			if len(r.Trigger.Accounts) == 0 {
				v.errf("%s: trigger policy %q without accounts", rw, r.Trigger.Policy)
			}
			for _, n := range r.Trigger.Accounts {
				if p.Account(n) == nil {
					v.errf("%s: trigger account %q does not exist", rw, n)
				}
			}
		default:
			v.errf("%s: unknown trigger policy %q", rw, r.Trigger.Policy)
		}
	}
	sorted(v, what+" contacts", d.Contacts, func(c *Contact) string { return c.Name + "\x00" + c.Number })
	for _, c := range d.Contacts {
		if c.Name == "" || c.Number == "" {
			v.errf("%s: contact %q/%q needs a name and a number", what, c.Name, c.Number)
		}
	}
	indices(v, what+" line keys", d.LineKeys, func(k *LineKey) int { return k.Index })
	for _, k := range d.LineKeys {
		switch k.Type {
		case KeyLine:
		case KeySpeedDial, KeyBLF, KeyDTMF:
			if k.Value == "" {
				v.errf("%s: line key %d (%s) has no value", what, k.Index, k.Type)
			}
		default:
			v.errf("%s: line key %d has unknown type %q", what, k.Index, k.Type)
		}
	}
}

// indices checks 1-based, strictly increasing indices.
func indices[T any](v *validator, what string, s []T, index func(*T) int) {
	for i := range s {
		n := index(&s[i])
		if n < 1 {
			v.errf("%s: index %d must be at least 1", what, n)
		}
		if i > 0 {
			prev := index(&s[i-1])
			switch {
			case prev == n:
				v.errf("%s: duplicate index %d", what, n)
			case prev > n:
				v.errf("%s: index %d is out of order; call Sort", what, n)
			}
		}
	}
}

// digest checks a list of digest algorithms: known names, each once.
func (v *validator) digest(what string, algs []string) {
	for i, a := range algs {
		if a != DigestMD5 && a != DigestSHA256 {
			v.errf("%s: digest algorithm %q is not %q or %q", what, a, DigestMD5, DigestSHA256)
		} else if slices.Contains(algs[:i], a) {
			v.errf("%s: digest algorithm %q listed twice", what, a)
		}
	}
}
