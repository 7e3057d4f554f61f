// Package irtest provides IR programs for tests and benchmarks: a small
// hand-built site (HarbourView) covering every node type and all three
// device vendors, and a generator (Generate) of valid sites of any size.
// Programs are built directly, without the language loader, so the packages
// downstream of the IR can be tested on their own.
package irtest

import (
	"time"

	"switchboard/compiler/ir"
)

// File is the site file name used in the origins of HarbourView.
const File = "site.pbx.hcl"

func at(line int, object string) ir.Origin {
	return ir.Origin{File: File, Line: line, Column: 1, EndLine: line, EndColumn: 2, Object: object}
}

func secs(n int) ir.Duration { return ir.Duration(time.Duration(n) * time.Second) }

// HarbourView returns the harbour-view site of the design card, extended so
// that every kind of IR node appears once: three residents in two
// residences, a mailbox and a conference room, a trunk with a DDI, and
// devices from every vendor:
//
//	front-gate   akuvox-r29c          door station, one button
//	lobby        akuvox-x916          touch door station, keypad, two relays
//	monitor-1a   akuvox-c315          indoor monitor of apt-1a
//	side-gate    grandstream-gds3710  door station, two doors
//	desk-101     yealink-t54w         Mary's desk phone, open-door key
//	desk-102     yealink-t46u         John's desk phone
//	desk-103     grandstream-grp2614  Aoife's desk phone
//
// Each call returns a fresh, sorted, valid program.
func HarbourView() *ir.Program {
	sip := ir.SIP{Server: "harbour-view.example.net", Port: 5060, Transport: "udp", Expiry: secs(300)}
	const tz = "Europe/Dublin"

	voicemail := func(box string) ir.Fallback { return ir.Fallback{Kind: ir.FallbackVoicemail, Mailbox: box} }
	hangup := ir.Fallback{Kind: ir.FallbackHangup}

	p := &ir.Program{
		Version: ir.Version,
		Site: ir.Site{
			Name:         "harbour-view",
			DisplayName:  "Harbour View Apartments",
			Domain:       "harbour-view.example.net",
			Country:      "IE",
			Timezone:     tz,
			Emergency:    []string{"112", "999"},
			NTP:          []string{"pool.ntp.org"},
			ProvisionURL: "https://harbour-view.example.net/provision/",
			Origin:       at(1, `site "harbour-view"`),
		},
		Accounts: []ir.Account{
			{Name: "app.aoife", Kind: ir.AccountApp, Username: "aoife", AuthName: "aoife", DisplayName: "Aoife Kelly",
				Owner: ir.UserRef("aoife"), Origin: at(60, `user "aoife"`)},
			{Name: "app.john", Kind: ir.AccountApp, Username: "john", AuthName: "john", DisplayName: "John Byrne",
				Owner: ir.UserRef("john"), Rotation: 1, Origin: at(45, `user "john"`)},
			{Name: "app.mary", Kind: ir.AccountApp, Username: "mary", AuthName: "mary", DisplayName: "Mary Byrne",
				Owner: ir.UserRef("mary"), Origin: at(25, `user "mary"`)},
			{Name: "device.desk-101", Kind: ir.AccountDevice, Username: "desk-101", AuthName: "desk-101", DisplayName: "Mary Byrne",
				Owner: ir.UserRef("mary"), Device: "desk-101", Origin: at(120, `device "desk-101"`)},
			{Name: "device.desk-102", Kind: ir.AccountDevice, Username: "desk-102", AuthName: "desk-102", DisplayName: "John Byrne",
				Owner: ir.UserRef("john"), Device: "desk-102", Origin: at(126, `device "desk-102"`)},
			{Name: "device.desk-103", Kind: ir.AccountDevice, Username: "desk-103", AuthName: "desk-103", DisplayName: "Aoife Kelly",
				Owner: ir.UserRef("aoife"), Device: "desk-103", Origin: at(132, `device "desk-103"`)},
			{Name: "device.front-gate", Kind: ir.AccountDevice, Username: "front-gate", AuthName: "front-gate", DisplayName: "Front gate",
				Owner: ir.DeviceRef("front-gate"), Device: "front-gate", Origin: at(75, `device "front-gate"`)},
			{Name: "device.lobby", Kind: ir.AccountDevice, Username: "lobby", AuthName: "lobby", DisplayName: "Lobby",
				Owner: ir.DeviceRef("lobby"), Device: "lobby", Rotation: 2, Origin: at(88, `device "lobby"`)},
			{Name: "device.monitor-1a", Kind: ir.AccountDevice, Username: "monitor-1a", AuthName: "monitor-1a", DisplayName: "1A",
				Owner: ir.ResidenceRef("apt-1a"), Device: "monitor-1a", Origin: at(108, `device "monitor-1a"`)},
			{Name: "device.side-gate", Kind: ir.AccountDevice, Username: "side-gate", AuthName: "side-gate", DisplayName: "Side gate & bins",
				Owner: ir.DeviceRef("side-gate"), Device: "side-gate", Origin: at(112, `device "side-gate"`)},
		},
		Users: []ir.User{
			{Name: "aoife", DisplayName: "Aoife Kelly", Email: "aoife@example.com", Role: "user", Residence: "apt-1b",
				Extension: "103", Endpoints: []string{"app.aoife", "device.desk-103"}, Directory: true,
				Ring: ir.Ring{Strategy: ir.Simultaneous, Timeout: secs(30),
					Legs:     []ir.Leg{{Label: "user.aoife", Accounts: []string{"app.aoife", "device.desk-103"}, Timeout: secs(30)}},
					NoAnswer: hangup, Busy: hangup, Decline: hangup},
				Origin: at(55, `user "aoife"`)},
			{Name: "john", DisplayName: "John Byrne", Email: "john@example.com", Role: "user", Residence: "apt-1a",
				Extension: "102", Endpoints: []string{"app.john", "device.desk-102"}, Mailbox: "john",
				Ring: ir.Ring{Strategy: ir.Simultaneous, Timeout: secs(30),
					Legs:     []ir.Leg{{Label: "user.john", Accounts: []string{"app.john", "device.desk-102"}, Timeout: secs(30)}},
					NoAnswer: voicemail("john"), Busy: voicemail("john"), Decline: voicemail("john")},
				Rotation: 1, Origin: at(40, `user "john"`)},
			{Name: "mary", DisplayName: "Mary Byrne", Email: "mary@example.com", Role: "owner", Residence: "apt-1a",
				Extension: "101", Endpoints: []string{"app.mary", "device.desk-101"}, Mailbox: "mary", Directory: true,
				Ring: ir.Ring{Strategy: ir.Simultaneous, Timeout: secs(25),
					Legs:     []ir.Leg{{Label: "user.mary", Accounts: []string{"app.mary", "device.desk-101"}, Timeout: secs(25)}},
					NoAnswer: voicemail("mary"), Busy: voicemail("mary"), Decline: voicemail("mary")},
				Origin: at(20, `user "mary"`)},
		},
		Residences: []ir.Residence{
			{Name: "apt-1a", Label: "1A", Users: []string{"john", "mary"}, Monitors: []string{"monitor-1a"},
				Ring: ir.Ring{Strategy: ir.Simultaneous, Timeout: secs(30),
					Legs: []ir.Leg{
						{Label: "device.monitor-1a", Accounts: []string{"device.monitor-1a"}, Timeout: secs(30)},
						{Label: "user.mary", Accounts: []string{"app.mary", "device.desk-101"}, Timeout: secs(30)},
						{Label: "user.john", Accounts: []string{"app.john", "device.desk-102"}, Timeout: secs(30)},
					},
					NoAnswer: voicemail("mary"), Busy: voicemail("mary"), Decline: hangup},
				Origin: at(10, `residence "apt-1a"`)},
			{Name: "apt-1b", Label: "1B", Users: []string{"aoife"},
				Ring: ir.Ring{Strategy: ir.Sequential, Timeout: secs(40),
					Legs: []ir.Leg{
						{Label: "user.aoife", Accounts: []string{"app.aoife"}, Timeout: secs(15)},
						{Label: "user.aoife", Accounts: []string{"device.desk-103"}, Timeout: secs(25)},
					},
					NoAnswer: hangup, Busy: hangup, Decline: hangup},
				Origin: at(15, `residence "apt-1b"`)},
		},
		Mailboxes: []ir.Mailbox{
			{Name: "john", Owner: ir.UserRef("john"), Origin: at(40, `user "john"`)},
			{Name: "mary", Owner: ir.UserRef("mary"), Origin: at(20, `user "mary"`)},
		},
		Numbers: []ir.Number{
			{Number: "*97", Action: ir.Action{Kind: ir.ActionVoicemail}, Origin: at(1, `site "harbour-view"`)},
			{Number: "101", Action: ir.Action{Kind: ir.ActionRing, Target: ir.UserRef("mary")}, Origin: at(27, `user "mary"`)},
			{Number: "102", Action: ir.Action{Kind: ir.ActionRing, Target: ir.UserRef("john")}, Origin: at(42, `user "john"`)},
			{Number: "103", Action: ir.Action{Kind: ir.ActionRing, Target: ir.UserRef("aoife")}, Origin: at(57, `user "aoife"`)},
			{Number: "8101", Action: ir.Action{Kind: ir.ActionConference, Target: ir.ConferenceRef("mary")}, Origin: at(33, `user "mary"`)},
		},
		Entries: []ir.Entry{
			{Device: "front-gate", Code: "1A", Target: ir.ResidenceRef("apt-1a"), Origin: at(79, `device "front-gate"`)},
			{Device: "lobby", Code: "101", Target: ir.UserRef("mary"), Origin: at(94, `device "lobby"`)},
			{Device: "lobby", Code: "1A", Target: ir.ResidenceRef("apt-1a"), Origin: at(92, `device "lobby"`)},
			{Device: "lobby", Code: "1B", Target: ir.ResidenceRef("apt-1b"), Origin: at(93, `device "lobby"`)},
			{Device: "side-gate", Code: "1B", Target: ir.ResidenceRef("apt-1b"), Origin: at(115, `device "side-gate"`)},
		},
		DDIs: []ir.DDI{
			{Number: "+35315550101", Trunk: "carrier", Target: ir.UserRef("mary"), Origin: at(32, `user "mary"`)},
		},
		Conferences: []ir.Conference{
			{Name: "mary", Number: "8101", Owner: ir.UserRef("mary"), Origin: at(33, `user "mary"`)},
		},
		Trunks: []ir.Trunk{
			{Name: "carrier", Host: "sip.carrier.example", Port: 5060, Transport: "udp",
				DDIs:     []string{"+35315550100", "+35315550101", "+35315550102"},
				Username: "var.trunk_user", Password: "var.trunk_password",
				Origin: at(140, `trunk "carrier"`)},
		},
		Devices: []ir.Device{
			{Name: "desk-101", Model: "yealink-t54w", Vendor: "yealink", Kind: ir.Phone, MAC: "805ec0112233",
				Account: "device.desk-101", User: "mary", Timezone: tz, SIP: sip,
				Contacts: []ir.Contact{
					{Name: "Aoife Kelly", Number: "103", Origin: at(55, `user "aoife"`)},
					{Name: "Mary Byrne", Number: "101", Origin: at(20, `user "mary"`)},
				},
				LineKeys: []ir.LineKey{
					{Index: 1, Type: ir.KeyLine, Label: "Mary Byrne", Origin: at(120, `device "desk-101"`)},
					{Index: 2, Type: ir.KeyDTMF, Value: "#", Label: "Open door", Origin: at(81, `device "front-gate"`)},
					{Index: 3, Type: ir.KeySpeedDial, Value: "103", Label: "Aoife Kelly", Origin: at(55, `user "aoife"`)},
				},
				Origin: at(120, `device "desk-101"`)},
			{Name: "desk-102", Model: "yealink-t46u", Vendor: "yealink", Kind: ir.Phone, MAC: "805ec0445566",
				Account: "device.desk-102", User: "john", Timezone: tz, SIP: sip,
				LineKeys: []ir.LineKey{
					{Index: 1, Type: ir.KeyLine, Label: "John Byrne", Origin: at(126, `device "desk-102"`)},
					{Index: 2, Type: ir.KeyDTMF, Value: "#", Label: "Open door", Origin: at(81, `device "front-gate"`)},
				},
				Origin: at(126, `device "desk-102"`)},
			{Name: "desk-103", Model: "grandstream-grp2614", Vendor: "grandstream", Kind: ir.Phone, MAC: "c074ad010203",
				Account: "device.desk-103", User: "aoife", Timezone: tz, SIP: sip,
				Contacts: []ir.Contact{
					{Name: "Aoife Kelly", Number: "103", Origin: at(55, `user "aoife"`)},
					{Name: "Mary Byrne", Number: "101", Origin: at(20, `user "mary"`)},
				},
				LineKeys: []ir.LineKey{
					{Index: 1, Type: ir.KeyLine, Label: "Aoife Kelly", Origin: at(132, `device "desk-103"`)},
					{Index: 2, Type: ir.KeyDTMF, Value: "5", Label: "Open door", Origin: at(117, `device "side-gate"`)},
				},
				Origin: at(132, `device "desk-103"`)},
			{Name: "front-gate", Model: "akuvox-r29c", Vendor: "akuvox", Kind: ir.DoorStation, MAC: "0c1105123456",
				Location: "Front gate", Account: "device.front-gate", Timezone: tz, SIP: sip,
				Buttons: []ir.Button{
					{Index: 1, Label: "1", Dial: "1A", Target: ir.ResidenceRef("apt-1a"), Origin: at(79, `device "front-gate"`)},
				},
				Relays: []ir.Relay{
					{Name: "door", Index: 1, DTMF: "#", Hold: secs(5), Trigger: ir.Trigger{Policy: ir.TriggerCalled}, Origin: at(81, `device "front-gate"`)},
				},
				Origin: at(75, `device "front-gate"`)},
			{Name: "lobby", Model: "akuvox-x916", Vendor: "akuvox", Kind: ir.DoorStation, MAC: "0c1105aabbcc",
				Location: "Lobby", Account: "device.lobby", Timezone: tz, SIP: sip,
				Buttons: []ir.Button{
					{Index: 1, Label: "1A", Dial: "1A", Target: ir.ResidenceRef("apt-1a"), Origin: at(92, `device "lobby"`)},
					{Index: 2, Label: "1B", Dial: "1B", Target: ir.ResidenceRef("apt-1b"), Origin: at(93, `device "lobby"`)},
					{Index: 3, Label: "Concierge", Dial: "101", Target: ir.UserRef("mary"), Origin: at(94, `device "lobby"`)},
				},
				Keypad: true,
				Relays: []ir.Relay{
					{Name: "door", Index: 1, DTMF: "1", Hold: secs(5), Trigger: ir.Trigger{Policy: ir.TriggerCalled}, Origin: at(96, `device "lobby"`)},
					{Name: "garage", Index: 2, DTMF: "2", Hold: secs(3),
						Trigger: ir.Trigger{Policy: ir.TriggerAccounts, Accounts: []string{"app.mary", "device.desk-101"}}, Origin: at(100, `device "lobby"`)},
				},
				Origin: at(88, `device "lobby"`)},
			{Name: "monitor-1a", Model: "akuvox-c315", Vendor: "akuvox", Kind: ir.Monitor, MAC: "0c1105abcdef",
				Account: "device.monitor-1a", Residence: "apt-1a", Timezone: tz, SIP: sip,
				Contacts: []ir.Contact{
					{Name: "Aoife Kelly", Number: "103", Origin: at(55, `user "aoife"`)},
					{Name: "John Byrne", Number: "102", Origin: at(40, `user "john"`)},
					{Name: "Mary Byrne", Number: "101", Origin: at(20, `user "mary"`)},
				},
				UnlockDTMF: "#",
				Origin:     at(108, `device "monitor-1a"`)},
			{Name: "side-gate", Model: "grandstream-gds3710", Vendor: "grandstream", Kind: ir.DoorStation, MAC: "000b82445566",
				Location: "Side gate & bins", Account: "device.side-gate", Timezone: tz, SIP: sip,
				Buttons: []ir.Button{
					{Index: 1, Label: "1", Dial: "1B", Target: ir.ResidenceRef("apt-1b"), Origin: at(115, `device "side-gate"`)},
				},
				Relays: []ir.Relay{
					{Name: "gate", Index: 1, DTMF: "5", Hold: secs(4), Trigger: ir.Trigger{Policy: ir.TriggerCalled}, Origin: at(117, `device "side-gate"`)},
					{Name: "bins", Index: 2, DTMF: "6", Hold: secs(10), Trigger: ir.Trigger{Policy: ir.TriggerCalled}, Origin: at(119, `device "side-gate"`)},
				},
				Origin: at(112, `device "side-gate"`)},
		},
	}
	p.Sort()
	return p
}
