package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/catalogue"
)

// The listing shows every model of the catalogue on one row with its kind
// and every capability it has, whatever the catalogue adds.
func TestModelsTextShowsEveryCapability(t *testing.T) {
	var buf bytes.Buffer
	if err := writeModelsText(&buf, catalogue.Models()); err != nil {
		t.Fatal(err)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(buf.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(line, "  ") {
			rows[f[0]] = line
		}
	}
	for _, m := range catalogue.Models() {
		row, ok := rows[m.ID]
		if !ok {
			t.Errorf("%s is not listed", m.ID)
			continue
		}
		if !strings.Contains(row, string(m.Kind)) {
			t.Errorf("%s: row %q lacks its kind %q", m.ID, row, m.Kind)
		}
		for _, cp := range m.Capabilities() {
			// A detail (a sentence) is for the model's own view.
			if got, want := strings.Contains(row, capabilityText(cp)), cp.Present() && !cp.Detail; got != want {
				t.Errorf("%s: row %q: capability %q shown = %v, want %v", m.ID, row, capabilityText(cp), got, want)
			}
		}
	}
}

func TestModelsJSON(t *testing.T) {
	var buf bytes.Buffer
	if err := writeModelsJSON(&buf, catalogue.Models()); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Models []struct {
			ID           string
			Kind         string
			Capabilities map[string]any
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Models) != len(catalogue.Models()) {
		t.Fatalf("JSON lists %d models, the catalogue %d", len(doc.Models), len(catalogue.Models()))
	}
	for i, m := range catalogue.Models() {
		want := map[string]any{}
		for _, cp := range m.Capabilities() {
			// Through JSON, as a reader sees them.
			b, _ := json.Marshal(cp.Value)
			var v any
			_ = json.Unmarshal(b, &v)
			want[cp.Name] = v
		}
		if diff := cmp.Diff(want, doc.Models[i].Capabilities); diff != "" || doc.Models[i].ID != m.ID || doc.Models[i].Kind != string(m.Kind) {
			t.Errorf("%s (-want +got):\n%s", m.ID, diff)
		}
	}
}

func TestCapabilityText(t *testing.T) {
	tests := []struct {
		cp   catalogue.Capability
		text string
		val  string
	}{
		{catalogue.Capability{Name: "buttons", Value: 6}, "buttons 6", "6"},
		{catalogue.Capability{Name: "keypad", Value: true}, "keypad", "yes"},
		{catalogue.Capability{Name: "video", Value: false}, "video", "no"},
		{catalogue.Capability{Name: "digest_algorithms", Value: []string{"MD5", "SHA-256"}}, "digest_algorithms MD5,SHA-256", "MD5, SHA-256"},
		{catalogue.Capability{Name: "firmware", Value: "96.86"}, "firmware 96.86", "96.86"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff([]string{tt.text, tt.val}, []string{capabilityText(tt.cp), capabilityValue(tt.cp)}); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.cp.Name, diff)
		}
	}
}
