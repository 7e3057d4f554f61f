package akuvox_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/provision/akuvox"
	"switchboard/compiler/provision/devfile"
)

type fixedPasswords struct{}

func (fixedPasswords) SIPPassword(a ir.Account) string { return "pw-" + a.Username }

func render(t *testing.T, p *ir.Program, names ...string) (map[string]map[string]string, []devfile.Warning) {
	t.Helper()
	var devs []*ir.Device
	for _, n := range names {
		devs = append(devs, p.Device(n))
	}
	files, warns := akuvox.Render(p, devs, fixedPasswords{})
	out := map[string]map[string]string{}
	for _, f := range files {
		if f.Path == akuvox.ContactsPath(p.Device(f.Device).MAC) {
			continue // TestMonitor reads it
		}
		kvs, err := akuvox.Parse(f.Data)
		if err != nil {
			t.Fatalf("%s: %v", f.Path, err)
		}
		if f.Mode != devfile.ModeSecret || f.Path != p.Device(f.Device).MAC+".cfg" {
			t.Errorf("%s: mode %v", f.Path, f.Mode)
		}
		out[f.Device] = devfile.KVMap(kvs)
	}
	return out, warns
}

func TestDoorStationKeys(t *testing.T) {
	p := irtest.HarbourView()
	got, _ := render(t, p, "front-gate", "lobby")
	fg := got["front-gate"]
	for k, want := range map[string]string{
		"Config.Account1.GENERAL.UserName":         "front-gate",
		"Config.Account1.GENERAL.Pwd":              "pw-front-gate",
		"Config.Account1.SIP.Server":               "harbour-view.example.net",
		"Config.Account1.SIP.TransType":            "0",
		"Config.Account1.REG.Timeout":              "300",
		"Config.DoorSetting.DTMF.Code1":            "#",
		"Config.Programable.SOFTKEY01.LocalParam1": "1A;;;;;;;",
		"Config.Settings.SNTP.TimeZone":            "GMT+0:00",
	} {
		if fg[k] != want {
			t.Errorf("front-gate %s = %q, want %q", k, fg[k], want)
		}
	}
	lobby := got["lobby"]
	if lobby["Config.DoorSetting.RELAY.HoldDelayB"] != "3" || lobby["Config.DoorSetting.DTMF.Code2"] != "2" {
		t.Errorf("lobby relay B: %v", lobby)
	}
	if _, ok := lobby["Config.DoorSetting.RELAY.RelayBDelay"]; ok {
		t.Error("x916 got the R20-family relay key")
	}
	if lobby["Config.DoorSetting.DISPLAY.Key3Number"] != "101" || lobby["Config.DoorSetting.DISPLAY.Key4Type"] != "6" {
		t.Errorf("lobby homepage keys: %v", lobby)
	}
}

func TestWarnings(t *testing.T) {
	p := irtest.HarbourView()
	fg := p.Device("front-gate")
	fg.Keypad = true
	fg.SIP.Transport = "tls"
	fg.Relays = append(fg.Relays, ir.Relay{Name: "b", Index: 2, DTMF: "x9", Hold: fg.Relays[0].Hold, Trigger: fg.Relays[0].Trigger},
		ir.Relay{Name: "c", Index: 3, DTMF: "3", Hold: fg.Relays[0].Hold, Trigger: fg.Relays[0].Trigger},
		ir.Relay{Name: "e", Index: 5, DTMF: "5", Hold: fg.Relays[0].Hold, Trigger: fg.Relays[0].Trigger})
	got, warns := render(t, p, "front-gate", "monitor-1a")
	var features []string
	for _, w := range warns {
		shared := ""
		if w.Shared {
			shared = " (shared)"
		}
		features = append(features, w.Device+": "+w.Feature+shared)
	}
	// The keypad needs no setting and relay c is within the AutoP keys:
	// neither is warned about here (the check pass compares them with the
	// catalogue). Relay e has no AutoP key.
	want := []string{"front-gate: SIP transport tls (shared)", "front-gate: relay b", "front-gate: relay e",
		"front-gate: DTMF code length"}
	if d := cmp.Diff(want, features); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	if got["front-gate"]["Config.DoorSetting.DTMF.Code3"] != "3" {
		t.Error("relay c was not written")
	}
	if _, ok := got["front-gate"]["Config.DoorSetting.DTMF.Code5"]; ok {
		t.Error("relay e was written")
	}
}

// TestEveryCatalogueModel renders a device of every Akuvox model of the
// catalogue, used as the catalogue says: each has a key map, and none gets
// a model or kind warning.
func TestEveryCatalogueModel(t *testing.T) {
	p := irtest.HarbourView()
	for _, m := range catalogue.Models() {
		if m.Vendor.ID != akuvox.Vendor {
			continue
		}
		if !slices.Contains(akuvox.Models(), m.ID) {
			t.Errorf("%s: no key map", m.ID)
		}
		var d *ir.Device
		switch m.Kind {
		case catalogue.DoorStation:
			d = p.Device("lobby")
		case catalogue.Monitor:
			d = p.Device("monitor-1a")
		default:
			t.Errorf("%s: Akuvox %s", m.ID, m.Kind)
			continue
		}
		dev := *d
		dev.Model = m.ID
		files, warns := akuvox.Render(p, []*ir.Device{&dev}, fixedPasswords{})
		if want := map[bool]int{true: 2, false: 1}[m.Kind == catalogue.Monitor]; len(files) != want {
			t.Fatalf("%s: %d files, want %d (a monitor's contacts are the second)", m.ID, len(files), want)
		}
		if _, err := akuvox.Parse(files[0].Data); err != nil {
			t.Errorf("%s: %v", m.ID, err)
		}
		for _, w := range warns {
			if w.Feature == "model" || w.Feature == "device kind" {
				t.Errorf("%s: %s: %s", m.ID, w.Feature, w.Detail)
			}
		}
	}
}

func TestAwkwardValuesStayOnOneLine(t *testing.T) {
	p := irtest.HarbourView()
	p.Device("front-gate").Location = "Gate\nConfig.Injected = 1"
	got, _ := render(t, p, "front-gate")
	if _, ok := got["front-gate"]["Config.Injected"]; ok {
		t.Fatal("a newline in a value injected a setting")
	}
	if v := got["front-gate"]["Config.DoorSetting.DEVICENODE.Location"]; v != "Gate Config.Injected = 1" {
		t.Errorf("location = %q", v)
	}
}

func FuzzParse(f *testing.F) {
	p := irtest.HarbourView()
	files, _ := akuvox.Render(p, []*ir.Device{p.Device("lobby"), p.Device("monitor-1a")}, fixedPasswords{})
	for _, file := range files {
		f.Add(file.Data)
	}
	f.Add([]byte("; comment\nConfig.A.B = x = y\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		kvs, err := akuvox.Parse(data)
		if err != nil {
			return
		}
		// What parses renders back to a file that parses to the same
		// settings (values that survive OneLine unchanged).
		kf := devfile.NewKVFile()
		for _, kv := range kvs {
			kf.Set(kv.Key, kv.Value)
		}
		again, err := akuvox.Parse(kf.Bytes())
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, kf.Bytes())
		}
		want := devfile.KVMap(kvs)
		for k, v := range want {
			want[k] = devfile.OneLine(v)
		}
		if d := cmp.Diff(want, devfile.KVMap(again)); d != "" {
			t.Fatalf("round trip (-want +got):\n%s", d)
		}
	})
}

// TestMonitor: a monitor's file carries the remote-relay unlock code, and
// its contact list file the residents and the directory, in order.
func TestMonitor(t *testing.T) {
	p := irtest.HarbourView()
	d := p.Device("monitor-1a")
	files, warns := akuvox.Render(p, []*ir.Device{d}, fixedPasswords{})
	if len(warns) != 0 {
		t.Errorf("warnings: %+v", warns)
	}
	if len(files) != 2 || files[1].Path != akuvox.ContactsPath(d.MAC) || files[1].Secret() {
		t.Fatalf("files %v", files)
	}
	kvs, err := akuvox.Parse(files[0].Data)
	if err != nil {
		t.Fatal(err)
	}
	if got := devfile.KVMap(kvs)[akuvox.UnlockKey]; got != d.UnlockDTMF || got == "" {
		t.Errorf("unlock code %q, want %q", got, d.UnlockDTMF)
	}
	got, err := akuvox.ParseContacts(files[1].Data)
	if err != nil {
		t.Fatal(err)
	}
	var want []akuvox.Contact
	for _, c := range d.Contacts {
		want = append(want, akuvox.Contact{Name: c.Name, Phone: c.Number, Group: "Default"})
	}
	if diff := cmp.Diff(want, got); diff != "" || len(want) == 0 {
		t.Errorf("contacts (-want +got):\n%s", diff)
	}
}
