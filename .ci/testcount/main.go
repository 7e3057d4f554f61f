// Command testcount runs `go test -json` with its arguments and prints
// what a person needs from it: each package's result line as go test
// prints it, then the tests that failed with the tail of their output,
// the tests that skipped with their reason (an interop test that skips
// did not run: that must be seen), and a closing line
//
//	N passed, N failed, N skipped
//
// It exits 1 when any test or package failed, or when go test itself
// failed (a build error, a vet failure, a timeout) even if no test said
// so.
//
// What is counted: every test and subtest that has no subtests of its
// own, once, by its final action ("pass", "fail", "skip"). A parent test
// is its subtests' sum, so it is not counted again — unless it failed
// while none of its subtests did (a t.Error outside them), which counts
// as one failure. A package that failed with no failing test (it did not
// build, it panicked outside a test, it timed out) counts as one failure
// named after the package.
//
// With TESTCOUNT_SUMMARY=file it also writes the closing line to file,
// so a CI script can print it last.
//
// Usage: go run ./.ci/testcount [go test flags] [packages]
package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
	// ImportPath is set on build-output and build-fail events (go1.24+).
	ImportPath string
}

// tailLines is how much of a failed test's output is printed: enough for
// both stacks of a race report.
const tailLines = 150

type key struct{ pkg, test string }

// result is what became of one test.
type result struct {
	action string   // pass, fail, skip; "" while it runs
	output []string // its output lines
}

// tally reads the events and keeps every test's result and output.
type tally struct {
	tests     map[key]*result
	order     []key
	pkgFailed map[string]bool
	pkgOutput map[string][]string
	buildOut  map[string][]string // build-output by import path
	out       io.Writer           // package result lines go here as they come
}

func newTally(out io.Writer) *tally {
	return &tally{tests: map[key]*result{}, pkgFailed: map[string]bool{},
		pkgOutput: map[string][]string{}, buildOut: map[string][]string{}, out: out}
}

func (t *tally) add(e event) {
	// A test binary's build is "pkg [pkg.test]"; its result is pkg's.
	if i := strings.Index(e.ImportPath, " ["); i > 0 {
		e.ImportPath = e.ImportPath[:i]
	}
	switch e.Action {
	case "build-output":
		t.buildOut[e.ImportPath] = append(t.buildOut[e.ImportPath], e.Output)
		return
	case "build-fail":
		t.pkgFailed[e.ImportPath] = true
		return
	}
	if e.Test == "" {
		switch e.Action {
		case "output":
			t.pkgOutput[e.Package] = append(t.pkgOutput[e.Package], e.Output)
			// go test's own per-package lines: "ok  pkg 1.2s", "FAIL pkg",
			// "?   pkg [no test files]".
			if !strings.HasPrefix(e.Output, "PASS") && !strings.HasPrefix(e.Output, "FAIL\n") {
				fmt.Fprint(t.out, e.Output)
			}
		case "fail":
			t.pkgFailed[e.Package] = true
		}
		return
	}
	k := key{e.Package, e.Test}
	r := t.tests[k]
	if r == nil {
		r = &result{}
		t.tests[k] = r
		t.order = append(t.order, k)
	}
	switch e.Action {
	case "output":
		r.output = append(r.output, e.Output)
	case "pass", "fail", "skip":
		r.action = e.Action
	}
}

// counts is the closing line's numbers, and the names behind them.
type counts struct {
	passed, failed, skipped int
	failures, skips         []key
	pkgFailures             []string
}

func (t *tally) count() counts {
	var c counts
	parent := map[key]bool{}
	failingChild := map[key]bool{}
	for _, k := range t.order {
		for i := strings.LastIndexByte(k.test, '/'); i > 0; i = strings.LastIndexByte(k.test[:i], '/') {
			p := key{k.pkg, k.test[:i]}
			parent[p] = true
			if t.tests[k].action == "fail" {
				failingChild[p] = true
			}
		}
	}
	pkgHasFailure := map[string]bool{}
	for _, k := range t.order {
		r := t.tests[k]
		if parent[k] {
			if r.action == "fail" && !failingChild[k] {
				c.failed++
				c.failures = append(c.failures, k)
				pkgHasFailure[k.pkg] = true
			}
			continue
		}
		switch r.action {
		case "pass":
			c.passed++
		case "skip":
			c.skipped++
			c.skips = append(c.skips, k)
		default: // "fail", or never finished: the package died under it
			c.failed++
			c.failures = append(c.failures, k)
			pkgHasFailure[k.pkg] = true
		}
	}
	for p := range t.pkgFailed {
		if !pkgHasFailure[p] {
			c.failed++
			c.pkgFailures = append(c.pkgFailures, p)
		}
	}
	sort.Strings(c.pkgFailures)
	return c
}

// reason is the line a skipped test gave for skipping.
func reason(out []string) string {
	for i := len(out) - 1; i >= 0; i-- {
		l := strings.TrimSpace(out[i])
		if l == "" || strings.HasPrefix(l, "---") || strings.HasPrefix(l, "===") {
			continue
		}
		return l
	}
	return "(no reason given)"
}

// message is the first line of a t.Log/t.Error message: indented,
// "file.go:line: ".
var message = regexp.MustCompile(`^\s+[\w.-]+\.go:\d+: `)

// messages returns the first lines of the test's messages, at most 50.
func messages(out []string) []string {
	var m []string
	for _, l := range out {
		if message.MatchString(l) && len(m) < 50 {
			m = append(m, l)
		}
	}
	return m
}

func tail(out []string, n int) string {
	return strings.Join(out[max(0, len(out)-n):], "")
}

func (t *tally) report(w io.Writer, c counts, goTestFailed bool) {
	if len(c.skips) > 0 {
		fmt.Fprintf(w, "\n%d skipped — these did NOT run:\n", len(c.skips))
		for _, k := range c.skips {
			fmt.Fprintf(w, "  SKIP %s %s: %s\n", k.pkg, k.test, reason(t.tests[k].output))
		}
	}
	diedShown := map[string]bool{}
	for _, k := range c.failures {
		out := t.tests[k].output
		fmt.Fprintf(w, "\n--- FAILED %s %s\n", k.pkg, k.test)
		// Its own messages first: a peer's log it dumps can push them
		// out of the tail.
		if msgs := messages(out); len(msgs) > 0 {
			fmt.Fprintf(w, "its messages:\n%s", strings.Join(msgs, ""))
		}
		fmt.Fprintf(w, "the last %d lines of its output:\n%s", tailLines, tail(out, tailLines))
		if t.tests[k].action != "fail" && !diedShown[k.pkg] {
			// It never finished: its package died under it (a panic, a
			// timeout), and go test -json gives the goroutines' stacks
			// to the package, not to the test.
			diedShown[k.pkg] = true
			fmt.Fprintf(w, "the last %d lines of its package's own output:\n%s", tailLines, tail(t.pkgOutput[k.pkg], tailLines))
		}
	}
	for _, p := range c.pkgFailures {
		out := append(append([]string{}, t.buildOut[p]...), t.pkgOutput[p]...)
		fmt.Fprintf(w, "\n--- FAILED package %s:\n%s", p, tail(out, tailLines))
	}
	if len(c.failures)+len(c.pkgFailures) > 0 {
		fmt.Fprintln(w, "\nfailed:")
		for _, k := range c.failures {
			fmt.Fprintf(w, "  %s %s\n", k.pkg, k.test)
		}
		for _, p := range c.pkgFailures {
			fmt.Fprintf(w, "  %s (package)\n", p)
		}
	}
	if goTestFailed && c.failed == 0 {
		fmt.Fprintln(w, "\ngo test failed without a failing test or package (see its output above)")
	}
}

func main() {
	cmd := exec.Command("go", append([]string{"test", "-json"}, os.Args[1:]...)...)
	cmd.Stderr = os.Stderr // build errors the JSON does not carry
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testcount:", err)
		os.Exit(2)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testcount:", err)
		os.Exit(2)
	}
	t := newTally(os.Stdout)
	sc := bufio.NewScanner(stdout)
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			fmt.Println(sc.Text()) // not an event: pass it on
			continue
		}
		t.add(e)
	}
	goTestFailed := cmd.Wait() != nil
	c := t.count()
	t.report(os.Stdout, c, goTestFailed)
	summary := fmt.Sprintf("%d passed, %d failed, %d skipped", c.passed, c.failed, c.skipped)
	fmt.Println()
	fmt.Println(summary)
	if f := os.Getenv("TESTCOUNT_SUMMARY"); f != "" {
		if err := os.WriteFile(f, []byte(summary+"\n"), 0o644); err != nil {
			fmt.Fprintln(os.Stderr, "testcount:", err)
		}
	}
	if c.failed > 0 || goTestFailed {
		os.Exit(1)
	}
}
