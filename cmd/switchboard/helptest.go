package main

import (
	"fmt"
	"strings"

	"switchboard/simulate/scenario"
)

// scenarioReference is the part of "switchboard help test" that lists
// every block of a scenario file with its arguments, generated from the
// scenario decoder's own table (scenario.Steps), so that it cannot drift.
func scenarioReference() string {
	var b strings.Builder
	b.WriteString("Scenario files (*.test.hcl in DIR and DIR/tests). A scenario block takes:\n\n")
	writeArgs(&b, scenario.ScenarioArgs())
	b.WriteString("\nand its steps, run in the order written. The call comes first and there\n" +
		"is one; a scenario without an expectation is an error.\n")
	for _, st := range scenario.Steps() {
		fmt.Fprintf(&b, "\n  %s (%s)\n", st.Type, st.Role)
		b.WriteString(wrapText(st.Doc, "      ", defaultWidth))
		writeArgs(&b, st.Args)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// writeArgs prints one line per argument, "name (required): what it takes",
// wrapped with a hanging indent.
func writeArgs(b *strings.Builder, args []scenario.Arg) {
	for _, a := range args {
		need := "optional"
		if a.Required {
			need = "required"
		}
		text := wrapText(fmt.Sprintf("%s (%s): %s", a.Name, need, a.Doc), "        ", defaultWidth)
		b.WriteString("      " + strings.TrimPrefix(text, "        "))
	}
}
