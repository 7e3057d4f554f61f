package main

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCount(t *testing.T) {
	tests := []struct {
		name   string
		events string // one JSON event a line
		want   [3]int // passed, failed, skipped
	}{
		{"leaves only", `
{"Action":"pass","Package":"p","Test":"TestA"}
{"Action":"pass","Package":"p","Test":"TestB/one"}
{"Action":"skip","Package":"p","Test":"TestB/two"}
{"Action":"pass","Package":"p","Test":"TestB"}`, [3]int{2, 0, 1}},
		{"a failing subtest counts once", `
{"Action":"fail","Package":"p","Test":"TestB/one"}
{"Action":"pass","Package":"p","Test":"TestB/two"}
{"Action":"fail","Package":"p","Test":"TestB"}
{"Action":"fail","Package":"p"}`, [3]int{1, 1, 0}},
		{"a parent failing on its own", `
{"Action":"pass","Package":"p","Test":"TestB/one"}
{"Action":"fail","Package":"p","Test":"TestB"}`, [3]int{1, 1, 0}},
		{"a test cut short by a panic", `
{"Action":"run","Package":"p","Test":"TestA"}
{"Action":"output","Package":"p","Test":"TestA","Output":"panic: boom\n"}
{"Action":"fail","Package":"p"}`, [3]int{0, 1, 0}},
		{"a package that did not build", `
{"Action":"build-fail","ImportPath":"q [q.test]"}
{"Action":"fail","Package":"q"}`, [3]int{0, 1, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTally(io.Discard)
			for _, l := range strings.Split(strings.TrimSpace(tt.events), "\n") {
				var e event
				if err := json.Unmarshal([]byte(l), &e); err != nil {
					t.Fatal(err)
				}
				tl.add(e)
			}
			c := tl.count()
			if diff := cmp.Diff(tt.want, [3]int{c.passed, c.failed, c.skipped}); diff != "" {
				t.Errorf("passed, failed, skipped (-want +got):\n%s", diff)
			}
		})
	}
}

// A test its package died under (a panic) is reported with the package's
// own output too: go test -json gives the stacks to the package.
func TestReportDiedUnder(t *testing.T) {
	tl := newTally(io.Discard)
	for _, e := range []event{
		{Action: "run", Package: "p", Test: "TestA"},
		{Action: "output", Package: "p", Test: "TestA", Output: "panic: boom\n"},
		{Action: "output", Package: "p", Output: "goroutine 7 [running]:\n"},
		{Action: "output", Package: "p", Output: "p.TestA()\n"},
		{Action: "fail", Package: "p"},
	} {
		tl.add(e)
	}
	var b strings.Builder
	tl.report(&b, tl.count(), true)
	for _, want := range []string{"--- FAILED p TestA", "panic: boom", "goroutine 7 [running]:", "p.TestA()"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}

func TestSkipReason(t *testing.T) {
	out := []string{"=== RUN   TestX\n", "    x_test.go:9: SKIPPING: sipp is not installed\n", "--- SKIP: TestX (0.00s)\n"}
	if diff := cmp.Diff("x_test.go:9: SKIPPING: sipp is not installed", reason(out)); diff != "" {
		t.Errorf("reason (-want +got):\n%s", diff)
	}
}

func TestMessages(t *testing.T) {
	out := []string{"=== RUN   TestX\n", "    x_test.go:9: alice hears bob at 12129\n", "        a peer's line\n", "    x_test.go:12: another\n", "--- FAIL: TestX (0.00s)\n"}
	want := []string{"    x_test.go:9: alice hears bob at 12129\n", "    x_test.go:12: another\n"}
	if diff := cmp.Diff(want, messages(out)); diff != "" {
		t.Errorf("messages (-want +got):\n%s", diff)
	}
}
