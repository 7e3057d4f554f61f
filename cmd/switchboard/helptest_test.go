package main

import (
	"bytes"
	"strings"
	"testing"

	"switchboard/simulate/scenario"
)

// "switchboard help test" lists every step of the scenario decoder's table
// with its role and every argument with what it takes.
func TestHelpTestListsEveryStep(t *testing.T) {
	var out bytes.Buffer
	c := &cli{stdout: &out, stderr: &out}
	if status := c.run([]string{"help", "test"}); status != exitOK {
		t.Fatalf("help test: status %d\n%s", status, out.String())
	}
	help := out.String()
	flat := strings.Join(strings.Fields(help), " ")
	for _, st := range scenario.Steps() {
		if !strings.Contains(help, "\n  "+st.Type+" ("+st.Role+")\n") {
			t.Errorf("help test lacks step %s (%s)", st.Type, st.Role)
		}
		for _, a := range st.Args {
			need := "optional"
			if a.Required {
				need = "required"
			}
			if !strings.Contains(flat, a.Name+" ("+need+"): "+strings.Join(strings.Fields(a.Doc), " ")) {
				t.Errorf("help test lacks argument %s of %s with its meaning", a.Name, st.Type)
			}
		}
	}
	for _, a := range scenario.ScenarioArgs() {
		if !strings.Contains(flat, a.Name+" (optional): ") {
			t.Errorf("help test lacks scenario argument %s", a.Name)
		}
	}
}
