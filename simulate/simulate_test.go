package simulate_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/simulate"
)

type secrets = *credentials.Lookup

func compileDir(t *testing.T, dir string) (*ir.Program, secrets) {
	t.Helper()
	return simulate.CompileDir(t, dir)
}

func TestExamplesPass(t *testing.T) {
	for _, ex := range []string{"family-home", "apartment-block", "small-office"} {
		t.Run(ex, func(t *testing.T) {
			p, sec := compileDir(t, "../examples/"+ex)
			cases := simulate.Generate(p)
			rep, err := simulate.Run(context.Background(), p, sec, cases, simulate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			pass, fail, _ := rep.Counts()
			if fail > 0 || pass == 0 {
				var b strings.Builder
				simulate.WriteText(&b, rep)
				t.Fatalf("%d passed, %d failed:\n%s", pass, fail, b.String())
			}
		})
	}
}

// The suite is generated from the site as written; a server whose routing
// differs from it must fail, naming what diverged and where it was written.
func TestWrongRoutingFails(t *testing.T) {
	p, sec := compileDir(t, "../examples/family-home")
	cases := simulate.Generate(p)

	// The server runs a program in which the residence forgot jack.
	wrong := *p
	wrong.Residences = append([]ir.Residence(nil), p.Residences...)
	home := &wrong.Residences[0]
	var legs []ir.Leg
	for _, l := range home.Ring.Legs {
		if l.Label != "user.jack" {
			legs = append(legs, l)
		}
	}
	home.Ring.Legs = legs

	rep, err := simulate.Run(context.Background(), &wrong, sec, cases, simulate.Options{Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	var failed []simulate.Result
	for _, r := range rep.Results {
		if r.Status == simulate.Fail {
			failed = append(failed, r)
		}
	}
	if len(failed) == 0 {
		t.Fatal("the suite passed against a server that never rings jack")
	}
	for _, r := range failed {
		if !strings.Contains(r.Message, "app.jack never rang") {
			t.Errorf("%s: message %q does not say jack never rang", r.Name, r.Message)
		}
		if r.Origin.File == "" {
			t.Errorf("%s: no origin", r.Name)
		}
		if len(r.Ladder) == 0 {
			t.Errorf("%s: no SIP ladder", r.Name)
		}
	}
}

// TestFailingExpectationEndsWhenQuiet: an expectation that is not met ends
// as soon as nothing more can happen on the in-memory network, not after
// the real-time expectation wait. With a wait of 60 s the failing cases
// must still finish well inside this test's 20 s; before, each took the
// whole wait.
func TestFailingExpectationEndsWhenQuiet(t *testing.T) {
	p, sec := compileDir(t, "../examples/family-home")
	var cases []simulate.Case
	for _, c := range simulate.Generate(p) {
		if strings.Contains(c.Name, "jack") {
			cases = append(cases, c)
		}
	}
	if len(cases) == 0 {
		t.Fatal("no case rings jack")
	}
	wrong := *p
	wrong.Residences = append([]ir.Residence(nil), p.Residences...)
	home := &wrong.Residences[0]
	var legs []ir.Leg
	for _, l := range home.Ring.Legs {
		if l.Label != "user.jack" {
			legs = append(legs, l)
		}
	}
	home.Ring.Legs = legs

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	type result struct {
		rep *simulate.Report
		err error
	}
	done := make(chan result, 1)
	go func() {
		rep, err := simulate.Run(ctx, &wrong, sec, cases, simulate.Options{Wait: time.Minute})
		done <- result{rep, err}
	}()
	var r result
	select {
	case r = <-done:
	case <-ctx.Done():
		t.Fatal("the failing cases waited for the real-time expectation wait (60 s): nothing ends a wait when the network is quiet")
	}
	if r.err != nil {
		t.Fatal(r.err)
	}
	_, fail, _ := r.rep.Counts()
	if fail == 0 {
		t.Fatal("no case failed against a server that never rings jack")
	}
	for _, res := range r.rep.Results {
		if res.Status == simulate.Fail && !strings.Contains(res.Message, "never rang") {
			t.Errorf("%s: %s", res.Name, res.Message)
		}
	}
}

// The generated suite checks the caller ID each callee is shown (issue
// 16): a server that presents accounts by their account names and door
// stations without their button, as it did before, fails the extension
// and door cases, saying what the callee saw.
func TestWrongCallerIDFails(t *testing.T) {
	p, sec := compileDir(t, "../examples/family-home")
	cases := simulate.Generate(p)
	wrong := *p
	wrong.Accounts = append([]ir.Account(nil), p.Accounts...)
	for i := range wrong.Accounts {
		wrong.Accounts[i].CallerName, wrong.Accounts[i].CallerNumber = "", ""
	}
	wrong.Entries = append([]ir.Entry(nil), p.Entries...)
	for i := range wrong.Entries {
		wrong.Entries[i].CallerName = ""
	}
	rep, err := simulate.Run(context.Background(), &wrong, sec, cases, simulate.Options{Wait: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]bool{}
	for _, r := range rep.Results {
		if r.Status != simulate.Fail {
			continue
		}
		if !strings.Contains(r.Message, "was shown the caller as") {
			t.Errorf("%s: message %q does not say what the callee was shown", r.Name, r.Message)
		}
		switch {
		case strings.Contains(r.Name, "on extension"):
			failed["extension"] = true
		case strings.Contains(r.Name, "answers"):
			failed["door"] = true
		}
	}
	if !failed["extension"] || !failed["door"] {
		t.Errorf("cases that failed: %v; want extension and door cases", failed)
	}
}
