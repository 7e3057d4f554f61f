package catalogue

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCatalogueShape(t *testing.T) {
	id := regexp.MustCompile(`^[a-z]+-[a-z0-9]+$`)
	oui := regexp.MustCompile(`^[0-9a-f]{6}$`)
	ms := Models()
	if !slices.IsSortedFunc(ms, func(a, b *Model) int { return strings.Compare(a.ID, b.ID) }) {
		t.Error("models are not sorted by ID")
	}
	seen := map[string]bool{}
	for _, m := range ms {
		if seen[m.ID] {
			t.Errorf("duplicate model %s", m.ID)
		}
		seen[m.ID] = true
		if !id.MatchString(m.ID) || !strings.HasPrefix(m.ID, m.Vendor.ID+"-") {
			t.Errorf("%s: ID must be <vendor>-<model> in lower case", m.ID)
		}
		if !strings.EqualFold(m.ID, m.Vendor.ID+"-"+m.Name) {
			t.Errorf("%s: Name %q does not match the ID", m.ID, m.Name)
		}
		if len(m.Digest.Algorithms) == 0 || m.Digest.Source == "" {
			t.Errorf("%s: digest algorithms %q without a source %q: every model says what it answers and how we know", m.ID, m.Digest.Algorithms, m.Digest.Source)
		}
		for i, a := range m.Digest.Algorithms {
			if (a != MD5 && a != SHA256) || slices.Contains(m.Digest.Algorithms[:i], a) {
				t.Errorf("%s: digest algorithm %q is not MD5 or SHA-256, or repeated", m.ID, a)
			}
		}
		switch m.Kind {
		case DoorStation:
			if m.Buttons == 0 && !m.Keypad {
				t.Errorf("%s: door station with neither buttons nor keypad", m.ID)
			}
			if m.Relays == 0 {
				t.Errorf("%s: door station without relays", m.ID)
			}
		case Monitor:
			if m.Buttons != 0 || m.Keypad {
				t.Errorf("%s: monitor with call buttons", m.ID)
			}
		case Phone:
			if m.Buttons != 0 || m.Keypad || m.Relays != 0 || m.LineKeys == 0 {
				t.Errorf("%s: phone capabilities look wrong: %+v", m.ID, m)
			}
		default:
			t.Errorf("%s: unknown kind %q", m.ID, m.Kind)
		}
	}
	for _, v := range Vendors() {
		for _, o := range v.OUIs {
			if !oui.MatchString(o) {
				t.Errorf("%s: OUI %q is not 6 lower-case hex digits", v.ID, o)
			}
		}
	}
	// The catalogue covers what the design asks for.
	for _, want := range []string{
		"akuvox-r29c", "akuvox-r20k", "akuvox-e12w", "akuvox-x915", "akuvox-c315", "akuvox-c319", "akuvox-x933",
		"yealink-t54w", "yealink-t46u", "yealink-t48u", "yealink-t53w", "yealink-t57w", "yealink-t31p",
		"grandstream-grp2612", "grandstream-gxp2170", "grandstream-gds3710", "grandstream-gds3712",
	} {
		if _, ok := Lookup(want); !ok {
			t.Errorf("catalogue lacks %s", want)
		}
	}
}

func TestLookup(t *testing.T) {
	m, ok := Lookup("akuvox-c315")
	if !ok || m.Kind != Monitor || m.Vendor.ID != "akuvox" || m.String() != "Akuvox C315" {
		t.Errorf("Lookup(akuvox-c315) = %+v, %v", m, ok)
	}
	if _, ok := Lookup("Akuvox-C315"); ok {
		t.Error("Lookup folds case")
	}
}

func TestSuggest(t *testing.T) {
	tests := map[string]string{
		"Akuvox-R29C":        "akuvox-r29c",
		"r29c":               "akuvox-r29c",
		"t54w":               "yealink-t54w",
		"akuvox-r29":         "akuvox-r29c",
		"yealink-t54x":       "yealink-t54w",
		"yealink t54w":       "yealink-t54w",
		"grandstream_gds371": "grandstream-gds3710",
		"cisco-7940":         "",
	}
	for in, want := range tests {
		if got := Suggest(in); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestParseMAC(t *testing.T) {
	want := MAC{0x0c, 0x11, 0x05, 0x12, 0x34, 0x56}
	for _, in := range []string{
		"0C:11:05:12:34:56", "0c-11-05-12-34-56", "0c11.0512.3456", "0c1105123456", "0C1105123456", " 0c:11:05:12:34:56 ",
	} {
		got, err := ParseMAC(in)
		if err != nil {
			t.Errorf("ParseMAC(%q): %v", in, err)
			continue
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("ParseMAC(%q) (-want +got):\n%s", in, diff)
		}
	}
	bad := map[string]string{
		"":                     "12 hexadecimal digits",
		"0C:11:05:12:34":       "12 hexadecimal digits",
		"0C:11-05:12:34:56":    "12 hexadecimal digits",
		"0C:11:05:12:34:5G":    "hexadecimal digits (0-9, a-f)",
		"0c11.0512.345":        "12 hexadecimal digits",
		"00:00:00:00:00:00":    "all-zero",
		"ff:ff:ff:ff:ff:ff":    "broadcast",
		"01:00:5e:00:00:01":    "multicast",
		"0C:11:05:12:34:56:78": "12 hexadecimal digits",
	}
	for in, msg := range bad {
		_, err := ParseMAC(in)
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("ParseMAC(%q) error = %v, want one mentioning %q", in, err, msg)
		}
	}
}

func TestMACFormats(t *testing.T) {
	m, _ := ParseMAC("0C:11:05:AB:CD:EF")
	got := []string{m.String(), m.Colons(), m.OUI(), FormatOUI(m.OUI())}
	want := []string{"0c1105abcdef", "0c:11:05:ab:cd:ef", "0c1105", "0C:11:05"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("formats (-want +got):\n%s", diff)
	}
	if v, ok := m.Vendor(); !ok || v.ID != "akuvox" {
		t.Errorf("Vendor() = %v, %v", v, ok)
	}
	y, _ := ParseMAC("80:5E:C0:11:22:33")
	if v, ok := y.Vendor(); !ok || v.ID != "yealink" {
		t.Errorf("Vendor() = %v, %v", v, ok)
	}
	if (MAC{}).IsZero() != true || m.IsZero() {
		t.Error("IsZero")
	}
}
