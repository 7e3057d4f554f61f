package ir_test

import (
	"bytes"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/rogpeppe/go-internal/txtar"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
)

func TestHarbourViewValid(t *testing.T) {
	if err := irtest.HarbourView().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestGenerateValid(t *testing.T) {
	for _, o := range []irtest.Options{
		{Residences: 1, UsersPerResidence: 1},
		{Residences: 7, UsersPerResidence: 3, Seed: 1},
		{Residences: 45, UsersPerResidence: 2, Seed: 2, Awkward: true},
		{Residences: 120, UsersPerResidence: 4, Seed: 3},
	} {
		p := irtest.Generate(o)
		if err := p.Validate(); err != nil {
			t.Errorf("%+v: %v", o, err)
		}
		if got, want := len(p.Users), o.Residences*o.UsersPerResidence; got != want {
			t.Errorf("%+v: %d users, want %d", o, got, want)
		}
	}
}

func TestGolden(t *testing.T) {
	p := irtest.HarbourView()
	js, err := ir.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	irtest.CheckGolden(t, "testdata/harbour-view.txtar", []txtar.File{
		{Name: "dump", Data: ir.Dump(p)},
		{Name: "dialplan.json", Data: js},
	})
}

// shuffle scrambles every keyed slice, so that Sort has work to do.
func shuffle(p *ir.Program, seed uint64) {
	r := rand.New(rand.NewPCG(seed, seed))
	sh := func(n int, swap func(i, j int)) { r.Shuffle(n, swap) }
	sh(len(p.Accounts), func(i, j int) { p.Accounts[i], p.Accounts[j] = p.Accounts[j], p.Accounts[i] })
	sh(len(p.Users), func(i, j int) { p.Users[i], p.Users[j] = p.Users[j], p.Users[i] })
	sh(len(p.Residences), func(i, j int) { p.Residences[i], p.Residences[j] = p.Residences[j], p.Residences[i] })
	sh(len(p.Numbers), func(i, j int) { p.Numbers[i], p.Numbers[j] = p.Numbers[j], p.Numbers[i] })
	sh(len(p.Entries), func(i, j int) { p.Entries[i], p.Entries[j] = p.Entries[j], p.Entries[i] })
	sh(len(p.Devices), func(i, j int) { p.Devices[i], p.Devices[j] = p.Devices[j], p.Devices[i] })
	for i := range p.Devices {
		d := &p.Devices[i]
		sh(len(d.Buttons), func(i, j int) { d.Buttons[i], d.Buttons[j] = d.Buttons[j], d.Buttons[i] })
		sh(len(d.Contacts), func(i, j int) { d.Contacts[i], d.Contacts[j] = d.Contacts[j], d.Contacts[i] })
	}
	for i := range p.Users {
		u := &p.Users[i]
		sh(len(u.Endpoints), func(i, j int) { u.Endpoints[i], u.Endpoints[j] = u.Endpoints[j], u.Endpoints[i] })
	}
}

func TestMarshalDeterministic(t *testing.T) {
	want, err := ir.Marshal(irtest.Generate(irtest.Options{Residences: 30, UsersPerResidence: 3, Seed: 9, Awkward: true}))
	if err != nil {
		t.Fatal(err)
	}
	for seed := range uint64(5) {
		p := irtest.Generate(irtest.Options{Residences: 30, UsersPerResidence: 3, Seed: 9, Awkward: true})
		shuffle(p, seed)
		got, err := ir.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(want, got) {
			t.Fatalf("shuffle %d: output differs:\n%s", seed, cmp.Diff(string(want), string(got)))
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, p := range []*ir.Program{
		irtest.HarbourView(),
		irtest.Generate(irtest.Options{Residences: 25, UsersPerResidence: 2, Seed: 4, Awkward: true}),
	} {
		data, err := ir.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		q, err := ir.Unmarshal(data)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(p, q, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("round trip (-want +got):\n%s", d)
		}
		again, err := ir.Marshal(q)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(data, again) {
			t.Error("second marshal differs from the first")
		}
	}
}

func TestUnmarshalVersion(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
	}{
		{`{"version": 2, "site": {}}`, "version 2, this build reads version 1"},
		{`{"site": {}}`, "no version"},
		{`{"version": 1, "site": {"name": "x", "domain": "d"}, "bogus": 1}`, "unknown field"},
		{`{"version": 1, "site": {"name": "x", "domain": "d"}} {}`, "after top-level value"},
		{`{"version": 1, "site": {"name": "", "domain": "d"}}`, "site: no name"},
		{`[`, "unexpected end"},
	} {
		_, err := ir.Unmarshal([]byte(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Unmarshal(%s) = %v, want error containing %q", tc.in, err, tc.want)
		}
	}
	_, err := ir.Unmarshal([]byte(`{"version": 7}`))
	var ve *ir.VersionError
	if !errors.As(err, &ve) || ve.Got != 7 {
		t.Errorf("error %v is not a *VersionError for 7", err)
	}
}

func TestMarshalRejectsWrongVersion(t *testing.T) {
	p := irtest.HarbourView()
	p.Version = 0
	if _, err := ir.Marshal(p); err == nil {
		t.Fatal("Marshal accepted version 0")
	}
}

func TestValidateFindsProblems(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(p *ir.Program)
		want   string
	}{
		{"duplicate account", func(p *ir.Program) { p.Accounts[1].Name = p.Accounts[0].Name }, `accounts: duplicate "app.aoife"`},
		{"unsorted users", func(p *ir.Program) { p.Users[0], p.Users[1] = p.Users[1], p.Users[0] }, "out of order"},
		{"duplicate username", func(p *ir.Program) { p.Accounts[1].Username = p.Accounts[0].Username }, `username "aoife" already used`},
		{"bad mac", func(p *ir.Program) { p.Devices[0].MAC = "80:5E:C0:11:22:33" }, "not 12 lower-case hex"},
		{"duplicate mac", func(p *ir.Program) { p.Devices[1].MAC = p.Devices[0].MAC }, "already used by"},
		{"dangling endpoint", func(p *ir.Program) { p.Users[0].Endpoints = []string{"app.nobody"} }, `endpoint "app.nobody" is not an account`},
		{"dangling mailbox", func(p *ir.Program) { p.Users[1].Ring.NoAnswer.Mailbox = "nobody" }, `no such mailbox "nobody"`},
		{"bad fallback", func(p *ir.Program) { p.Residences[0].Ring.Busy = ir.Fallback{Kind: "ring-again"} }, `unknown fallback "ring-again"`},
		{"button without entry", func(p *ir.Program) { p.Device("front-gate").Buttons[0].Dial = "9Z" }, `dials "9Z", which is not an entry`},
		{"button target mismatch", func(p *ir.Program) {
			p.Device("front-gate").Buttons[0].Target = ir.ResidenceRef("apt-1b")
		}, `targets "residence.apt-1b" but entry "1A" goes to "residence.apt-1a"`},
		{"relay without code", func(p *ir.Program) { p.Device("lobby").Relays[0].DTMF = "" }, `relay "door": no DTMF code`},
		{"ddi not in pool", func(p *ir.Program) { p.DDIs[0].Number = "+3530000" }, "not in the pool"},
		{"entry on a phone", func(p *ir.Program) { p.Entries[0].Device = "desk-101"; p.Sort() }, "not a door station"},
		{"number target", func(p *ir.Program) { p.Numbers[1].Action.Target = ir.UserRef("nobody") }, `no such user "nobody"`},
		{"device account of another device", func(p *ir.Program) { p.Device("lobby").Account = "device.front-gate" }, "is not this device's account"},
		{"resident elsewhere", func(p *ir.Program) { p.Residence("apt-1b").Users = []string{"mary"} }, `user "mary" lives in "apt-1a"`},
		{"zero ring timeout", func(p *ir.Program) { p.Users[0].Ring.Timeout = 0 }, "ring timeout must be positive"},
		{"username both referenced and written", func(p *ir.Program) {
			p.Trunks[0].Username, p.Trunks[0].Login = "var.trunk_user", "harbour"
		}, "both a username reference and a login"},
		{"unknown digest algorithm", func(p *ir.Program) { p.Accounts[0].Digest = []string{"SHA-512-256"} }, `digest algorithm "SHA-512-256" is not "MD5" or "SHA-256"`},
		{"digest algorithm twice", func(p *ir.Program) { p.Site.Digest = []string{"MD5", "MD5"} }, `site: digest algorithm "MD5" listed twice`},
		{"backup server without host", func(p *ir.Program) { p.Device("lobby").SIP.Backup = []ir.SIPServer{{Port: 5060}} }, "backup SIP server without a host"},
		{"backup port", func(p *ir.Program) {
			p.Device("lobby").SIP.Backup = []ir.SIPServer{{Server: "sip2.example.net", Port: 70000}}
		}, "backup SIP port 70000 out of range"},
		{"backup is the primary", func(p *ir.Program) {
			d := p.Device("lobby")
			d.SIP.Backup = []ir.SIPServer{{Server: d.SIP.Server, Port: d.SIP.Port}}
		}, "is the primary"},
		{"trigger accounts", func(p *ir.Program) {
			p.Device("lobby").Relays[1].Trigger.Accounts = nil
		}, `trigger policy "accounts" without accounts`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := irtest.HarbourView()
			tc.mutate(p)
			err := p.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestLookups(t *testing.T) {
	p := irtest.HarbourView()
	if a := p.Account("device.lobby"); a == nil || a.Rotation != 2 {
		t.Errorf("Account(device.lobby) = %+v", a)
	}
	if p.Account("device.nope") != nil {
		t.Error("Account found a missing account")
	}
	if e := p.Entry("lobby", "101"); e == nil || e.Target != ir.UserRef("mary") {
		t.Errorf("Entry(lobby, 101) = %+v", e)
	}
	if got := p.VoicemailAccess(); got != "*97" {
		t.Errorf("VoicemailAccess() = %q", got)
	}
	if n := p.Number("8101"); n == nil || n.Action.Kind != ir.ActionConference {
		t.Errorf("Number(8101) = %+v", n)
	}
}

func TestRefText(t *testing.T) {
	r, err := ir.ParseRef("residence.apt-1a")
	if err != nil || r != ir.ResidenceRef("apt-1a") {
		t.Fatalf("ParseRef = %v, %v", r, err)
	}
	for _, bad := range []string{"user", ".x", "user."} {
		if _, err := ir.ParseRef(bad); err == nil {
			t.Errorf("ParseRef(%q) succeeded", bad)
		}
	}
}

func TestOriginText(t *testing.T) {
	for _, o := range []ir.Origin{
		{},
		{File: "site.pbx.hcl", Line: 20, Column: 1, EndLine: 20, EndColumn: 2, Byte: 340, EndByte: 352, Object: `user "mary"`},
		{File: "a:b c.pbx.hcl", Line: 1, Column: 2, EndLine: 3, EndColumn: 4, Byte: 5, EndByte: 6},
		{File: "x.hcl", Line: 1, Column: 1, EndLine: 1, EndColumn: 1, Object: `device "a:1:1-1:1@1-1 b"`},
		{Object: `site "s"`},
	} {
		text, err := o.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back ir.Origin
		if err := back.UnmarshalText(text); err != nil {
			t.Errorf("%q: %v", text, err)
		}
		if back != o {
			t.Errorf("%q read back as %+v, want %+v", text, back, o)
		}
	}
	var o ir.Origin
	for _, bad := range []string{"file", "file:1:2", "file:1:2-3:4@5-6x", "f:1:2-3:4@5"} {
		if err := o.UnmarshalText([]byte(bad)); err == nil {
			t.Errorf("UnmarshalText(%q) succeeded", bad)
		}
	}
}

func TestOriginString(t *testing.T) {
	o := ir.Origin{File: "site.pbx.hcl", Line: 42, Column: 3, Object: `user "mary"`}
	if got, want := o.String(), `site.pbx.hcl:42,3: in user "mary"`; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if got := (ir.Origin{}).String(); got != "(generated)" {
		t.Errorf("zero String() = %q", got)
	}
}

func FuzzUnmarshal(f *testing.F) {
	data, err := ir.Marshal(irtest.HarbourView())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`{"version":1}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ir.Unmarshal(data)
		if err != nil {
			return
		}
		// Whatever Unmarshal accepts is valid and survives a round trip.
		out, err := ir.Marshal(p)
		if err != nil {
			t.Fatalf("Marshal after Unmarshal: %v", err)
		}
		if _, err := ir.Unmarshal(out); err != nil {
			t.Fatalf("re-Unmarshal: %v", err)
		}
		_ = ir.Dump(p)
	})
}

// TestDigestOf: an account's own list, else the site's (also for a name
// that is no account), else MD5 — a dial plan written before the lists
// existed offers MD5.
func TestDigestOf(t *testing.T) {
	p := irtest.HarbourView()
	p.Site.Digest = nil
	for i := range p.Accounts {
		p.Accounts[i].Digest = nil
	}
	p.Accounts[0].Digest = []string{ir.DigestSHA256, ir.DigestMD5}
	got := map[string][]string{"own": p.DigestOf(p.Accounts[0].Name), "none": p.DigestOf(p.Accounts[1].Name), "unknown": p.DigestOf("app.nobody")}
	want := map[string][]string{"own": {"SHA-256", "MD5"}, "none": {"MD5"}, "unknown": {"MD5"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("without a site list (-want +got):\n%s", diff)
	}
	p.Site.Digest = []string{ir.DigestSHA256}
	got = map[string][]string{"own": p.DigestOf(p.Accounts[0].Name), "none": p.DigestOf(p.Accounts[1].Name), "unknown": p.DigestOf("app.nobody")}
	want = map[string][]string{"own": {"SHA-256", "MD5"}, "none": {"SHA-256"}, "unknown": {"SHA-256"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("with a site list (-want +got):\n%s", diff)
	}
}

// TestDumpBackup: a device's backup servers are in the IR dump, one line
// each after its server; a device without has no such line (so dumps of
// sites without nodes are what they were).
func TestDumpBackup(t *testing.T) {
	p := irtest.HarbourView()
	if strings.Contains(string(ir.Dump(p)), "sip-backup") {
		t.Fatal("sip-backup line without backup servers")
	}
	p.Device("lobby").SIP.Backup = []ir.SIPServer{{Server: "sip2.example.net", Port: 5080}, {Server: "192.0.2.3", Port: 5060}}
	var got []string
	for _, l := range strings.Split(string(ir.Dump(p)), "\n") {
		if strings.Contains(l, "sip-backup") {
			got = append(got, strings.TrimSpace(l))
		}
	}
	want := []string{"sip-backup sip2.example.net 5080", "sip-backup 192.0.2.3 5060"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("dump (-want +got):\n%s", d)
	}
}
