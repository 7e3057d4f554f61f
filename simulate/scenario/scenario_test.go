package scenario_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"switchboard/compiler/ir"
	"switchboard/simulate"
	"switchboard/simulate/scenario"
)

// parseOne parses src as the only scenario file of the test site and
// returns its single case.
func parseOne(t *testing.T, p *ir.Program, src string) simulate.Case {
	t.Helper()
	s, diags := scenario.Parse(map[string][]byte{"tests/a.test.hcl": []byte(src)}, p)
	if len(diags) > 0 {
		t.Fatalf("unexpected diagnostics:\n%s", diagText(diags))
	}
	if len(s.Cases) != 1 {
		t.Fatalf("got %d cases, want 1", len(s.Cases))
	}
	return s.Cases[0]
}

func diagText(diags hcl.Diagnostics) string {
	var b strings.Builder
	for _, d := range diags {
		fmt.Fprintf(&b, "%s\n", d)
	}
	return b.String()
}

func TestParse(t *testing.T) {
	p := compileDir(t, "testdata/site")
	apt1a := []string{"device.monitor-1a", "app.mary", "device.desk-101", "app.tom"}
	tests := []struct {
		name string
		src  string
		want []simulate.Step
	}{{
		name: "press, answer and open the door",
		src: `
scenario "x" {
  press      { button = device.front-gate.button["1"] }
  rings_only { endpoints = [residence.apt-1a] }
  answer     { by = user.mary }
  send_dtmf  { digits = "#" }
  door_opens { relay = device.front-gate.relay["door"] }
  hang_up    {}
}`,
		want: []simulate.Step{
			simulate.Dial{From: "device.front-gate", To: "1A", Answer: "app.mary"},
			simulate.ExpectRing{Accounts: apt1a},
			simulate.ExpectAnswered{By: "app.mary"},
			simulate.SendDTMF{From: "app.mary", Digits: "#"},
			simulate.ExpectDoor{Open: true, Device: "front-gate", Relay: "door", By: "app.mary"},
			simulate.ExpectDigits{Account: "device.front-gate", Digits: "#"},
			simulate.Hangup{},
			simulate.ExpectOnlyRung{Accounts: apt1a},
		},
	}, {
		name: "a sequential hunt runs on the ring's own leg timeouts",
		src: `
scenario "x" {
  key {
    at   = device.front-gate
    code = "2B"
  }
  rings_in_order { endpoints = [user.ann, user.bob] }
  nobody_answers {}
  falls_back     { to = "voicemail" }
}`,
		want: []simulate.Step{
			simulate.Dial{From: "device.front-gate", To: "2B"},
			simulate.ExpectRing{Accounts: []string{"app.ann"}},
			simulate.ExpectNotRung{Accounts: []string{"app.bob"}},
			simulate.Advance{D: 15 * time.Second},
			simulate.ExpectRing{Accounts: []string{"app.bob"}},
			simulate.Advance{D: 25 * time.Second},
			simulate.ExpectFallback{Fallback: ir.Fallback{Kind: ir.FallbackVoicemail, Mailbox: "ann"}},
		},
	}, {
		name: "in order, a residence stands for its legs; the last keeps ringing for its answer",
		src: `
scenario "x" {
  key {
    at   = device.front-gate
    code = residence.apt-2b
  }
  rings_in_order { endpoints = [residence.apt-2b] }
  answer         { by = user.bob }
}`,
		want: []simulate.Step{
			simulate.Dial{From: "device.front-gate", To: "2B", Answer: "app.bob"},
			simulate.ExpectRing{Accounts: []string{"app.ann"}},
			simulate.ExpectNotRung{Accounts: []string{"app.bob"}},
			simulate.Advance{D: 15 * time.Second},
			simulate.ExpectRing{Accounts: []string{"app.bob"}},
			simulate.ExpectAnswered{By: "app.bob"},
		},
	}, {
		name: "the clock moves only once the call rings",
		src: `
scenario "x" {
  press          { button = device.front-gate.button[1] }
  nobody_answers {}
  falls_back     { to = "voicemail" }
}`,
		want: []simulate.Step{
			simulate.Dial{From: "device.front-gate", To: "1A"},
			simulate.ExpectRing{Accounts: []string{"device.monitor-1a"}},
			simulate.Advance{D: 30 * time.Second},
			simulate.ExpectFallback{Fallback: ir.Fallback{Kind: ir.FallbackVoicemail, Mailbox: "mary"}},
		},
	}, {
		name: "decline, by a user without voicemail",
		src: `
scenario "x" {
  dial {
    from = user.mary
    to   = user.tom
  }
  decline    { by = user.tom }
  refused    { status = 603 }
  falls_back { to = "hangup" }
}`,
		want: []simulate.Step{
			simulate.Dial{From: "app.mary", To: "102", Decline: "app.tom"},
			simulate.ExpectFailed{Status: 603},
			simulate.ExpectFallback{Fallback: ir.Fallback{Kind: ir.FallbackHangup}},
		},
	}, {
		name: "the carrier calls a DDI; within is counted from the call",
		src: `
scenario "x" {
  dial {
    from   = trunk.carrier
    number = "+35315550101"
  }
  rings_only { endpoints = [user.mary] }
  wait       { for = "10s" }
  falls_back {
    to     = "voicemail"
    mailbox = user.mary
    within = "30s"
  }
}`,
		want: []simulate.Step{
			simulate.Dial{From: "trunk.carrier", To: "+35315550101"},
			simulate.ExpectRing{Accounts: []string{"app.mary", "device.desk-101"}},
			simulate.Advance{D: 10 * time.Second},
			simulate.Advance{D: 20 * time.Second},
			simulate.ExpectFallback{Fallback: ir.Fallback{Kind: ir.FallbackVoicemail, Mailbox: "mary"}},
			simulate.ExpectOnlyRung{Accounts: []string{"app.mary", "device.desk-101"}},
		},
	}, {
		name: "a door station called answers by itself; the caller sends the code",
		src: `
scenario "x" {
  dial {
    from = user.ann
    to   = device.front-gate
  }
  send_dtmf       { digits = "#" }
  door_stays_shut { door = device.front-gate }
  does_not_ring   { endpoints = [user.mary] }
}`,
		want: []simulate.Step{
			simulate.Dial{From: "app.ann", To: "device.front-gate", Answer: "device.front-gate"},
			simulate.SendDTMF{From: "app.ann", Digits: "#"},
			simulate.ExpectDoor{Open: false, Device: "front-gate", By: "app.ann"},
			simulate.ExpectNotRung{Accounts: []string{"app.mary", "device.desk-101"}},
		},
	}, {
		name: "a user's digits come from their endpoint in the call",
		src: `
scenario "x" {
  dial {
    from   = device.desk-101
    number = 102
  }
  answer     { by = user.tom }
  send_dtmf {
    by     = user.mary
    digits = 1234
  }
  door_opens { door = device.front-gate }
}`,
		want: []simulate.Step{
			simulate.Dial{From: "device.desk-101", To: "102", Answer: "app.tom"},
			simulate.ExpectAnswered{By: "app.tom"},
			simulate.SendDTMF{From: "device.desk-101", Digits: "1234"},
			simulate.ExpectDoor{Open: true, Device: "front-gate", By: "device.desk-101"},
			simulate.ExpectDigits{Account: "device.front-gate", Digits: "1234"},
		},
	}, {
		name: "rings_only is checked once an unanswered call is over",
		src: `
scenario "x" {
  press      { button = device.front-gate.button["1"] }
  rings_only { endpoints = [residence.apt-1a] }
}`,
		want: []simulate.Step{
			simulate.Dial{From: "device.front-gate", To: "1A"},
			simulate.ExpectRing{Accounts: apt1a},
			simulate.Advance{D: 30 * time.Second},
			simulate.ExpectFallback{Fallback: ir.Fallback{Kind: ir.FallbackVoicemail, Mailbox: "mary"}},
			simulate.ExpectOnlyRung{Accounts: apt1a},
		},
	}, {
		name: "a code nobody has: refused, nothing to wait for",
		src: `
scenario "x" {
  key {
    at   = device.front-gate
    code = 999
  }
  nobody_answers {}
  refused        { status = 404 }
}`,
		want: []simulate.Step{
			simulate.Dial{From: "device.front-gate", To: "999"},
			simulate.ExpectFailed{Status: 404},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := parseOne(t, p, tt.src)
			if diff := cmp.Diff(tt.want, c.Steps); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCase(t *testing.T) {
	p := compileDir(t, "testdata/site")
	c := parseOne(t, p, `# A scenario is a case named after it.

scenario "nobody home at 2B" {
  skip  = "the carrier is down this week"
  press { button = device.front-gate.button["2"] }
  rings { endpoints = [user.ann] }
}
`)
	want := simulate.Case{
		Name: "nobody home at 2B",
		Origin: ir.Origin{File: "tests/a.test.hcl", Line: 3, Column: 1, Byte: 40, EndLine: 3, EndColumn: 29, EndByte: 68,
			Object: `scenario "nobody home at 2B"`},
		Skip: "the carrier is down this week",
		Steps: []simulate.Step{
			simulate.Dial{From: "device.front-gate", To: "2B"},
			simulate.ExpectRing{Accounts: []string{"app.ann"}},
		},
		// Each step points at its own block, so a failure does too.
		StepOrigins: []ir.Origin{
			{File: "tests/a.test.hcl", Line: 5, Column: 3, Byte: 115, EndLine: 5, EndColumn: 8, EndByte: 120, Object: `press step of scenario "nobody home at 2B"`},
			{File: "tests/a.test.hcl", Line: 6, Column: 3, Byte: 166, EndLine: 6, EndColumn: 8, EndByte: 171, Object: `rings step of scenario "nobody home at 2B"`},
		},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("case (-want +got):\n%s", diff)
	}
}

// TestDiagnostics checks a few diagnostics whole: summary, detail and the
// exact range they point at.
func TestDiagnostics(t *testing.T) {
	p := compileDir(t, "testdata/site")
	rng := func(line, col, endCol int) *hcl.Range {
		return &hcl.Range{Filename: "t.test.hcl", Start: hcl.Pos{Line: line, Column: col}, End: hcl.Pos{Line: line, Column: endCol}}
	}
	tests := []struct {
		name string
		src  string
		want []*hcl.Diagnostic
	}{{
		name: "a misspelt user points at the reference",
		src: `scenario "x" {
  press  { button = device.front-gate.button["1"] }
  answer { by = user.mray }
}`,
		want: []*hcl.Diagnostic{{
			Severity: hcl.DiagError,
			Summary:  "Reference to undeclared user",
			Detail:   `There is no user named "mray" in this site. Did you mean "mary"?`,
			Subject:  rng(3, 17, 26),
		}},
	}, {
		name: "a misspelt button points at the button",
		src: `scenario "x" {
  press { button = device.front-gate.button["3"] }
}`,
		want: []*hcl.Diagnostic{{
			Severity: hcl.DiagError,
			Summary:  "Reference to undeclared button",
			Detail:   `Device "front-gate" has no button "3"; its buttons are "1" and "2". Did you mean "1"?`,
			Subject:  rng(2, 37, 49),
		}},
	}, {
		name: "a scenario without expectation is rejected at its header",
		src: `scenario "vacuous" {
  press { button = device.front-gate.button["1"] }
  wait  { for = "30s" }
}`,
		want: []*hcl.Diagnostic{{
			Severity: hcl.DiagError,
			Summary:  "Scenario proves nothing",
			Detail:   `Scenario "vacuous" places a call but expects nothing of it, so it would pass whatever the site does. Say what must happen: rings, rings_in_order, rings_only, does_not_ring, answer, door_opens, door_stays_shut, refused or falls_back.`,
			Subject:  rng(1, 1, 19),
		}},
	}, {
		name: "a quoted name gets a hint",
		src: `scenario "x" {
  press  { button = device.front-gate.button["1"] }
  answer { by = "mary" }
}`,
		want: []*hcl.Diagnostic{{
			Severity: hcl.DiagError,
			Summary:  "Invalid reference",
			Detail:   `The "by" argument must be a reference such as user.name or device.name. Did you mean user.mary?`,
			Subject:  rng(3, 17, 23),
		}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := scenario.Parse(map[string][]byte{"t.test.hcl": []byte(tt.src)}, p)
			// Byte offsets are checked by the fixtures' lines; here the
			// columns say it.
			for _, d := range diags {
				if d.Subject != nil {
					d.Subject.Start.Byte, d.Subject.End.Byte = 0, 0
				}
			}
			if diff := cmp.Diff(tt.want, []*hcl.Diagnostic(diags)); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

var errorMarker = regexp.MustCompile(`# ERROR: (.+)$`)

// TestInvalidFixtures parses testdata/invalid/*.test.hcl against the test
// site: every "# ERROR: <summary>" marks a line that must get exactly that
// diagnostic, and no other diagnostic may appear.
func TestInvalidFixtures(t *testing.T) {
	p := compileDir(t, "testdata/site")
	files, err := filepath.Glob("testdata/invalid/*.test.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for i, line := range strings.Split(string(src), "\n") {
				if m := errorMarker.FindStringSubmatch(line); m != nil {
					want = append(want, strconv.Itoa(i+1)+": "+strings.TrimSpace(m[1]))
				}
			}
			name := filepath.Base(file)
			s, diags := scenario.Parse(map[string][]byte{name: src}, p)
			var got []string
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic without a range: %s", d)
					continue
				}
				if d.Subject.Filename != name {
					t.Errorf("diagnostic in %q, want %q: %s", d.Subject.Filename, name, d)
				}
				if d.Severity != hcl.DiagError {
					t.Errorf("not an error: %s", d)
				}
				if d.Detail == "" || strings.HasSuffix(d.Summary, ".") {
					t.Errorf("summary %q: want no period and a detail, got %q", d.Summary, d.Detail)
				}
				got = append(got, strconv.Itoa(d.Subject.Start.Line)+": "+d.Summary)
			}
			sort.Strings(want)
			sort.Strings(got)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s\n%s", diff, diagText(diags))
			}
			if len(s.Cases) != 0 {
				var names []string
				for _, c := range s.Cases {
					names = append(names, c.Name)
				}
				t.Errorf("scenarios with errors became cases: %q", names)
			}
		})
	}
}

// TestLoad reads *.test.hcl in the site directory and in tests/, and
// nothing else.
func TestLoad(t *testing.T) {
	p := compileDir(t, "testdata/site")
	dir := t.TempDir()
	files := map[string]string{
		"b.test.hcl":       `scenario "b" { ` + "\n" + `press { button = device.front-gate.button["1"] }` + "\n" + `refused { status = 404 }` + "\n}\n",
		"tests/a.test.hcl": `scenario "a" { ` + "\n" + `press { button = device.front-gate.button["2"] }` + "\n" + `refused { status = 404 }` + "\n}\n",
		"tests/c.hcl":      `not a scenario file`,
		"other/d.test.hcl": `not read either`,
	}
	for name, src := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, diags := scenario.Load(dir, p)
	if len(diags) > 0 {
		t.Fatal(diagText(diags))
	}
	var got []string
	for _, c := range s.Cases {
		got = append(got, c.Origin.File+" "+c.Name)
	}
	want := []string{"b.test.hcl b", "tests/a.test.hcl a"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("cases (-want +got):\n%s", diff)
	}
	if len(s.Files) != 2 {
		t.Errorf("files for snippets: got %d, want 2", len(s.Files))
	}

	// A site without scenario files, or without tests/, has none.
	s, diags = scenario.Load(t.TempDir(), p)
	if len(diags) > 0 || len(s.Cases) > 0 {
		t.Errorf("empty site: %d cases, diagnostics %v", len(s.Cases), diags)
	}
}
