package provisioning

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
)

func TestManifestRoundTrip(t *testing.T) {
	var m Manifest
	m.Add("y000000000000.boot", "", "yealink", []byte("boot\n"), false)
	m.Add("0c1105123456.cfg", "front-gate", "akuvox", []byte("secret\n"), true)
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	want := `{
  "version": 1,
  "files": [
    {
      "path": "0c1105123456.cfg",
      "device": "front-gate",
      "vendor": "akuvox",
      "sha256": "` + sha("secret\n") + `",
      "secret": true
    },
    {
      "path": "y000000000000.boot",
      "vendor": "yealink",
      "sha256": "` + sha("boot\n") + `",
      "secret": false
    }
  ]
}
`
	if d := cmp.Diff(want, string(data)); d != "" {
		t.Errorf("Marshal (-want +got):\n%s", d)
	}
	back, err := ParseManifest(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := back.Marshal()
	if string(again) != string(data) {
		t.Error("Marshal(ParseManifest(x)) != x")
	}

	dir := t.TempDir()
	if _, err := ReadManifest(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("ReadManifest(no manifest) = %v, want fs.ErrNotExist", err)
	}
	if err := WriteManifest(dir, &m); err != nil {
		t.Fatal(err)
	}
	read, err := ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(back, read); d != "" {
		t.Errorf("ReadManifest (-want +got):\n%s", d)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("WriteManifest left %d files, want 1", len(entries))
	}
}

func TestParseManifestErrors(t *testing.T) {
	ok := sha("x")
	tests := []struct {
		name, json, want string
	}{
		{"not json", `{`, "invalid manifest"},
		{"trailing data", `{"files":[]} {}`, "data after"},
		{"version", `{"version":2,"files":[]}`, "version 2"},
		{"traversal", `{"files":[{"path":"../x","sha256":"` + ok + `"}]}`, "invalid file path"},
		{"absolute", `{"files":[{"path":"/x","sha256":"` + ok + `"}]}`, "invalid file path"},
		{"backslash", `{"files":[{"path":"a\\b","sha256":"` + ok + `"}]}`, "invalid file path"},
		{"hidden", `{"files":[{"path":".x","sha256":"` + ok + `"}]}`, "invalid file path"},
		{"manifest itself", `{"files":[{"path":"Manifest.json","sha256":"` + ok + `"}]}`, "invalid file path"},
		{"case duplicate", `{"files":[{"path":"0C1105123456.cfg","sha256":"` + ok + `"},{"path":"0c1105123456.cfg","sha256":"` + ok + `"}]}`, "cannot tell apart"},
		{"bad sha", `{"files":[{"path":"x","sha256":"ABC"}]}`, "sha256"},
		{"upper-case sha", `{"files":[{"path":"x","sha256":"` + strings.ToUpper(ok) + `"}]}`, "sha256"},
		{"secret common file", `{"files":[{"path":"x","sha256":"` + ok + `","secret":true}]}`, "holds a secret"},
	}
	for _, tt := range tests {
		_, err := ParseManifest([]byte(tt.json))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
	if _, err := ParseManifest([]byte(`{"files":[{"path":"x","sha256":"` + ok + `","future":1}]}`)); err != nil {
		t.Errorf("unknown field: %v", err)
	}
}

func TestChanged(t *testing.T) {
	file := func(path, device, vendor, data string) ManifestFile {
		return ManifestFile{Path: path, Device: device, Vendor: vendor, SHA256: sha(data), Secret: device != ""}
	}
	base := []ManifestFile{
		file("0c1105123456.cfg", "front-gate", "akuvox", "a"),
		file("805ec0112233.boot", "desk-101", "yealink", "b"),
		file("805ec0112233.cfg", "desk-101", "yealink", "c"),
		file("805ec0445566.cfg", "desk-102", "yealink", "d"),
		file("y000000000096.cfg", "", "yealink", "e"),
	}
	with := func(change func([]ManifestFile) []ManifestFile) Manifest {
		fs := append([]ManifestFile(nil), base...)
		return Manifest{Version: 1, Files: change(fs)}
	}
	tests := []struct {
		name string
		next Manifest
		want []string
	}{
		{"nothing", with(func(fs []ManifestFile) []ManifestFile { return fs }), nil},
		{"device file", with(func(fs []ManifestFile) []ManifestFile {
			fs[2] = file("805ec0112233.cfg", "desk-101", "yealink", "new")
			return fs
		}), []string{"desk-101"}},
		{"common file of a vendor", with(func(fs []ManifestFile) []ManifestFile {
			fs[4] = file("y000000000096.cfg", "", "yealink", "new")
			return fs
		}), []string{"desk-101", "desk-102"}},
		{"common file added, no vendor", with(func(fs []ManifestFile) []ManifestFile {
			return append(fs, file("phonebook.xml", "", "", "p"))
		}), []string{"desk-101", "desk-102", "front-gate"}},
		{"device file removed", with(func(fs []ManifestFile) []ManifestFile {
			return append(fs[:1], fs[2:]...)
		}), []string{"desk-101"}},
		{"device removed, another added", with(func(fs []ManifestFile) []ManifestFile {
			fs[0] = file("0c1105aabbcc.cfg", "lobby", "akuvox", "l")
			return fs
		}), []string{"lobby"}},
		{"path case only", with(func(fs []ManifestFile) []ManifestFile {
			fs[0].Path = "0C1105123456.cfg"
			return fs
		}), nil},
	}
	prev := Manifest{Version: 1, Files: base}
	for _, tt := range tests {
		if d := cmp.Diff(tt.want, Changed(prev, tt.next)); d != "" {
			t.Errorf("%s: Changed (-want +got):\n%s", tt.name, d)
		}
	}
	if d := cmp.Diff([]string{"desk-101", "desk-102", "front-gate"}, Changed(Manifest{}, prev)); d != "" {
		t.Errorf("from nothing (-want +got):\n%s", d)
	}
}

// Without manifest.json the server matches MACs in file names.
func TestFallbackWithoutManifest(t *testing.T) {
	files := append(harbourFiles(),
		testFile{path: "0c1105999999.cfg", data: "a removed device's file\n"},
		testFile{path: "phonebook.xml", data: "<phonebook/>\n"},
		testFile{path: "sub/0C1105AABBCC.cfg", data: "lobby, upper case\n"},
	)
	dir := writeBundle(t, t.TempDir(), files, false)
	os.WriteFile(filepath.Join(dir, ".0c1105123456.cfg.tmp123"), []byte("half written"), 0o600)
	os.Symlink(filepath.Join(dir, "..", "dialplan.json"), filepath.Join(dir, "link.json"))

	b, err := loadBundle(irtest.HarbourView(), dir, "realm", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !b.fallback {
		t.Error("not in fallback mode")
	}
	got := map[string]string{}
	for _, f := range b.manifest.Files {
		owner := f.Device
		if owner == "" {
			owner = "(common)"
		}
		if f.Secret {
			owner += " secret"
		}
		got[f.Path] = owner
	}
	want := map[string]string{
		"0c1105123456.cfg":           "front-gate secret",
		"0c1105aabbcc.cfg":           "lobby secret",
		"0c1105abcdef.cfg":           "monitor-1a secret",
		"805ec0112233-directory.xml": "desk-101 secret",
		"805ec0112233.boot":          "desk-101 secret",
		"805ec0112233.cfg":           "desk-101 secret",
		"805ec0445566.boot":          "desk-102 secret",
		"805ec0445566.cfg":           "desk-102 secret",
		"cfg000b82445566.xml":        "side-gate secret",
		"cfgc074ad010203.xml":        "desk-103 secret",
		"y000000000000.boot":         "(common)",
		"y000000000096.cfg":          "(common)",
		"y000000000108.cfg":          "(common)",
		"phonebook.xml":              "(common)",
		"sub/0C1105AABBCC.cfg":       "lobby secret",
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("classification (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"0c1105999999.cfg"}, b.withheld); d != "" {
		t.Errorf("withheld (-want +got):\n%s", d)
	}
	// The server works on it: vendors come from the program.
	f := newFixture(t)
	if err := f.srv.Swap(f.prog, dir); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(f.log.String(), "path=0c1105999999.cfg") {
		t.Errorf("withheld file not logged; log:\n%s", f.log)
	}
	c := f.client("lobby")
	if res, body := c.get("/sub/0c1105aabbcc.cfg"); res.StatusCode != 200 || body != "lobby, upper case\n" {
		t.Errorf("status %d body %q", res.StatusCode, body)
	}
	if res, _ := c.get("/0c1105999999.cfg"); res.StatusCode != 404 {
		t.Errorf("withheld file: status %d", res.StatusCode)
	}
	if res, _ := c.get("/link.json"); res.StatusCode != 404 {
		t.Errorf("symlink: status %d", res.StatusCode)
	}
}

func TestClassify(t *testing.T) {
	p := irtest.HarbourView()
	macs := map[string]*ir.Device{}
	for i := range p.Devices {
		macs[p.Devices[i].MAC] = &p.Devices[i]
	}
	tests := []struct {
		name   string
		device string
		ok     bool
	}{
		{"805ec0112233.cfg", "desk-101", true},
		{"805EC0112233.cfg", "desk-101", true},
		{"cfg000b82445566.xml", "side-gate", true},
		{"a805ec0112233.cfg", "desk-101", true}, // hex letters before the MAC
		{"805ec0112233-805ec0445566.cfg", "", false},
		{"y000000000000.boot", "", true},
		{"y000000000046.cfg", "", true},
		{"000000000046.cfg", "", false},
		{"deadbeefcafe.cfg", "", false},
		{"phonebook.xml", "", true},
		{"805ec011223.cfg", "", true}, // 11 digits: no MAC
	}
	for _, tt := range tests {
		d, ok := classify(tt.name, macs)
		name := ""
		if d != nil {
			name = d.Name
		}
		if name != tt.device || ok != tt.ok {
			t.Errorf("classify(%q) = %q, %v; want %q, %v", tt.name, name, ok, tt.device, tt.ok)
		}
	}
}

func TestLoadBundleErrors(t *testing.T) {
	p := irtest.HarbourView()
	good := harbourFiles()
	tests := []struct {
		name  string
		files []testFile
		edit  func(dir string)
		want  string
	}{
		{"unknown device", append(good[:1:1], testFile{"x.cfg", "nobody", "", "x", true}), nil, `device "nobody"`},
		{"missing file", good, func(dir string) { os.Remove(filepath.Join(dir, "0c1105123456.cfg")) }, "no such file"},
		{"directory", good, func(dir string) {
			os.Remove(filepath.Join(dir, "0c1105123456.cfg"))
			os.Mkdir(filepath.Join(dir, "0c1105123456.cfg"), 0o755)
		}, "not a regular file"},
		{"escaping symlink", good, func(dir string) {
			os.Remove(filepath.Join(dir, "0c1105123456.cfg"))
			os.Symlink("../dialplan.json", filepath.Join(dir, "0c1105123456.cfg"))
		}, "0c1105123456.cfg"},
		{"bad manifest", good, func(dir string) { os.WriteFile(filepath.Join(dir, ManifestName), []byte("{"), 0o644) }, "invalid manifest"},
	}
	for _, tt := range tests {
		dir := writeBundle(t, t.TempDir(), tt.files, true)
		if tt.edit != nil {
			tt.edit(dir)
		}
		_, err := loadBundle(p, dir, "realm", nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// A site without devices writes its manifest into a directory nothing
// else has created (serve and build of such a site failed here).
func TestWriteManifestMakesItsDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "provision")
	if err := WriteManifest(dir, &Manifest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadManifest(dir); err != nil {
		t.Fatal(err)
	}
}
