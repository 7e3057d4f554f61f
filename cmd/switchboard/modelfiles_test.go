package main

import (
	"strings"
	"testing"

	"switchboard/compiler/catalogue"
)

// Every model of the catalogue builds, and its device's own files name it
// by MAC: what models shows is what build writes.
func TestProvisioningFilesOfEveryModel(t *testing.T) {
	for _, m := range catalogue.Models() {
		files, err := provisioningFiles(m)
		if err != nil {
			t.Errorf("%s: %v", m.ID, err)
			continue
		}
		byMAC := false
		for _, f := range files {
			byMAC = byMAC || strings.Contains(strings.ToLower(f), "<mac>")
		}
		if !byMAC {
			t.Errorf("%s: files %v: none is the device's own", m.ID, files)
		}
		t.Logf("%s: %v", m.ID, files)
	}
}
