package irtest

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"switchboard/compiler/ir"
)

// Options shape a generated site.
type Options struct {
	Residences        int    // number of residences (at least 1)
	UsersPerResidence int    // residents per residence (at least 1)
	Seed              uint64 // varies names, strategies, timeouts and codes
	// PhoneEvery gives every PhoneEvery-th user a desk phone (default 3).
	PhoneEvery int
	// Awkward gives people and places names full of characters that need
	// escaping in vendor files: quotes, ampersands, angle brackets, equals
	// signs, semicolons, hashes, non-ASCII letters, newlines.
	Awkward bool
}

// Models cycled through by Generate, per role.
var (
	GenMonitors = []string{"akuvox-c313", "akuvox-c315", "akuvox-c317", "akuvox-it83"}
	GenPhones   = []string{"yealink-t54w", "yealink-t46u", "yealink-t57w", "yealink-t33g", "grandstream-grp2614", "grandstream-gxp2170"}
	GenDoors    = []string{"akuvox-x916", "akuvox-r20a", "grandstream-gds3710", "akuvox-e12w", "akuvox-r29c", "grandstream-gds3705"}
)

var awkwardNames = []string{
	`Seán "Jack" O'Brien`, "Zoë & Ana", "<script>", "a=b; c#d", "Ünal Çelik", "Line\nBreak", "  padded  ", "Ⅻ 東京",
}

var plainFirst = []string{"Mary", "John", "Aoife", "Ciara", "Liam", "Noah", "Emma", "Oisín", "Sophie", "Jack"}
var plainLast = []string{"Byrne", "Kelly", "Murphy", "Walsh", "Smith", "O'Neill", "Ryan", "Doyle"}

// Generate builds a valid, sorted program. Per residence: its residents
// (each with an app account, a third of them with a desk phone), and an
// indoor monitor; per twenty residences a door station whose keypad reaches
// all twenty and whose buttons call the first few. Residences=2000,
// UsersPerResidence=5 and PhoneEvery=12 give 10 000 users and about 3 000
// devices.
func Generate(o Options) *ir.Program {
	if o.Residences < 1 {
		o.Residences = 1
	}
	if o.UsersPerResidence < 1 {
		o.UsersPerResidence = 1
	}
	if o.PhoneEvery < 1 {
		o.PhoneEvery = 3
	}
	rng := rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed))
	g := &gen{o: o, rng: rng}
	return g.run()
}

type gen struct {
	o    Options
	rng  *rand.Rand
	p    *ir.Program
	line int
	macs map[string]int
}

func (g *gen) origin(object string) ir.Origin {
	g.line += 3
	return ir.Origin{File: "residents.pbx.hcl", Line: g.line, Column: 1, Byte: g.line * 40, EndLine: g.line, EndColumn: 10, EndByte: g.line*40 + 9, Object: object}
}

func (g *gen) person() string {
	if g.o.Awkward && g.rng.IntN(3) == 0 {
		return awkwardNames[g.rng.IntN(len(awkwardNames))]
	}
	return plainFirst[g.rng.IntN(len(plainFirst))] + " " + plainLast[g.rng.IntN(len(plainLast))]
}

func (g *gen) mac(oui string) string {
	g.macs[oui]++
	return fmt.Sprintf("%s%06x", oui, g.macs[oui])
}

var ouis = map[string]string{"akuvox": "0c1105", "yealink": "805ec0", "grandstream": "c074ad"}

func vendorOf(model string) string {
	for i := 0; i < len(model); i++ {
		if model[i] == '-' {
			return model[:i]
		}
	}
	return model
}

var dtmfCodes = []string{"#", "1", "2", "*", "9", "*1", "12", "#9", "0"}

func (g *gen) run() *ir.Program {
	o := g.o
	g.macs = map[string]int{}
	domain := "gen.example.net"
	sip := ir.SIP{Server: domain, Port: 5060, Transport: "udp", Expiry: secs(300)}
	tzs := []string{"Europe/Dublin", "Europe/Berlin", "America/New_York", "Australia/Sydney", "Asia/Kolkata", "UTC"}
	tz := tzs[g.rng.IntN(len(tzs))]
	p := &ir.Program{
		Version: ir.Version,
		Site: ir.Site{Name: "generated", DisplayName: "Generated site", Domain: domain, Country: "IE",
			Timezone: tz, Emergency: []string{"112", "999"}, NTP: []string{"pool.ntp.org"},
			ProvisionURL: "https://" + domain + "/provision/", Origin: g.origin(`site "generated"`)},
	}
	g.p = p
	p.Numbers = append(p.Numbers, ir.Number{Number: "*97", Action: ir.Action{Kind: ir.ActionVoicemail}, Origin: p.Site.Origin})

	ext := 2000
	var directory []ir.Contact
	type resident struct {
		user      int // index into p.Users
		endpoints []string
	}
	residents := make([][]resident, o.Residences)
	labels := make([]string, o.Residences)

	// People, their accounts and phones.
	for r := 0; r < o.Residences; r++ {
		rname := fmt.Sprintf("r%04d", r)
		labels[r] = strconv.Itoa(100 + r)
		for u := 0; u < o.UsersPerResidence; u++ {
			uname := fmt.Sprintf("%s-u%d", rname, u)
			obj := fmt.Sprintf("user %q", uname)
			uo := g.origin(obj)
			ext++
			user := ir.User{Name: uname, DisplayName: g.person(), Email: uname + "@example.com", Role: "user",
				Residence: rname, Extension: strconv.Itoa(ext), Rotation: g.rng.IntN(3), Origin: uo}
			if u == 0 {
				user.Role = "owner"
			}
			if g.rng.IntN(200) == 0 {
				user.Directory = true
			}
			app := ir.AccountName(ir.AccountApp, uname)
			p.Accounts = append(p.Accounts, ir.Account{Name: app, Kind: ir.AccountApp, Username: uname, AuthName: uname,
				DisplayName: user.DisplayName, Owner: ir.UserRef(uname), Rotation: user.Rotation, Origin: uo})
			eps := []string{app}
			if (r*o.UsersPerResidence+u)%o.PhoneEvery == 0 {
				model := GenPhones[(r+u)%len(GenPhones)]
				dname := "desk-" + uname
				acct := ir.AccountName(ir.AccountDevice, dname)
				do := g.origin(fmt.Sprintf("device %q", dname))
				p.Accounts = append(p.Accounts, ir.Account{Name: acct, Kind: ir.AccountDevice, Username: dname, AuthName: dname,
					DisplayName: user.DisplayName, Owner: ir.UserRef(uname), Device: dname, Rotation: g.rng.IntN(2), Origin: do})
				p.Devices = append(p.Devices, ir.Device{Name: dname, Model: model, Vendor: vendorOf(model), Kind: ir.Phone,
					MAC: g.mac(ouis[vendorOf(model)]), Account: acct, User: uname, Timezone: tz, SIP: sip,
					LineKeys: []ir.LineKey{{Index: 1, Type: ir.KeyLine, Label: user.DisplayName, Origin: do}},
					Origin:   do})
				eps = append(eps, acct)
			}
			if g.rng.IntN(4) != 0 {
				user.Mailbox = uname
				p.Mailboxes = append(p.Mailboxes, ir.Mailbox{Name: uname, Owner: ir.UserRef(uname), Origin: uo})
			}
			timeout := secs(15 + 5*g.rng.IntN(4))
			fb := ir.Fallback{Kind: ir.FallbackHangup}
			if user.Mailbox != "" {
				fb = ir.Fallback{Kind: ir.FallbackVoicemail, Mailbox: user.Mailbox}
			}
			user.Endpoints = append([]string(nil), eps...)
			user.Ring = ir.Ring{Strategy: ir.Simultaneous, Timeout: timeout,
				Legs:     []ir.Leg{{Label: "user." + uname, Accounts: eps, Timeout: timeout}},
				NoAnswer: fb, Busy: fb, Decline: fb}
			p.Numbers = append(p.Numbers, ir.Number{Number: user.Extension,
				Action: ir.Action{Kind: ir.ActionRing, Target: ir.UserRef(uname)}, Origin: uo})
			if user.Directory {
				directory = append(directory, ir.Contact{Name: user.DisplayName, Number: user.Extension, Origin: uo})
			}
			p.Users = append(p.Users, user)
			residents[r] = append(residents[r], resident{user: len(p.Users) - 1, endpoints: eps})
		}
	}

	// Residences and their monitors.
	for r := 0; r < o.Residences; r++ {
		rname := fmt.Sprintf("r%04d", r)
		ro := g.origin(fmt.Sprintf("residence %q", rname))
		mname := "mon-" + rname
		model := GenMonitors[r%len(GenMonitors)]
		macct := ir.AccountName(ir.AccountDevice, mname)
		mo := g.origin(fmt.Sprintf("device %q", mname))
		p.Accounts = append(p.Accounts, ir.Account{Name: macct, Kind: ir.AccountDevice, Username: mname, AuthName: mname,
			DisplayName: labels[r], Owner: ir.ResidenceRef(rname), Device: mname, Origin: mo})
		contacts := append([]ir.Contact(nil), directory...)
		res := ir.Residence{Name: rname, Label: labels[r], Monitors: []string{mname}, Origin: ro}
		strategy := ir.Simultaneous
		if g.rng.IntN(4) == 0 {
			strategy = ir.Sequential
		}
		total := secs(30 + 10*g.rng.IntN(3))
		leg := total
		if strategy == ir.Sequential {
			leg = secs(10)
		}
		res.Ring = ir.Ring{Strategy: strategy, Timeout: total,
			Legs: []ir.Leg{{Label: "device." + mname, Accounts: []string{macct}, Timeout: leg}}}
		owner := ""
		for _, rs := range residents[r] {
			u := &p.Users[rs.user]
			res.Users = append(res.Users, u.Name)
			res.Ring.Legs = append(res.Ring.Legs, ir.Leg{Label: "user." + u.Name,
				Accounts: append([]string(nil), rs.endpoints...), Timeout: leg})
			if owner == "" && u.Mailbox != "" {
				owner = u.Mailbox
			}
			if !u.Directory {
				contacts = append(contacts, ir.Contact{Name: u.DisplayName, Number: u.Extension, Origin: u.Origin})
			}
		}
		fb := ir.Fallback{Kind: ir.FallbackHangup}
		if owner != "" {
			fb = ir.Fallback{Kind: ir.FallbackVoicemail, Mailbox: owner}
		}
		res.Ring.NoAnswer, res.Ring.Busy, res.Ring.Decline = fb, fb, ir.Fallback{Kind: ir.FallbackHangup}
		p.Residences = append(p.Residences, res)
		p.Devices = append(p.Devices, ir.Device{Name: mname, Model: model, Vendor: vendorOf(model), Kind: ir.Monitor,
			MAC: g.mac(ouis[vendorOf(model)]), Account: macct, Residence: rname, Timezone: tz, SIP: sip,
			Contacts: contacts, UnlockDTMF: "#", Origin: mo})
	}

	// Door stations, one per twenty residences.
	for d, first := 0, 0; first < o.Residences; d, first = d+1, first+20 {
		dname := fmt.Sprintf("door-%03d", d)
		model := GenDoors[d%len(GenDoors)]
		acct := ir.AccountName(ir.AccountDevice, dname)
		do := g.origin(fmt.Sprintf("device %q", dname))
		loc := fmt.Sprintf("Entrance %d", d+1)
		if o.Awkward {
			loc = g.person()
		}
		p.Accounts = append(p.Accounts, ir.Account{Name: acct, Kind: ir.AccountDevice, Username: dname, AuthName: dname,
			DisplayName: loc, Owner: ir.DeviceRef(dname), Device: dname, Rotation: g.rng.IntN(2), Origin: do})
		dev := ir.Device{Name: dname, Model: model, Vendor: vendorOf(model), Kind: ir.DoorStation,
			MAC: g.mac(ouis[vendorOf(model)]), Location: loc, Account: acct, Timezone: tz, SIP: sip, Keypad: true, Origin: do}
		last := min(first+20, o.Residences)
		for r := first; r < last; r++ {
			target := ir.ResidenceRef(fmt.Sprintf("r%04d", r))
			p.Entries = append(p.Entries, ir.Entry{Device: dname, Code: labels[r], Target: target, Origin: do})
			if r-first < 3 {
				dev.Buttons = append(dev.Buttons, ir.Button{Index: r - first + 1, Label: strconv.Itoa(r - first + 1),
					Dial: labels[r], Target: target, Origin: do})
			}
		}
		nrelays := 1 + g.rng.IntN(2)
		for i := 1; i <= nrelays; i++ {
			dev.Relays = append(dev.Relays, ir.Relay{Name: fmt.Sprintf("relay-%d", i), Index: i,
				DTMF: dtmfCodes[g.rng.IntN(len(dtmfCodes))], Hold: ir.Duration(time.Duration(1+g.rng.IntN(10)) * time.Second),
				Trigger: ir.Trigger{Policy: ir.TriggerCalled}, Origin: do})
		}
		if nrelays == 2 && dev.Relays[0].DTMF == dev.Relays[1].DTMF {
			dev.Relays[1].DTMF = "*9"
			if dev.Relays[0].DTMF == "*9" {
				dev.Relays[1].DTMF = "#9"
			}
		}
		p.Devices = append(p.Devices, dev)
	}

	// Phones get an open-door key for their user's first door station.
	for i := range p.Devices {
		dev := &p.Devices[i]
		if dev.Kind != ir.Phone {
			continue
		}
		var r int
		fmt.Sscanf(dev.User, "r%04d", &r)
		door := p.Devices[len(p.Devices)-1-(o.Residences-1)/20+r/20]
		dev.LineKeys = append(dev.LineKeys, ir.LineKey{Index: 2, Type: ir.KeyDTMF, Value: door.Relays[0].DTMF,
			Label: "Open door", Origin: door.Relays[0].Origin})
	}
	p.Sort()
	return p
}
