package yealink_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/catalogue"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/provision/devfile"
	"switchboard/compiler/provision/yealink"
)

type fixedPasswords struct{}

func (fixedPasswords) SIPPassword(a ir.Account) string { return "pw-" + a.Username }

func renderAll(t *testing.T, p *ir.Program, names ...string) (map[string]devfile.File, []devfile.Warning) {
	t.Helper()
	var devs []*ir.Device
	for _, n := range names {
		devs = append(devs, p.Device(n))
	}
	files, warns := yealink.Render(p, devs, fixedPasswords{})
	out := map[string]devfile.File{}
	for _, f := range files {
		if _, dup := out[f.Path]; dup {
			t.Fatalf("%s written twice", f.Path)
		}
		out[f.Path] = f
	}
	return out, warns
}

func settings(t *testing.T, f devfile.File) (*yealink.Config, map[string]string) {
	t.Helper()
	c, err := yealink.Parse(f.Data)
	if err != nil {
		t.Fatalf("%s: %v\n%s", f.Path, err, f.Data)
	}
	return c, devfile.KVMap(c.Settings)
}

func TestFiles(t *testing.T) {
	p := irtest.HarbourView()
	files, warns := renderAll(t, p, "desk-101", "desk-102")
	if len(warns) != 0 {
		t.Errorf("warnings: %v", warns)
	}
	var names []string
	for n := range files {
		names = append(names, n)
	}
	want := []string{"805ec0112233-directory.xml", "805ec0112233.boot", "805ec0112233.cfg", "805ec0445566.boot", "805ec0445566.cfg",
		"y000000000000.boot", "y000000000096.cfg", "y000000000108.cfg"}
	if d := cmp.Diff(want, slices.Sorted(slices.Values(names))); d != "" {
		t.Errorf("files (-want +got):\n%s", d)
	}
	boot, _ := settings(t, files["y000000000000.boot"])
	if d := cmp.Diff([]string{"y000000000096.cfg", "y000000000108.cfg"}, boot.Includes); d != "" {
		t.Errorf("common boot includes (-want +got):\n%s", d)
	}
	own, _ := settings(t, files["805ec0112233.boot"])
	if d := cmp.Diff([]string{"y000000000096.cfg", "805ec0112233.cfg"}, own.Includes); d != "" {
		t.Errorf("phone boot includes (-want +got):\n%s", d)
	}
	_, m := settings(t, files["805ec0112233.cfg"])
	for k, v := range map[string]string{
		"account.1.user_name":                   "desk-101",
		"account.1.password":                    "pw-desk-101",
		"account.1.sip_server.1.transport_type": "0",
		"account.1.dtmf.type":                   "1",
		"linekey.2.type":                        "11",
		"linekey.2.value":                       "#",
		"sip.notify_reboot_enable":              "0",
		"local_time.time_zone":                  "+0",
		"local_time.start_time":                 "3/5/7/1",
		"voice_mail.number.1":                   "*97",
	} {
		if m[k] != v {
			t.Errorf("%s = %q, want %q", k, m[k], v)
		}
	}
	for path, f := range files {
		secret := strings.HasSuffix(path, ".cfg") && !strings.HasPrefix(path, "y0")
		if f.Secret() != secret {
			t.Errorf("%s: secret = %v", path, f.Secret())
		}
		if !secret && strings.Contains(string(f.Data), "pw-") {
			t.Errorf("%s: public file holds a password", path)
		}
	}
	if _, err := devfile.ParseXML(files["805ec0112233-directory.xml"].Data); err != nil {
		t.Error(err)
	}
}

func TestLineKeyLimitAndUnknownModel(t *testing.T) {
	p := irtest.HarbourView()
	d := p.Device("desk-102")
	d.LineKeys = append(d.LineKeys, ir.LineKey{Index: 28, Type: ir.KeySpeedDial, Value: "101", Label: "Mary"})
	files, warns := renderAll(t, p, "desk-102")
	if len(warns) != 1 || warns[0].Feature != "line key 28" {
		t.Fatalf("warnings = %+v", warns)
	}
	_, m := settings(t, files["805ec0445566.cfg"])
	if _, ok := m["linekey.28.type"]; ok {
		t.Error("line key beyond the model's count was written")
	}

	p = irtest.HarbourView()
	p.Device("desk-102").Model = "yealink-t99x"
	files, warns = renderAll(t, p, "desk-102")
	if len(warns) != 2 || warns[0].Feature != "model" || warns[1].Feature != "common file" || !warns[0].Shared || !warns[1].Shared {
		t.Fatalf("warnings = %+v", warns)
	}
	boot, _ := settings(t, files["y000000000000.boot"])
	if len(boot.Includes) != 0 {
		t.Errorf("unknown model got a common file: %v", boot.Includes)
	}
}

// TestEveryCatalogueModel renders a phone of every Yealink model of the
// catalogue: each has a firmware code, so a common file, and no warning.
func TestEveryCatalogueModel(t *testing.T) {
	for _, m := range catalogue.Models() {
		if m.Vendor.ID != yealink.Vendor {
			continue
		}
		if m.Kind != catalogue.Phone {
			t.Errorf("%s: Yealink %s", m.ID, m.Kind)
		}
		p := irtest.HarbourView()
		p.Device("desk-102").Model = m.ID
		files, warns := renderAll(t, p, "desk-102")
		if len(warns) != 0 {
			t.Errorf("%s: warnings %+v", m.ID, warns)
		}
		boot, _ := settings(t, files["y000000000000.boot"])
		if len(boot.Includes) != 1 {
			t.Errorf("%s: common boot file includes %v", m.ID, boot.Includes)
		}
		for _, f := range files {
			if strings.HasSuffix(f.Path, ".xml") {
				continue
			}
			settings(t, f)
		}
	}
}

func TestZoneOffsets(t *testing.T) {
	p := irtest.HarbourView()
	for tz, want := range map[string][]string{
		"Asia/Kolkata":       {"+5:30", "0"},
		"America/New_York":   {"-5", "1"},
		"Pacific/Kiritimati": {"+12", "0"},
	} {
		p.Device("desk-101").Timezone = tz
		files, _ := renderAll(t, p, "desk-101")
		_, m := settings(t, files["805ec0112233.cfg"])
		if m["local_time.time_zone"] != want[0] || m["local_time.summer_time"] != want[1] {
			t.Errorf("%s: time_zone %q summer_time %q, want %v", tz, m["local_time.time_zone"], m["local_time.summer_time"], want)
		}
	}
}

func TestParseErrors(t *testing.T) {
	for _, bad := range []string{"", "a = 1\n", "#!version:1.0.0.1\ninclude:config nope\n", "#!version:1.0.0.1\nnovalue\n"} {
		if _, err := yealink.Parse([]byte(bad)); err == nil {
			t.Errorf("Parse(%q) succeeded", bad)
		}
	}
}

func FuzzParse(f *testing.F) {
	p := irtest.HarbourView()
	files, _ := yealink.Render(p, []*ir.Device{p.Device("desk-101")}, fixedPasswords{})
	for _, file := range files {
		if !strings.HasSuffix(file.Path, ".xml") {
			f.Add(file.Data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := yealink.Parse(data)
		if err != nil {
			return
		}
		kf := devfile.NewKVFile(yealink.Header)
		for _, kv := range c.Settings {
			kf.Set(kv.Key, kv.Value)
		}
		again, err := yealink.Parse(kf.Bytes())
		if err != nil {
			t.Fatalf("re-parse: %v\n%s", err, kf.Bytes())
		}
		if len(again.Settings) != len(c.Settings) {
			t.Fatalf("%d settings after round trip, want %d", len(again.Settings), len(c.Settings))
		}
	})
}
