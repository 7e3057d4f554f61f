package main

import (
	"fmt"
	"io"
	"strings"

	"switchboard/compiler/plan"
)

// targetsFlag collects repeated -target=ADDR flags, each an object address
// (device.gate, user.anne) checked when it is parsed.
type targetsFlag []string

func (t *targetsFlag) String() string { return strings.Join(*t, ",") }

func (t *targetsFlag) Set(s string) error {
	if _, _, err := plan.ParseAddress(s); err != nil {
		return err
	}
	*t = append(*t, s)
	return nil
}

// writeTargetWarning says, as terraform does, that a plan made with
// -target is partial: which objects it covers and how many changes it
// leaves out.
func writeTargetWarning(w io.Writer, p *plan.Plan, s style) {
	if len(p.Targets) == 0 {
		return
	}
	fmt.Fprintf(w, "%s\n\n", s.paint(ansiBold+ansiYellow, "Warning: Partial plan (-target)"))
	fmt.Fprintf(w, "This plan covers only %s and the objects that depend on %s;\n", strings.Join(p.Targets, ", "), pronoun(len(p.Targets)))
	fmt.Fprintf(w, "%s of the site %s left out. A plan without -target shows\n", plural(p.LeftOut, "other change"), isAre(p.LeftOut))
	fmt.Fprintf(w, "everything; use -target to bring back one device or person, not as a habit.\n\n")
}

// writeTargetApplyNote says what a partial apply does and does not limit.
func writeTargetApplyNote(w io.Writer, p *plan.Plan) {
	if len(p.Targets) == 0 {
		return
	}
	fmt.Fprintf(w, "\nOnly these changes are pushed, recorded and mailed. The provisioning\n")
	fmt.Fprintf(w, "directory and the server's dial plan are still published whole (serve reads\n")
	fmt.Fprintf(w, "one dial plan); the changes left out stay in the next plan.\n")
}

func pronoun(n int) string {
	if n == 1 {
		return "it"
	}
	return "them"
}

func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
