package grandstream_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/provision/devfile"
	"switchboard/compiler/provision/grandstream"
)

type fixedPasswords struct{}

func (fixedPasswords) SIPPassword(a ir.Account) string { return "pw-" + a.Username }

func render(t *testing.T, p *ir.Program, name string) (*grandstream.Settings, []devfile.Warning) {
	t.Helper()
	d := p.Device(name)
	files, warns := grandstream.Render(p, []*ir.Device{d}, fixedPasswords{})
	// The configuration is the last file; a phone book comes before it.
	last := files[len(files)-1]
	if last.Path != "cfg"+d.MAC+".xml" || !last.Secret() {
		t.Fatalf("files = %v", paths(files))
	}
	s, err := grandstream.Parse(last.Data)
	if err != nil {
		t.Fatalf("%v\n%s", err, last.Data)
	}
	return s, warns
}

func TestDeskPhone(t *testing.T) {
	s, warns := render(t, irtest.HarbourView(), "desk-103")
	if s.Root != "gs_provision" {
		t.Errorf("root %q", s.Root)
	}
	for p, want := range map[int]string{
		35: "desk-103", 36: "desk-103", 34: "pw-desk-103", 47: "harbour-view.example.net",
		130: "0", 32: "5", 2302: "1", 2303: "0", 64: "GMT0IST-1,M3.5.0/01:00:00,M10.5.0/02:00:00",
	} {
		if s.P[p] != want {
			t.Errorf("P%d = %q, want %q", p, s.P[p], want)
		}
	}
	var features []string
	for _, w := range warns {
		features = append(features, w.Feature)
	}
	if d := cmp.Diff([]string{"line key 2"}, features); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
}

func TestDoorSystem(t *testing.T) {
	p := irtest.HarbourView()
	side := p.Device("side-gate")
	side.SIP.Port = 5070
	side.Relays[1].Hold = ir.Duration(45e9)
	s, warns := render(t, p, "side-gate")
	if s.Root != "Device" || s.MAC != "000b82445566" {
		t.Errorf("root %q mac %q", s.Root, s.MAC)
	}
	for pv, want := range map[int]string{
		402: "harbour-view.example.net:5070", 404: "side-gate", 406: "pw-side-gate",
		10457: "5", 15460: "6", 14101: "4", 15466: "20", 14858: "1", 10462: "1B", 407: "Side gate & bins",
	} {
		if s.P[pv] != want {
			t.Errorf("P%d = %q, want %q", pv, s.P[pv], want)
		}
	}
	var features []string
	for _, w := range warns {
		features = append(features, w.Feature)
	}
	if d := cmp.Diff([]string{"time zone", "relay bins"}, features); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
}

// TestEveryCatalogueModel renders a device of every Grandstream model of
// the catalogue: door stations get the GDS document, phones the
// gs_provision one, and none gets a model or kind warning.
func TestEveryCatalogueModel(t *testing.T) {
	var listed []string
	for _, m := range catalogue.Models() {
		if m.Vendor.ID != grandstream.Vendor {
			continue
		}
		listed = append(listed, m.ID)
		p := irtest.HarbourView()
		name, root := "desk-103", "gs_provision"
		if m.Kind == catalogue.DoorStation {
			name, root = "side-gate", "Device"
		}
		p.Device(name).Model = m.ID
		s, warns := render(t, p, name)
		if s.Root != root {
			t.Errorf("%s: root %q, want %q", m.ID, s.Root, root)
		}
		for _, w := range warns {
			if w.Feature == "model" || w.Feature == "device kind" {
				t.Errorf("%s: %s: %s", m.ID, w.Feature, w.Detail)
			}
		}
	}
	if d := cmp.Diff(listed, grandstream.Models()); d != "" {
		t.Errorf("Models (-catalogue +got):\n%s", d)
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{
		"<html></html>",
		"<gs_provision><config><P1>a</P1><P1>b</P1></config></gs_provision>",
		"<gs_provision><config><Q1>a</Q1></config></gs_provision>",
		"<gs_provision><config><P01>a</P01></config></gs_provision>",
		"<gs_provision>",
	} {
		if _, err := grandstream.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	p := irtest.HarbourView()
	files, _ := grandstream.Render(p, []*ir.Device{p.Device("desk-103"), p.Device("side-gate")}, fixedPasswords{})
	for _, file := range files {
		f.Add(file.Data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := grandstream.Parse(data)
		if err != nil {
			return
		}
		if s.Root != "gs_provision" && s.Root != "Device" {
			t.Fatalf("root %q accepted", s.Root)
		}
	})
}

// A BLF key becomes a multi-purpose key in the P23000 block (mode 1 BLF,
// the first account, the person's name, their extension), numbered among
// the BLF keys; it is not warned about.
func TestDeskPhoneBLFKeys(t *testing.T) {
	p := irtest.HarbourView()
	d := p.Device("desk-103")
	next := len(d.LineKeys) + 1
	d.LineKeys = append(d.LineKeys,
		ir.LineKey{Index: next, Type: ir.KeyBLF, Value: "101", Label: "Mary Byrne"},
		ir.LineKey{Index: next + 1, Type: ir.KeyBLF, Value: "102", Label: "Tom Byrne"})
	s, warns := render(t, p, "desk-103")
	got := map[int]string{}
	for n := 23000; n < 23010; n++ {
		if v, ok := s.P[n]; ok {
			got[n] = v
		}
	}
	want := map[int]string{
		23000: "1", 23001: "0", 23002: "Mary Byrne", 23003: "101",
		23005: "1", 23006: "0", 23007: "Tom Byrne", 23008: "102",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("MPK P-values (-want +got):\n%s", d)
	}
	unverified := 0
	for _, w := range warns {
		if w.Feature == fmt.Sprintf("line key %d", next) || w.Feature == fmt.Sprintf("line key %d", next+1) {
			t.Errorf("a BLF key was warned about: %+v", w)
		}
		if w.Feature == "BLF keys" {
			unverified++
		}
	}
	// desk-103 is a GRP2614: the P23000 block is verified for the GXP21xx
	// only, which the warning says once.
	if unverified != 1 {
		t.Errorf("%d warnings that the GRP's BLF keys are unverified, want 1", unverified)
	}
}

func paths(fs []devfile.File) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Path)
	}
	return out
}

// TestPhonebook: a phone with a directory gets its phone book, and P330 to
// P332 point the phone at it; without a provisioning URL it gets a warning
// instead.
func TestPhonebook(t *testing.T) {
	p := irtest.HarbourView()
	p.Site.ProvisionURL = "https://prov.example/site/"
	d := p.Device("desk-103")
	files, _ := grandstream.Render(p, []*ir.Device{d}, fixedPasswords{})
	if d := cmp.Diff([]string{"gs" + d.MAC + "/phonebook.xml", "cfg" + d.MAC + ".xml"}, paths(files)); d != "" {
		t.Fatalf("files (-want +got):\n%s", d)
	}
	s, err := grandstream.Parse(files[1].Data)
	if err != nil {
		t.Fatal(err)
	}
	for n, want := range map[int]string{330: "3", 331: "prov.example/site/gs" + d.MAC, 332: "60", 270: "Aoife Kelly"} {
		if s.P[n] != want {
			t.Errorf("P%d = %q, want %q", n, s.P[n], want)
		}
	}
	book := string(files[0].Data)
	for _, c := range d.Contacts {
		if !strings.Contains(book, "<phonenumber>"+c.Number+"</phonenumber>") {
			t.Errorf("phone book lacks %s:\n%s", c.Number, book)
		}
	}

	p.Site.ProvisionURL = ""
	files, warns := grandstream.Render(p, []*ir.Device{d}, fixedPasswords{})
	if len(files) != 1 || len(warns) != 2 || warns[1].Feature != "directory" {
		t.Errorf("without a provisioning URL: files %v, warnings %+v", paths(files), warns)
	}
}
