package simulate_test

import (
	"context"
	"strings"
	"testing"

	"switchboard/simulate"
)

// TestMonitorOpensWithItsProvisionedCode: in the generated suite an indoor
// monitor opens the door with the unlock code it is provisioned with, and
// the case passes; a monitor provisioned with another code gets no case
// claiming it opens the door, since the real one would not.
func TestMonitorOpensWithItsProvisionedCode(t *testing.T) {
	p, sec := compileDir(t, "../examples/family-home")
	monitorCase := func() *simulate.Case {
		for _, c := range simulate.Generate(p) {
			if strings.Contains(c.Name, "→ hall-monitor answers") {
				return &c
			}
		}
		t.Fatal("no case in which the hall monitor answers")
		return nil
	}
	c := monitorCase()
	if !strings.Contains(c.Name, `opens "gate"`) {
		t.Fatalf("case %q does not open the gate", c.Name)
	}
	sends := false
	for _, s := range c.Steps {
		if d, ok := s.(simulate.SendDTMF); ok && d.From == "device.hall-monitor" && d.Digits == p.Device("hall-monitor").UnlockDTMF {
			sends = true
		}
	}
	if !sends {
		t.Errorf("the monitor does not send its unlock code %q: %+v", p.Device("hall-monitor").UnlockDTMF, c.Steps)
	}
	rep, err := simulate.Run(context.Background(), p, sec, []simulate.Case{*c}, simulate.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if pass, fail, _ := rep.Counts(); pass != 1 || fail != 0 {
		var b strings.Builder
		simulate.WriteText(&b, rep)
		t.Errorf("the monitor's case:\n%s", b.String())
	}

	p.Device("hall-monitor").UnlockDTMF = "9"
	if c := monitorCase(); strings.Contains(c.Name, "opens") {
		t.Errorf("a monitor provisioned with another code still opens the gate: %q", c.Name)
	}
}
