package devfile_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision/devfile"
)

func TestNaturalCompare(t *testing.T) {
	in := []string{"linekey.10.type", "linekey.2.type", "linekey.1.value", "linekey.1.type", "a", "account.1.x", "linekey.02.type", "b2", "b10", "b"}
	slices.SortFunc(in, devfile.NaturalCompare)
	want := []string{"a", "account.1.x", "b", "b2", "b10", "linekey.1.type", "linekey.1.value", "linekey.02.type", "linekey.2.type", "linekey.10.type"}
	if d := cmp.Diff(want, in); d != "" {
		t.Errorf("order (-want +got):\n%s", d)
	}
}

func TestKVFile(t *testing.T) {
	f := devfile.NewKVFile("#!version:1.0.0.1")
	f.Set("linekey.10.type", "0")
	f.Set("linekey.2.type", "15")
	f.Set("name", "  Zoë\nO'Brien & <co> = x; y  ")
	f.Set("linekey.2.type", "11")
	got := string(f.Bytes())
	want := "#!version:1.0.0.1\nlinekey.2.type = 11\nlinekey.10.type = 0\nname = Zoë O'Brien & <co> = x; y\n"
	if got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
	kvs, err := devfile.ParseKV([]byte(got), func(l string) bool { return strings.HasPrefix(l, "#") })
	if err != nil {
		t.Fatal(err)
	}
	if m := devfile.KVMap(kvs); m["name"] != "Zoë O'Brien & <co> = x; y" || m["linekey.2.type"] != "11" {
		t.Errorf("parsed %v", m)
	}
}

func TestParseKVErrors(t *testing.T) {
	none := func(string) bool { return false }
	for _, in := range []string{"novalue", " = x", "a = 1\na = 2", "a b = 1"} {
		if _, err := devfile.ParseKV([]byte(in), none); err == nil {
			t.Errorf("ParseKV(%q) succeeded", in)
		}
	}
	kvs, err := devfile.ParseKV([]byte("a=1\r\n\n  b  =  2 = 3 \r\n"), none)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]devfile.KV{{"a", "1"}, {"b", "2 = 3"}}, kvs); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestXMLRoundTrip(t *testing.T) {
	doc := devfile.E("gs_provision",
		devfile.E("config", devfile.T("P3", `Zoë & "Jack" <O'Brien>`), devfile.T("P10462", "")).WithAttr("version", "1"),
	).WithAttr("version", "1")
	data := devfile.XMLDocument(doc)
	want := `<?xml version="1.0" encoding="UTF-8"?>
<gs_provision version="1">
  <config version="1">
    <P3>Zoë &amp; &#34;Jack&#34; &lt;O&#39;Brien&gt;</P3>
    <P10462></P10462>
  </config>
</gs_provision>
`
	if string(data) != want {
		t.Errorf("got:\n%s", data)
	}
	back, err := devfile.ParseXML(data)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(doc, back); d != "" {
		t.Errorf("round trip (-want +got):\n%s", d)
	}
	for _, bad := range []string{"", "<a>", "<a></b>", "<a>x<b/></a>", "<a/><b/>", "text<a/>"} {
		if _, err := devfile.ParseXML([]byte(bad)); err == nil {
			t.Errorf("ParseXML(%q) succeeded", bad)
		}
	}
}

func TestZones(t *testing.T) {
	for _, tc := range []struct {
		name        string
		posix       string
		gmt         string
		noDST       bool
		startHourLT int
	}{
		{name: "Europe/Paris", posix: "CET-1CEST-2,M3.5.0/02:00:00,M10.5.0/03:00:00", gmt: "+1:00"},
		{name: "Europe/Dublin", posix: "GMT0IST-1,M3.5.0/01:00:00,M10.5.0/02:00:00", gmt: "+0:00"},
		{name: "America/New_York", posix: "EST5EDT4,M3.2.0/02:00:00,M11.1.0/02:00:00", gmt: "-5:00"},
		{name: "Australia/Sydney", posix: "AEST-10AEDT-11,M10.1.0/02:00:00,M4.1.0/03:00:00", gmt: "+10:00"},
		{name: "Asia/Kolkata", posix: "IST-5:30", gmt: "+5:30", noDST: true},
		{name: "UTC", posix: "UTC0", gmt: "+0:00", noDST: true},
		{name: "America/Sao_Paulo", posix: "<-03>3", gmt: "-3:00", noDST: true},
	} {
		z, err := devfile.LoadZone(tc.name)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if got := z.POSIX(); got != tc.posix {
			t.Errorf("%s: POSIX() = %q, want %q", tc.name, got, tc.posix)
		}
		if got := devfile.GMTOffset(z.StdOffset); got != tc.gmt {
			t.Errorf("%s: GMTOffset = %q, want %q", tc.name, got, tc.gmt)
		}
		if (z.DST == nil) != tc.noDST || z.Irregular {
			t.Errorf("%s: DST = %+v, irregular %v", tc.name, z.DST, z.Irregular)
		}
	}
	if _, err := devfile.LoadZone("Mars/Olympus_Mons"); err == nil {
		t.Error("unknown zone loaded")
	}
	if got := devfile.ZoneCity("America/New_York"); got != "New_York" {
		t.Errorf("ZoneCity = %q", got)
	}
	z, _ := devfile.LoadZone("Europe/Paris")
	if z.DST.Start.Weekday != time.Sunday || z.DST.Save(z.StdOffset) != 3600 {
		t.Errorf("Paris rule %+v", z.DST)
	}
}

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"a\nb":          "a b",
		"  x\t\r\n":     "x",
		"a\u2028b\x00c": "a b c",
		"plain":         "plain",
	} {
		if got := devfile.OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLookup(t *testing.T) {
	d := &ir.Device{Name: "gate", Model: "akuvox-r29c", Vendor: "akuvox", Kind: ir.DoorStation}
	m, ok := devfile.Lookup(d)
	if !ok || m.Buttons != 6 || !m.Keypad || devfile.Kind(m.Kind) != ir.DoorStation {
		t.Errorf("Lookup(akuvox-r29c) = %+v, %v", m, ok)
	}
	// A model the catalogue does not know gets a stand-in that cuts
	// nothing the profile asks for.
	d = &ir.Device{Name: "x", Model: "akuvox-z99", Vendor: "akuvox", Kind: ir.DoorStation, Keypad: true,
		Buttons: []ir.Button{{Index: 7}}, Relays: []ir.Relay{{Index: 3}}, LineKeys: []ir.LineKey{{Index: 4}}}
	m, ok = devfile.Lookup(d)
	if ok || m.Buttons != 7 || m.Relays != 3 || m.LineKeys != 4 || !m.Keypad || m.Kind != catalogue.DoorStation || m.Vendor.ID != "akuvox" {
		t.Errorf("Lookup(unknown) = %+v, %v", m, ok)
	}
	for _, k := range []ir.DeviceKind{ir.DoorStation, ir.Monitor, ir.Phone} {
		if got := devfile.Kind(devfile.CatalogueKind(k)); got != k {
			t.Errorf("kind %q round-trips to %q", k, got)
		}
	}
}
