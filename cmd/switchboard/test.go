package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"

	"switchboard/atomicfile"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/simulate"
	"switchboard/simulate/scenario"
)

var testCommand = &command{
	name:     "test",
	synopsis: "Simulate every call path of a site",
	usage: `Usage: switchboard test [-run REGEX] [-list] [-json] [-junit FILE] [-html FILE]
                        [-parallel N] [-changed-since REV|state] [-shard K/N]
                        [-transport memory|udp] [-lockfile=readonly]
                        [-var name=value]... [-var-file FILE]... [DIR]

Starts the site in DIR on a private server, registers a simulated device
for every account (door stations, monitors, phones, apps, the carrier) and
places real SIP calls with real RTP, on a virtual clock, to prove:

  - every door-station button and keypad code rings exactly the endpoints
    it should (together, or in turn with the configured timeouts), and an
    unanswered call ends in the configured fallback;
  - each of those endpoints can answer and open every relay of the door,
    and the door station receives its code;
  - someone the door never calls is refused when keying its code;
  - every user is reached on their extension, and every DDI from the
    carrier rings its user;
  - users call out over the trunk with the right caller ID (emergency
    numbers too), and door stations cannot;
  - an unanswered user's caller leaves a message that lands in the box as
    a WAV file, and the user's phones are told (message-waiting NOTIFY);
    the voicemail access code answers;
  - three users in each conference room hear each other and not
    themselves (keying the room's PIN where it has one).

Then it runs the scenarios of *.test.hcl files in DIR and DIR/tests: calls
the installer describes step by step, in the order written:

  scenario "nobody home: the gate call goes to voicemail" {
    press { button = device.gate.button["1"] }
    rings { endpoints = [residence.home] }
    nobody_answers {}
    falls_back { to = "voicemail" }
  }

Every step and expectation, with its arguments, is listed at the end. A
scenario that expects nothing is an error.

-list prints the names of the cases (those -run selects) without running
them; -run matching no case is an error. On a terminal, a line on standard
error shows how many cases are done, and a case that fails is announced
there as it fails.

-changed-since REV runs only the cases the changes since git revision REV
can affect (the site files are read at REV with git): those whose subject
— a door station, residence, user, device, trunk or conference room the
case dials, rings, answers with or proves — changed, was added or removed,
and those new or changed themselves. "-changed-since state" compares with
the state the last apply recorded instead (which holds no scenarios: they
all run). A change to the site block, or a version that does not compile,
runs every case.

-shard K/N runs part K of N: every case is in exactly one part, the parts
differ in size by at most one (cases are dealt by a hash of their names),
so N jobs running parts 1 to N together run the whole suite once.

Cases run in parallel and are reported in a stable order; with -json each
case's line is printed as soon as it ends, in the order they end. A failure shows
the step, the reason, the line of the site files (or the scenario) the case
proves, and the SIP messages of the call.

-html FILE also writes the report as one self-contained page: the cases
grouped by door, residence and person, each failure with its SIP ladder
diagram and the line it proves, the passed cases collapsed.

Passwords come from the site key when there is one; otherwise an
ephemeral key is used (the simulation only needs them to agree).

Exit status: 0 every case passed, 1 a case failed, 2 usage error, a site
that does not compile or a scenario file with errors.

` + scenarioReference(),
	run:   runTest,
	flags: func() *flagSet { return testFlags(&testOptions{}) },
}

type testOptions struct {
	run       string
	list      bool
	json      bool
	junit     string
	html      string
	parallel  int
	transport string
	since     string
	shard     string
	site      siteOptions
}

func testFlags(o *testOptions) *flagSet {
	f := newFlagSet("test")
	f.fs.StringVar(&o.run, "run", "", "run only the cases whose name matches `REGEX`")
	f.fs.BoolVar(&o.list, "list", false, "print the names of the cases without running them")
	f.fs.BoolVar(&o.json, "json", false, "print one JSON object per case instead of the summary")
	f.fs.StringVar(&o.junit, "junit", "", "also write a JUnit XML report to `FILE`")
	f.fs.StringVar(&o.html, "html", "", "also write the report as an HTML page to `FILE`")
	f.fs.IntVar(&o.parallel, "parallel", 0, "run up to `N` servers at once (default: the number of CPUs)")
	o.transport = simulate.TransportMemory
	f.fs.StringVar(&o.transport, "transport", simulate.TransportMemory, "carry SIP and RTP in `memory` (no sockets) or over loopback udp")
	f.fs.StringVar(&o.since, "changed-since", "", "run only the cases the changes since git revision `REV` (or \"state\", the last apply) can affect")
	f.fs.StringVar(&o.shard, "shard", "", "run only part `K/N` of the cases: K of N disjoint parts")
	o.site.register(f.fs)
	return f
}

func runTest(c *cli, args []string) int {
	var o testOptions
	positional, status, ok := c.parse(testFlags(&o), args, 1)
	if !ok {
		return status
	}
	var sel *regexp.Regexp
	if o.run != "" {
		var err error
		if sel, err = regexp.Compile(o.run); err != nil {
			return c.usageError(lookup("test"), "-run: %v", err)
		}
	}
	dir := dirArg(positional)
	var rev *revision
	if o.since != "" && o.since != changedSinceState {
		rev = c.startRevision(dir, o.since, o.site)
		defer func() { <-rev.done }() // its temporary copy removed, whatever the outcome
	}
	// A site that does not compile is a usage problem for test (exit 2):
	// no case could run.
	cs, _ := c.compileSite("test", dir, compileOptions{site: o.site})
	if cs == nil {
		return exitUsage
	}
	key, err := credentials.LoadKey(dir, c.environ)
	if errors.Is(err, credentials.ErrNoKey) {
		key, err = credentials.NewKey()
	}
	if err != nil {
		c.fail("test", err)
		return exitUsage
	}
	p := cs.program
	cases := simulate.Generate(p)
	scenarios, diags := scenario.Load(dir, p)
	if len(diags) > 0 {
		diags = capUnparsed(diags, scenarios.Unparsed)
		files, diags := displayPaths(dir, scenarios.Files, sortDiagnostics(diags))
		style := c.styleFor(c.stderr)
		errs, warns := counts(diags)
		if errs > 0 {
			// Under -json the document on stdout; warnings alone stay on
			// stderr, as the cases' JSON lines follow.
			c.reportDiagnostics(files, diags)
			if !c.json {
				fmt.Fprintln(c.stderr, style.paint(ansiBold+ansiRed, scenarioProblems(errs, warns)))
			}
			return exitUsage
		}
		_ = writeDiagnosticsText(c.stderr, files, diags, style)
	}
	generated := cases
	cases = append(cases, scenarios.Cases...)
	all := cases
	if o.since != "" {
		ch, note, err := c.changeSince(rev, o.since, statePath(dir, ""), cs, key)
		if err != nil {
			return c.fail("test", err)
		}
		if rev != nil {
			cases = simulate.Affected(p, cases, ch)
		} else {
			// The state records no scenarios to compare with: a new or
			// edited one must run, so they all do.
			cases = append(simulate.Affected(p, generated, ch), scenarios.Cases...)
		}
		if note != "" {
			note = ": " + note
		}
		fmt.Fprintf(c.stderr, "switchboard test: -changed-since %s: %d of %s affected%s\n", o.since, len(cases), plural(len(all), "case"), note)
	}
	if o.shard != "" {
		k, n, _ := parseShard(o.shard) // checked with the flags
		cases = simulate.Shard(cases, k, n)
	}
	selected := 0
	for _, tc := range cases {
		if sel == nil || sel.MatchString(tc.Name) {
			selected++
			if o.list {
				c.listCase(tc.Name)
			}
		}
	}
	if selected == 0 && sel != nil && !slices.ContainsFunc(all, func(tc simulate.Case) bool { return sel.MatchString(tc.Name) }) {
		// Like a misspelt flag: "0 passed" would let a CI job that
		// tests nothing pass.
		list := []string{"switchboard", "test", "-list"}
		if dir != "." {
			list = append(list, dir)
		}
		return c.usageError(lookup("test"), "-run %s matches none of the %s; \"%s\" lists their names", shellJoin([]string{o.run}), plural(len(all), "case"), shellJoin(list))
	}
	if o.list {
		return exitOK
	}
	if selected == 0 {
		// Nothing changed that a case proves, or an empty part: nothing
		// to run is then a pass.
		return c.writeReport(&simulate.Report{}, o, p)
	}
	line := c.newProgress("cases", selected)
	simulate.TuneProcess(o.transport)
	rep, err := simulate.Run(context.Background(), p, credentials.NewLookup(key, p), cases,
		simulate.Options{Run: sel, Parallel: o.parallel, Transport: o.transport, TrunkSecrets: trunkSecretsOf(cs.cfg), Progress: line.step,
			Result: c.streamResult(dir, line)})
	line.clear()
	if err != nil {
		return c.fail("test", err)
	}
	displayOrigins(dir, rep)
	return c.writeReport(rep, o, p)
}

// streamResult is what happens as each case ends: under -json its line
// is printed there and then; on a terminal a failure is announced above
// the progress line. (The text report at the end stays in case order.)
func (c *cli) streamResult(dir string, line *progress) func(simulate.Result) {
	return func(r simulate.Result) {
		switch {
		case c.json:
			one := &simulate.Report{Results: []simulate.Result{r}}
			displayOrigins(dir, one)
			_ = simulate.WriteJSON(c.stdout, one)
		case r.Status == simulate.Fail:
			line.above(fmt.Sprintf("FAIL  %s: %s: %s", r.Name, r.Step, r.Message))
		}
	}
}

// writeReport writes the run's report (the text summary; under -json the
// lines are out already) and the JUnit file, and returns the exit status.
func (c *cli) writeReport(rep *simulate.Report, o testOptions, p *ir.Program) int {
	var err error
	if o.junit != "" {
		err := atomicfile.WriteFrom(o.junit, 0o644, func(w *os.File) error {
			return simulate.WriteJUnit(w, rep, p.Site.Name)
		})
		if err != nil {
			return c.fail("test", err)
		}
	}
	if o.html != "" {
		if err := writeTestHTML(o.html, p, rep); err != nil {
			return c.fail("test", err)
		}
	}
	if !o.json {
		err = simulate.WriteText(c.stdout, rep)
	}
	if err != nil {
		return exitFail
	}
	if _, fail, _ := rep.Counts(); fail > 0 {
		return exitFail
	}
	return exitOK
}

// listCase prints one case's name for -list: a line, or under -json an
// object like those of a run.
func (c *cli) listCase(name string) {
	if c.json {
		data, _ := json.Marshal(struct {
			Name string `json:"name"`
		}{name})
		fmt.Fprintf(c.stdout, "%s\n", data)
		return
	}
	fmt.Fprintln(c.stdout, name)
}

// scenarioProblems is `The scenarios are not valid: 2 errors; no case was run.`
func scenarioProblems(errs, warns int) string {
	s := "The scenarios are not valid: " + plural(errs, "error")
	if warns > 0 {
		s += ", " + plural(warns, "warning")
	}
	return s + "; no case was run."
}
