package emergency

import (
	"regexp"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTableShape(t *testing.T) {
	digits := regexp.MustCompile(`^[0-9]{2,6}$`)
	for _, c := range Countries() {
		n, ok := Numbers(c)
		if !ok || len(n) == 0 {
			t.Errorf("%s: no numbers", c)
		}
		if !slices.IsSorted(n) {
			t.Errorf("%s: numbers not sorted: %v", c, n)
		}
		if len(slices.Compact(slices.Clone(n))) != len(n) {
			t.Errorf("%s: duplicate numbers: %v", c, n)
		}
		for _, x := range n {
			if !digits.MatchString(x) {
				t.Errorf("%s: %q is not a short number", c, x)
			}
		}
	}
}

func TestRequiredCountries(t *testing.T) {
	for _, c := range append([]string{"IE", "GB", "US", "CA", "AU", "NZ"}, EU()...) {
		if _, ok := Numbers(c); !ok {
			t.Errorf("no entry for %s", c)
		}
	}
	if len(EU()) != 27 {
		t.Errorf("EU has %d members, want 27", len(EU()))
	}
	for _, c := range EU() {
		n, _ := Numbers(c)
		if !slices.Contains(n, "112") {
			t.Errorf("%s: EU member without 112: %v", c, n)
		}
	}
}

func TestNumbers(t *testing.T) {
	tests := []struct {
		country string
		want    []string
		ok      bool
	}{
		{"IE", []string{"112", "999"}, true},
		{"GB", []string{"112", "999"}, true},
		{"US", []string{"911", "988"}, true},
		{"DE", []string{"110", "112"}, true},
		{"AU", []string{"000", "106", "112"}, true},
		{"FR", []string{"112", "114", "115", "119", "15", "17", "18", "191", "196", "197"}, true},
		{"ie", nil, false},
		{"XX", nil, false},
	}
	for _, tt := range tests {
		got, ok := Numbers(tt.country)
		if ok != tt.ok {
			t.Errorf("Numbers(%q) ok = %v, want %v", tt.country, ok, tt.ok)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("Numbers(%q) (-want +got):\n%s", tt.country, diff)
		}
	}
	// The result is a copy.
	n, _ := Numbers("IE")
	n[0] = "000"
	if again, _ := Numbers("IE"); again[0] != "112" {
		t.Error("Numbers returned the table's own slice")
	}
}

func TestSuggest(t *testing.T) {
	tests := map[string]string{"UK": "GB", "uk": "GB", "EL": "GR", "ie": "IE", " de": "DE", "IE": "", "XX": ""}
	for in, want := range tests {
		if got := Suggest(in); got != want {
			t.Errorf("Suggest(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCheck(t *testing.T) {
	fr, _ := Numbers("FR")
	ie, _ := Numbers("IE")
	tests := []struct {
		number    string
		emergency []string
		want      Conflict
		with      string
	}{
		{"101", ie, None, ""},
		{"112", ie, Equals, "112"},
		{"1120", ie, BeginsWith, "112"},
		{"99", ie, PrefixOf, "999"},
		{"150", fr, BeginsWith, "15"},
		{"1", fr, PrefixOf, "112"},
		{"*97", fr, None, ""},
		{"200", fr, None, ""},
	}
	for _, tt := range tests {
		got, with := Check(tt.number, tt.emergency)
		if got != tt.want || with != tt.with {
			t.Errorf("Check(%q) = %v %q, want %v %q", tt.number, got, with, tt.want, tt.with)
		}
	}
}
