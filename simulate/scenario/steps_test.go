package scenario_test

import (
	"fmt"
	"strings"
	"testing"

	"switchboard/simulate/scenario"
)

// The reference of steps is the decoder's own table; this checks that it
// says something of each, and that the decoder reads every argument the
// reference lists: a wrong value in it alone must be an error at it.
func TestStepsReferenceMatchesDecoder(t *testing.T) {
	p := compileDir(t, "testdata/site")
	steps := scenario.Steps()
	if len(steps) == 0 {
		t.Fatal("no steps")
	}
	roles := map[string]int{}
	for _, st := range steps {
		roles[st.Role]++
		if st.Doc == "" {
			t.Errorf("step %s has no meaning", st.Type)
		}
		for _, a := range st.Args {
			if a.Doc == "" {
				t.Errorf("argument %s of step %s has no meaning", a.Name, st.Type)
			}
			// Every other argument left out: only this one is there to read.
			src := fmt.Sprintf("scenario \"s\" {\n  %s {\n    %s = {}\n  }\n}\n", st.Type, a.Name)
			_, diags := scenario.Parse(map[string][]byte{"t.test.hcl": []byte(src)}, p)
			read := false
			for _, d := range diags {
				if d.Subject != nil && d.Subject.Start.Line == 3 && !strings.Contains(d.Summary, "Unsupported argument") {
					read = true
				}
			}
			if !read {
				t.Errorf("step %s: the decoder does not read %q (an object there is not reported):\n%s", st.Type, a.Name, diagText(diags))
			}
		}
	}
	for _, role := range []string{"call", "action", "expectation"} {
		if roles[role] == 0 {
			t.Errorf("no step has the role %q", role)
		}
	}
	for _, a := range scenario.ScenarioArgs() {
		src := fmt.Sprintf("scenario \"s\" {\n  %s = {}\n}\n", a.Name)
		_, diags := scenario.Parse(map[string][]byte{"t.test.hcl": []byte(src)}, p)
		read := false
		for _, d := range diags {
			if d.Subject != nil && d.Subject.Start.Line == 2 {
				read = true
			}
		}
		if !read || a.Doc == "" {
			t.Errorf("scenario argument %s: undocumented or not read:\n%s", a.Name, diagText(diags))
		}
	}
}

// An argument the table does not list is refused, so the reference names
// every argument the decoder accepts.
func TestUndocumentedArgumentRefused(t *testing.T) {
	p := compileDir(t, "testdata/site")
	_, diags := scenario.Parse(map[string][]byte{"t.test.hcl": []byte("scenario \"s\" {\n  wait {\n    for = \"1s\"\n    until = \"2s\"\n  }\n}\n")}, p)
	if !strings.Contains(diagText(diags), "Unsupported argument") {
		t.Errorf("an argument outside the table was accepted:\n%s", diagText(diags))
	}
}
