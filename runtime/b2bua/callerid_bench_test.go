package b2bua

import (
	"fmt"
	"testing"

	"switchboard/compiler/ir"
)

// BenchmarkPresentedFrom is the From headers of a door station's ring to
// the 6 000 people of a generated building, in legs of three: what the
// call core works out per leg to show the callee who calls.
func BenchmarkPresentedFrom(b *testing.B) {
	p := &ir.Program{Site: ir.Site{Domain: "tower.example.net"}}
	for i := range 6000 {
		p.Accounts = append(p.Accounts, ir.Account{Name: fmt.Sprintf("app.u%05d", i), Kind: ir.AccountApp, Username: fmt.Sprintf("u%05d", i)})
	}
	p.Accounts = append(p.Accounts, ir.Account{Name: "device.door-1", Kind: ir.AccountDevice, Username: "door-1", DisplayName: "Entrance 1"})
	for b.Loop() {
		c := &call{st: &siteState{program: p}, caller: "device.door-1"}
		for range 3 {
			if f := c.presentedFrom(p.Site.Domain); f.DisplayName != "Entrance 1" || f.Address.User != "door-1" {
				b.Fatalf("From %s", f.Value())
			}
		}
	}
}
