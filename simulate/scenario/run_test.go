package scenario_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/simulate"
	"switchboard/simulate/scenario"
)

// run runs cases against a server of p, with the devices' passwords from
// the site as written (sec).
func run(t *testing.T, p *ir.Program, sec secrets, cases []simulate.Case) *simulate.Report {
	t.Helper()
	rep, err := simulate.Run(context.Background(), p, sec, cases, simulate.Options{Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != len(cases) {
		t.Fatalf("%d results for %d cases", len(rep.Results), len(cases))
	}
	return rep
}

func report(rep *simulate.Report) string {
	var b strings.Builder
	_ = simulate.WriteText(&b, rep)
	return b.String()
}

// The scenarios shipped with the examples pass against real servers.
func TestExampleScenariosPass(t *testing.T) {
	for _, ex := range []string{"family-home", "apartment-block", "small-office"} {
		t.Run(ex, func(t *testing.T) {
			t.Parallel()
			dir := "../../examples/" + ex
			p := compileDir(t, dir)
			s, diags := scenario.Load(dir, p)
			if len(diags) > 0 {
				t.Fatal(diagText(diags))
			}
			if len(s.Cases) == 0 {
				t.Fatalf("%s has no scenarios", ex)
			}
			rep := run(t, p, newSecrets(t, p), s.Cases)
			if pass, _, _ := rep.Counts(); pass != len(s.Cases) {
				t.Fatalf("%d of %d scenarios passed:\n%s", pass, len(s.Cases), report(rep))
			}
		})
	}
}

// A scenario can fail: one expecting the wrong endpoints fails with a
// message that names what diverged, the step, the scenario's own line and
// the SIP ladder.
func TestWrongExpectationFails(t *testing.T) {
	t.Parallel()
	p := compileDir(t, "../../examples/family-home")
	src := `scenario "the gate rings only Sarah" {
  press      { button = device.gate.button["1"] }
  rings_only { endpoints = [user.sarah] }
}

scenario "nobody home: the gate call just ends" {
  press          { button = device.gate.button["1"] }
  rings          { endpoints = [residence.home] }
  nobody_answers {}
  falls_back     { to = "hangup" }
}

scenario "Chloe opens the gate with a star" {
  press      { button = device.gate.button["1"] }
  answer     { by = user.chloe }
  send_dtmf  { digits = "*" }
  door_opens { relay = device.gate.relay["gate"] }
}
`
	s, diags := scenario.Parse(map[string][]byte{"tests/wrong.test.hcl": []byte(src)}, p)
	if len(diags) > 0 {
		t.Fatal(diagText(diags))
	}
	rep := run(t, p, newSecrets(t, p), s.Cases)

	type outcome struct {
		Name, Step, Message, Origin string
		Status                      simulate.Status
	}
	var got []outcome
	for _, r := range rep.Results {
		got = append(got, outcome{Name: r.Name, Status: r.Status, Step: r.Step, Message: r.Message, Origin: r.Origin.String()})
		if r.Status == simulate.Fail && len(r.Ladder) == 0 {
			t.Errorf("%s: no SIP ladder", r.Name)
		}
	}
	want := []outcome{{
		Name:    "the gate rings only Sarah",
		Status:  simulate.Fail,
		Step:    "rings nobody but app.sarah",
		Message: "app.chloe, app.david, app.jack, device.hall-monitor rang too",
		Origin:  `tests/wrong.test.hcl:3,3: in rings_only step of scenario "the gate rings only Sarah"`,
	}, {
		Name:    "nobody home: the gate call just ends",
		Status:  simulate.Fail,
		Step:    "falls back to hangup",
		Message: `the ring ended in "no answer → voicemail sarah", want "hangup"`,
		Origin:  `tests/wrong.test.hcl:10,3: in falls_back step of scenario "nobody home: the gate call just ends"`,
	}, {
		Name:   "Chloe opens the gate with a star",
		Status: simulate.Fail,
		Step:   `app.chloe opens gate relay "gate"`,
		Origin: `tests/wrong.test.hcl:17,3: in door_opens step of scenario "Chloe opens the gate with a star"`,
	}}
	// The last message lists the events seen, whose order is the
	// server's; its start is what matters.
	if n := len(got); n == len(want) {
		msg := got[n-1].Message
		if !strings.HasPrefix(msg, "no door_opened event for app.chloe at gate; saw ") || !strings.Contains(msg, "dtmf app.chloe") {
			t.Errorf("door message: %q", msg)
		}
		got[n-1].Message = ""
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("outcomes (-want +got):\n%s\n%s", diff, report(rep))
	}
}

// A hunt expected in the wrong order fails at the first endpoint out of
// turn: the clock only moves past a turn once it has rung.
func TestWrongOrderFails(t *testing.T) {
	t.Parallel()
	p := compileDir(t, "testdata/site")
	src := `scenario "2B: Bob is tried before Ann" {
  press          { button = device.front-gate.button["2"] }
  rings_in_order { endpoints = [user.bob, user.ann] }
}

scenario "2B: Ann, then Bob" {
  press          { button = device.front-gate.button["2"] }
  rings_in_order { endpoints = [user.ann, user.bob] }
  answer         { by = user.bob }
}
`
	s, diags := scenario.Parse(map[string][]byte{"order.test.hcl": []byte(src)}, p)
	if len(diags) > 0 {
		t.Fatal(diagText(diags))
	}
	rep := run(t, p, newSecrets(t, p), s.Cases)
	wrong, right := rep.Results[0], rep.Results[1]
	if wrong.Status != simulate.Fail || wrong.Step != "rings app.bob" || wrong.Message != "app.bob never rang" {
		t.Errorf("wrong order: %s %q %q, want a failure at \"rings app.bob\": \"app.bob never rang\"\n%s", wrong.Status, wrong.Step, wrong.Message, report(rep))
	}
	if right.Status != simulate.Pass {
		t.Errorf("right order: %s\n%s", right.Status, report(rep))
	}
}

// Scenarios are resolved against the site as written; a server whose
// routing differs (here it forgot jack) fails them.
func TestWrongRoutingFailsScenario(t *testing.T) {
	t.Parallel()
	p := compileDir(t, "../../examples/family-home")
	s, diags := scenario.Load("../../examples/family-home", p)
	if len(diags) > 0 {
		t.Fatal(diagText(diags))
	}
	wrong := *p
	wrong.Residences = slices.Clone(p.Residences)
	home := &wrong.Residences[0]
	home.Ring.Legs = slices.DeleteFunc(slices.Clone(home.Ring.Legs), func(l ir.Leg) bool { return l.Label == "user.jack" })

	rep := run(t, &wrong, newSecrets(t, p), s.Cases)
	failed := 0
	for _, r := range rep.Results {
		if r.Status != simulate.Fail {
			continue
		}
		failed++
		if !strings.Contains(r.Message, "app.jack never rang") {
			t.Errorf("%s: message %q does not say jack never rang", r.Name, r.Message)
		}
		if !strings.HasPrefix(r.Origin.File, "tests/") {
			t.Errorf("%s: origin %v is not the scenario", r.Name, r.Origin)
		}
	}
	if failed == 0 {
		t.Fatalf("the scenarios passed against a server that never rings jack:\n%s", report(rep))
	}
}
