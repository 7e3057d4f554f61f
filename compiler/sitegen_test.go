package compiler

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/emergency"
)

// genOptions size a generated site.
type genOptions struct {
	Seed       uint64
	Residences int // 1 or more
	Users      int // most residents of one residence (0 or more)
	Doors      int // door stations (0 or more)
}

// genSite writes a random valid site as HCL source files: residences with
// labels unique on keypads, users with unique emails, mobiles and numbers
// clear of the chosen country's emergency numbers (some extensions "auto",
// some conference rooms, DDIs from a trunk's pool with short forms),
// indoor monitors, desk phones and door stations of every catalogue model
// used within the model's means (buttons, keypad, relays and DTMF code
// length), and every residence a door station can call able to answer.
// Names and places are sometimes awkward (quotes, ampersands, angle
// brackets, newlines, "${", non-ASCII) to exercise escaping. The same
// options give the same files.
//
// A generated site must load and check without an error; if it does not,
// the generator is wrong, not the site.
func genSite(o genOptions) map[string][]byte {
	g := &siteGen{rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x51de)), o: o, macs: map[string]bool{}}
	g.plan()
	return g.emit()
}

type genResidence struct {
	name, label, ring, noAnswer, timeout string
	users                                []*genUser
	monitor                              *genDevice
}

type genUser struct {
	name, first, last, email, mobile, role string
	residence                              *genResidence
	ext                                    string // digits, "auto" or ""
	app, directory, voicemail              bool
	writeVoicemail                         bool
	conference, ringTimeout                string
	ddis                                   []string
	phone                                  *genDevice
}

type genButton struct {
	label string
	calls string // "residence.x" or "user.x"
}

type genRelay struct{ name, dtmf, hold string }

type genDevice struct {
	name     string
	model    *catalogue.Model
	mac      string
	location string
	ref      string // residence.x (monitor) or user.x (phone)
	buttons  []genButton
	keypad   bool
	relays   []genRelay
}

type siteGen struct {
	rng *rand.Rand
	o   genOptions

	country, timezone, domain string
	emergency                 []string
	extDigits                 int
	autoFrom                  string
	taken                     []string // dialled numbers in use
	macs                      map[string]bool

	residences []*genResidence
	users      []*genUser
	devices    []*genDevice // monitors, phones, door stations
	trunk      bool
	shortDial  int
	pool       []string // trunk numbers
	transport  string
}

var (
	genFirst   = []string{"Mary", "John", "Aoife", "Ciara", "Liam", "Noah", "Emma", "Oisín", "Sophie", "Jack", "Zoë"}
	genLast    = []string{"Byrne", "Kelly", "Murphy", "Walsh", "Smith", "O'Neill", "Ryan", "Doyle", "Çelik"}
	genAwkward = []string{`Seán "Jack" O'Brien`, "Zoë & Ana", "<script>", "a=b; c#d", "Line\nBreak", "  padded  ",
		"Ⅻ 東京", "100% ${x} %{y}", `back\slash`, "tab\there"}
	genZones = []string{"Europe/Dublin", "Europe/London", "Europe/Paris", "America/New_York", "Australia/Sydney",
		"Asia/Kolkata", "Asia/Tokyo", "UTC", "America/St_Johns", "Pacific/Chatham"}
	genCodes = []string{"#", "*", "0", "1", "2", "3", "9", "12", "345", "2580", "*9", "#1"}
)

func (g *siteGen) pick(list []string) string { return list[g.rng.IntN(len(list))] }

func (g *siteGen) chance(percent int) bool { return g.rng.IntN(100) < percent }

// text is a person's or place's name, sometimes awkward.
func (g *siteGen) text(plain string) string {
	if g.chance(15) {
		return g.pick(genAwkward)
	}
	return plain
}

// clear reports whether number may be dialled: not equal to, beginning
// with or the start of an emergency number, nor of a number in use.
func (g *siteGen) clear(number string) bool {
	if c, _ := emergency.Check(number, g.emergency); c != emergency.None {
		return false
	}
	for _, t := range g.taken {
		if strings.HasPrefix(number, t) || strings.HasPrefix(t, number) {
			return false
		}
	}
	return true
}

// number takes a fresh dialled number of the given length.
func (g *siteGen) number(digits int) string {
	lo := 1
	for range digits - 1 {
		lo *= 10
	}
	for {
		n := strconv.Itoa(lo + g.rng.IntN(9*lo))
		if g.clear(n) {
			g.taken = append(g.taken, n)
			return n
		}
	}
}

func (g *siteGen) model(kind catalogue.Kind) *catalogue.Model {
	var ms []*catalogue.Model
	for _, m := range catalogue.Models() {
		if m.Kind == kind {
			ms = append(ms, m)
		}
	}
	return ms[g.rng.IntN(len(ms))]
}

func (g *siteGen) mac(m *catalogue.Model) string {
	for {
		oui := m.Vendor.OUIs[g.rng.IntN(len(m.Vendor.OUIs))]
		mac := fmt.Sprintf("%s%06x", oui, g.rng.IntN(1<<24))
		if g.macs[mac] {
			continue
		}
		g.macs[mac] = true
		// Written in one of the spellings installers use.
		switch g.rng.IntN(3) {
		case 0:
			return mac
		case 1:
			var parts []string
			for i := 0; i < 12; i += 2 {
				parts = append(parts, strings.ToUpper(mac[i:i+2]))
			}
			return strings.Join(parts, ":")
		}
		return mac[:4] + "." + mac[4:8] + "." + mac[8:]
	}
}

func (g *siteGen) plan() {
	countries := emergency.Countries()
	g.country = g.pick(countries)
	g.emergency, _ = emergency.Numbers(g.country)
	g.timezone = g.pick(genZones)
	g.domain = fmt.Sprintf("gen%d.example.net", g.o.Seed%1000)
	g.extDigits = 3 + g.rng.IntN(2)
	g.taken = []string{"*97"}
	g.transport = g.pick([]string{"udp", "tcp", "tls"})
	// The first clear number of the extension length: Check allocates
	// "auto" extensions upwards from it.
	for n := 2; ; n++ {
		from := strconv.Itoa(n)
		for len(from) < g.extDigits {
			from += "0"
		}
		if g.clear(from) {
			g.autoFrom = from
			break
		}
	}

	g.trunk = g.chance(60)
	if g.trunk && g.chance(50) {
		g.shortDial = g.extDigits + 1 + g.rng.IntN(2)
	}

	ui := 0
	for i := range max(1, g.o.Residences) {
		r := &genResidence{
			name:     fmt.Sprintf("r-%d", i),
			ring:     g.pick([]string{"", "simultaneous", "sequential"}),
			noAnswer: g.pick([]string{"", "voicemail", "hangup"}),
			timeout:  g.pick([]string{"", "20s", "30s", "45s"}),
		}
		if g.chance(50) {
			r.label = fmt.Sprintf("%d%c", 1+i/4, 'A'+i%4)
		} else {
			r.label = strconv.Itoa(10000 + i) // longer than any extension
		}
		g.residences = append(g.residences, r)
		for range g.rng.IntN(g.o.Users + 1) {
			u := g.user(ui, r)
			ui++
			r.users = append(r.users, u)
		}
	}
	// A few users of no residence (an office's staff), and at least one.
	for len(g.users) == 0 || g.chance(20) {
		g.user(ui, nil)
		ui++
	}
	g.users[0].role = "owner"

	for _, u := range g.users {
		if g.chance(20) {
			m := g.model(catalogue.Phone)
			u.phone = &genDevice{name: "p-" + u.name, model: m, mac: g.mac(m), ref: "user." + u.name, location: g.text("Desk")}
			g.devices = append(g.devices, u.phone)
		}
	}
	for _, r := range g.residences {
		answers := false
		for _, u := range r.users {
			answers = answers || u.app || u.phone != nil
		}
		if g.chance(50) || !answers && len(r.users) == 0 {
			m := g.model(catalogue.Monitor)
			r.monitor = &genDevice{name: "m-" + r.name, model: m, mac: g.mac(m), ref: "residence." + r.name, location: g.text("Hall")}
			if m.Relays > 0 && g.chance(5) {
				r.monitor.relays = []genRelay{{name: "local", dtmf: "5", hold: "3s"}}
			}
			g.devices = append(g.devices, r.monitor)
		} else if !answers {
			r.users[0].app = true
		}
	}
	for i := range g.o.Doors {
		g.doorStation(i)
	}
	if g.trunk {
		// Spare numbers in the pool, unassigned.
		for range 1 + g.rng.IntN(3) {
			g.pool = append(g.pool, g.ddi())
		}
		slices.Sort(g.pool)
	}
}

func (g *siteGen) user(i int, r *genResidence) *genUser {
	u := &genUser{
		name:      fmt.Sprintf("u-%d", i),
		first:     g.text(g.pick(genFirst)),
		last:      g.text(g.pick(genLast)),
		email:     fmt.Sprintf("U%d.%s@example.com", i, g.pick([]string{"home", "Work", "x"})),
		role:      g.pick([]string{"", "user", "admin"}),
		residence: r,
		app:       g.chance(50),
		directory: g.chance(50),
		voicemail: !g.chance(20),
	}
	u.writeVoicemail = !u.voicemail || g.chance(30)
	if g.chance(50) {
		u.mobile = fmt.Sprintf("+3538%08d", i)
	}
	switch {
	case g.chance(30):
		u.ext = "auto"
	case g.chance(5):
		u.ext = ""
	default:
		u.ext = g.number(g.extDigits)
	}
	if g.chance(10) {
		u.conference = g.number(g.extDigits + 1)
	}
	if g.chance(20) {
		u.ringTimeout = g.pick([]string{"10s", "25s", "60s"})
	}
	if g.trunk && g.chance(25) {
		u.ddis = []string{g.ddi()}
		g.pool = append(g.pool, u.ddis[0])
	}
	g.users = append(g.users, u)
	return u
}

// ddi makes a carrier number whose short form (its last shortDial
// digits, when the trunk has short dialling) is a clear dialled number.
func (g *siteGen) ddi() string {
	tail := 4
	if g.shortDial > 0 {
		tail = g.shortDial
	}
	for {
		var suffix string
		if g.shortDial > 0 {
			suffix = g.number(tail)
		} else {
			suffix = fmt.Sprintf("%0*d", tail, g.rng.IntN(10000))
		}
		n := fmt.Sprintf("+35315%0*d", 9-tail, g.rng.IntN(1000)) + suffix
		if !slices.Contains(g.pool, n) {
			return n
		}
	}
}

func (g *siteGen) doorStation(i int) {
	m := g.model(catalogue.DoorStation)
	d := &genDevice{name: fmt.Sprintf("d-%d", i), model: m, mac: g.mac(m), location: g.text("Entrance")}
	d.keypad = m.Keypad && (m.Buttons == 0 || g.chance(50))
	if m.Buttons > 0 {
		for b := range 1 + g.rng.IntN(min(m.Buttons, 4)) {
			target := "residence." + g.residences[g.rng.IntN(len(g.residences))].name
			if g.chance(20) {
				// A user who can answer, called directly.
				var able []*genUser
				for _, u := range g.users {
					if u.app || u.phone != nil {
						able = append(able, u)
					}
				}
				if len(able) > 0 {
					target = "user." + able[g.rng.IntN(len(able))].name
				}
			}
			d.buttons = append(d.buttons, genButton{label: strconv.Itoa(b + 1), calls: target})
		}
	}
	var codes []string
	for _, name := range []string{"door", "gate", "garage"}[:1+g.rng.IntN(min(m.Relays, 3))] {
		for {
			c := g.pick(genCodes)
			if m.DTMFDigits > 0 && len(c) > m.DTMFDigits {
				continue
			}
			if slices.ContainsFunc(codes, func(o string) bool { return strings.HasPrefix(o, c) || strings.HasPrefix(c, o) }) {
				continue // neither code may begin the other
			}
			codes = append(codes, c)
			hold := ""
			if g.chance(70) {
				hold = fmt.Sprintf("%ds", 1+g.rng.IntN(20))
			}
			d.relays = append(d.relays, genRelay{name: name, dtmf: c, hold: hold})
			break
		}
	}
	g.devices = append(g.devices, d)
}

// hclString quotes s as an HCL string literal: escapes, and template
// sequences doubled.
func hclString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\r':
			b.WriteString(`\r`)
		case c == '\t':
			b.WriteString(`\t`)
		case (c == '$' || c == '%') && i+1 < len(s) && s[i+1] == '{':
			b.WriteByte(c)
			b.WriteByte(c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func (g *siteGen) emit() map[string][]byte {
	var site, people, devices strings.Builder
	attr := func(b *strings.Builder, indent, name, value string) {
		fmt.Fprintf(b, "%s%s = %s\n", indent, name, value)
	}
	str := func(b *strings.Builder, indent, name, value string) { attr(b, indent, name, hclString(value)) }

	if g.trunk {
		site.WriteString("variable \"trunk_user\" {\n  type    = string\n  default = \"gen-user\"\n}\n\n")
		fmt.Fprintf(&site, "variable \"trunk_password\" {\n  type      = string\n  sensitive = true\n  default   = \"gen-secret-%d\"\n}\n\n", g.o.Seed)
	}
	fmt.Fprintf(&site, "site \"gen-%d\" {\n", g.o.Seed%1000)
	str(&site, "  ", "name", g.text("Generated Site"))
	str(&site, "  ", "country", g.country)
	str(&site, "  ", "timezone", g.timezone)
	str(&site, "  ", "domain", g.domain)
	str(&site, "  ", "auto_extensions_from", g.autoFrom)
	site.WriteString("  installer {\n")
	str(&site, "    ", "company", g.text("Generated Installers"))
	str(&site, "    ", "email", "installer@installers.example")
	site.WriteString("  }\n}\n\n")
	if g.trunk {
		site.WriteString("trunk \"carrier\" {\n")
		str(&site, "  ", "host", "sip.carrier.example")
		str(&site, "  ", "transport", g.transport)
		attr(&site, "  ", "username", "var.trunk_user")
		attr(&site, "  ", "password", "var.trunk_password")
		var quoted []string
		for _, n := range g.pool {
			quoted = append(quoted, hclString(n))
		}
		attr(&site, "  ", "numbers", "["+strings.Join(quoted, ", ")+"]")
		if g.shortDial > 0 {
			attr(&site, "  ", "short_dial", strconv.Itoa(g.shortDial))
		}
		site.WriteString("}\n\n")
	}
	for _, r := range g.residences {
		fmt.Fprintf(&site, "residence %q {\n", r.name)
		str(&site, "  ", "label", r.label)
		if r.ring != "" {
			str(&site, "  ", "ring", r.ring)
		}
		if r.noAnswer != "" {
			str(&site, "  ", "no_answer", r.noAnswer)
		}
		if r.timeout != "" {
			str(&site, "  ", "ring_timeout", r.timeout)
		}
		site.WriteString("}\n\n")
	}

	for _, u := range g.users {
		fmt.Fprintf(&people, "user %q {\n", u.name)
		str(&people, "  ", "first_name", u.first)
		str(&people, "  ", "last_name", u.last)
		str(&people, "  ", "email", u.email)
		if u.mobile != "" {
			str(&people, "  ", "mobile", u.mobile)
		}
		if u.residence != nil {
			attr(&people, "  ", "residence", "residence."+u.residence.name)
		}
		if u.role != "" {
			str(&people, "  ", "role", u.role)
		}
		switch u.ext {
		case "":
		case "auto":
			str(&people, "  ", "extension", "auto")
		default:
			attr(&people, "  ", "extension", u.ext)
		}
		attr(&people, "  ", "app", strconv.FormatBool(u.app))
		attr(&people, "  ", "directory", strconv.FormatBool(u.directory))
		if u.writeVoicemail {
			attr(&people, "  ", "voicemail", strconv.FormatBool(u.voicemail))
		}
		if u.conference != "" {
			attr(&people, "  ", "conference", u.conference)
		}
		if u.ringTimeout != "" {
			str(&people, "  ", "ring_timeout", u.ringTimeout)
		}
		if len(u.ddis) > 0 {
			attr(&people, "  ", "numbers", "["+hclString(u.ddis[0])+"]")
		}
		people.WriteString("}\n\n")
	}

	for _, d := range g.devices {
		fmt.Fprintf(&devices, "device %q {\n", d.name)
		str(&devices, "  ", "model", d.model.ID)
		str(&devices, "  ", "mac", d.mac)
		if d.location != "" {
			str(&devices, "  ", "location", d.location)
		}
		switch {
		case strings.HasPrefix(d.ref, "residence."):
			attr(&devices, "  ", "residence", d.ref)
		case strings.HasPrefix(d.ref, "user."):
			attr(&devices, "  ", "user", d.ref)
		}
		if d.keypad {
			attr(&devices, "  ", "keypad", "true")
		}
		for _, b := range d.buttons {
			fmt.Fprintf(&devices, "  button %q { calls = %s }\n", b.label, b.calls)
		}
		for _, r := range d.relays {
			fmt.Fprintf(&devices, "  relay %q {\n", r.name)
			str(&devices, "    ", "dtmf", r.dtmf)
			if r.hold != "" {
				str(&devices, "    ", "hold", r.hold)
			}
			devices.WriteString("  }\n")
		}
		devices.WriteString("}\n\n")
	}
	return map[string][]byte{
		"site.pbx.hcl":    []byte(site.String()),
		"people.pbx.hcl":  []byte(people.String()),
		"devices.pbx.hcl": []byte(devices.String()),
	}
}
