package simulate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/lang"
	"switchboard/simulate"
)

var testKey = func() credentials.Key {
	k, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		panic(err)
	}
	return k
}()

// buildingText is the generated building's site file (see writeBuilding).
func buildingText(tb testing.TB, residences, perFlat, doors int) string {
	tb.Helper()
	dir := tb.TempDir()
	writeBuilding(tb, dir, residences, perFlat, doors)
	b, err := os.ReadFile(filepath.Join(dir, "site.pbx.hcl"))
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// compileText compiles a one-file site.
func compileText(tb testing.TB, text string) *ir.Program {
	tb.Helper()
	dir := tb.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), []byte(text), 0o644); err != nil {
		tb.Fatal(err)
	}
	cfg, diags := lang.Load(dir, lang.Options{})
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	checked, diags := compiler.Check(cfg)
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	p, diags := compiler.Lower(checked, compiler.LowerOptions{})
	if diags.HasErrors() {
		tb.Fatal(diags)
	}
	return p
}

// editUser changes one line of user name's block in a generated building.
func editUser(tb testing.TB, text, name, from, to string) string {
	tb.Helper()
	start := strings.Index(text, fmt.Sprintf("user %q {", name))
	if start < 0 {
		tb.Fatalf("no user %q", name)
	}
	end := start + strings.Index(text[start:], "\n}\n")
	block := text[start:end]
	if !strings.Contains(block, from) {
		tb.Fatalf("user %q has no %q", name, from)
	}
	return text[:start] + strings.Replace(block, from, to, 1) + text[end:]
}

func names(cases []simulate.Case) []string {
	var out []string
	for _, c := range cases {
		out = append(out, c.Name)
	}
	return out
}

// A one-person edit selects the cases it can affect and no other. The
// oracle is independent of how cases are selected: the suite of the site
// before the edit is run against the site after it, and every case whose
// proof no longer holds there (it fails) must be selected, unless the
// edit removed or renamed it; every case that is new or whose steps
// changed must be selected too. And the selection stays about the person:
// every case selected rings, dials from or reaches them or their
// residence, before or after the edit.
func TestAffectedByOneEdit(t *testing.T) {
	before := buildingText(t, 12, 3, 2)
	old := compileText(t, before)
	oldCases := simulate.Generate(old)
	for _, tc := range []struct {
		name, from, to string
		// breaks says the old suite must fail somewhere on the new site:
		// the oracle has something to find.
		breaks bool
	}{
		{"renamed", `last_name  = "Number17"`, `last_name  = "Byrne"`, false},
		{"moved", `residence  = residence.flat-6`, `residence  = residence.flat-9`, true},
		{"new extension", `extension  = 20017`, `extension  = 29017`, true},
		{"no app", `app        = true`, `app        = false`, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			after := editUser(t, before, "u17", tc.from, tc.to)
			p := compileText(t, after)
			cases := simulate.Generate(p)
			affected := simulate.Affected(p, cases, simulate.ChangeBetween(old, p, testKey))
			selected := map[string]bool{}
			for _, c := range affected {
				selected[c.Name] = true
			}
			current := map[string]simulate.Case{}
			for _, c := range cases {
				current[c.Name] = c
			}

			rep, err := simulate.Run(context.Background(), p, credentials.NewLookup(testKey, p), oldCases, simulate.Options{})
			if err != nil {
				t.Fatal(err)
			}
			var broken, missed []string
			for _, r := range rep.Results {
				if r.Status != simulate.Fail {
					continue
				}
				broken = append(broken, r.Name)
				if _, still := current[r.Name]; still && !selected[r.Name] {
					missed = append(missed, r.Name+": "+r.Message)
				}
			}
			if tc.breaks && len(broken) == 0 {
				t.Fatal("the old suite passes on the edited site: the oracle found nothing to check")
			}
			if len(missed) > 0 {
				t.Errorf("cases whose proof no longer holds were not selected:\n%s", strings.Join(missed, "\n"))
			}
			oldByName := map[string]simulate.Case{}
			for _, c := range oldCases {
				oldByName[c.Name] = c
			}
			for _, c := range cases {
				o, ok := oldByName[c.Name]
				if (!ok || !cmp.Equal(o.Steps, c.Steps)) && !selected[c.Name] {
					t.Errorf("case %q is new or changed but not selected", c.Name)
				}
			}

			// About the person: u17 lives in flat-6 (or flat-9 after the
			// move).
			about := []string{"user.u17", "residence.flat-6", "residence.flat-9"}
			for _, c := range affected {
				subj := append(simulate.Subjects(p, c), subjectsIn(old, oldByName, c.Name)...)
				if !slices.ContainsFunc(about, func(a string) bool { return slices.Contains(subj, a) }) {
					t.Errorf("case %q is selected but is not about u17: %v", c.Name, subj)
				}
			}
			if len(affected) == 0 || len(affected) > len(cases)/4 {
				t.Errorf("%d of %d cases selected, want some and at most a quarter", len(affected), len(cases))
			}
		})
	}
}

func subjectsIn(p *ir.Program, cases map[string]simulate.Case, name string) []string {
	c, ok := cases[name]
	if !ok {
		return nil
	}
	return simulate.Subjects(p, c)
}

// An unchanged site selects nothing; a change to the site block selects
// everything.
func TestAffectedNothingOrAll(t *testing.T) {
	text := buildingText(t, 4, 2, 1)
	p := compileText(t, text)
	cases := simulate.Generate(p)
	if got := simulate.Affected(p, cases, simulate.ChangeBetween(p, compileText(t, text), testKey)); len(got) != 0 {
		t.Errorf("an unchanged site selects %d cases, want none: %v", len(got), names(got))
	}
	renamed := compileText(t, strings.Replace(text, `domain   = "tower.example.net"`, `domain   = "tower.example.org"`, 1))
	ch := simulate.ChangeBetween(p, renamed, testKey)
	if !ch.All {
		t.Fatal("a new SIP domain is not a change to every case")
	}
	if diff := cmp.Diff(names(cases), names(simulate.Affected(p, cases, ch))); diff != "" {
		t.Errorf("a change to the site block (-want +got):\n%s", diff)
	}
}

// The shards of a suite are disjoint, together the whole suite, and of
// sizes that differ by at most one.
func TestShardDisjointAndComplete(t *testing.T) {
	cases := simulate.Generate(compileText(t, buildingText(t, 30, 3, 2)))
	for _, n := range []int{1, 2, 3, 7, len(cases), len(cases) + 5} {
		seen := map[string]int{}
		var sizes []int
		for k := 1; k <= n; k++ {
			part := simulate.Shard(cases, k, n)
			sizes = append(sizes, len(part))
			for _, c := range part {
				seen[c.Name]++
			}
		}
		var missing []string
		for _, c := range cases {
			switch seen[c.Name] {
			case 0:
				missing = append(missing, c.Name)
			case 1:
			default:
				t.Errorf("n=%d: %q is in %d parts", n, c.Name, seen[c.Name])
			}
		}
		if len(missing) > 0 {
			t.Errorf("n=%d: in no part: %v", n, missing)
		}
		if len(seen) != len(cases) {
			t.Errorf("n=%d: the parts hold %d distinct cases, the suite %d", n, len(seen), len(cases))
		}
		if slices.Max(sizes)-slices.Min(sizes) > 1 {
			t.Errorf("n=%d: part sizes %v differ by more than one", n, sizes)
		}
		// Within a part, the suite's order.
		part := simulate.Shard(cases, 1, n)
		pos := func(name string) int {
			return slices.IndexFunc(cases, func(c simulate.Case) bool { return c.Name == name })
		}
		if !slices.IsSortedFunc(part, func(a, b simulate.Case) int { return pos(a.Name) - pos(b.Name) }) {
			t.Errorf("n=%d: part 1 is not in the suite's order", n)
		}
	}
}

// Options.Result gets every selected case's result, skipped ones too, as
// the case ends: the same results the report lists in case order.
func TestResultsStreamAsCasesEnd(t *testing.T) {
	p := compileText(t, buildingText(t, 3, 2, 1))
	cases := simulate.Generate(p)
	var streamed []simulate.Result
	rep, err := simulate.Run(context.Background(), p, credentials.NewLookup(testKey, p), cases, simulate.Options{
		Result: func(r simulate.Result) { streamed = append(streamed, r) }, // one call at a time
	})
	if err != nil {
		t.Fatal(err)
	}
	byName := func(a, b simulate.Result) int { return strings.Compare(a.Name, b.Name) }
	want := slices.Clone(rep.Results)
	slices.SortFunc(want, byName)
	slices.SortFunc(streamed, byName)
	if diff := cmp.Diff(want, streamed); diff != "" {
		t.Errorf("streamed results (-want +got):\n%s", diff)
	}
	if rep.Datagrams == 0 {
		t.Error("a run in memory counted no datagrams")
	}
}

// BenchmarkChangedSince is a reviewer's re-test after a one-person edit on
// the 6 000-user building (BenchmarkSimulateGenerated's large size): the
// change and the cases it affects are found (ChangeBetween, Affected) and
// only those run. Compiling the two versions, which switchboard test
// -changed-since does too, is reported apart as compile-s (both versions).
//
//	go test ./simulate -run '^$' -bench ChangedSince -benchtime 1x
func BenchmarkChangedSince(b *testing.B) {
	before := buildingText(b, 2000, 3, 4)
	after := editUser(b, before, "u3001", `last_name  = "Number3001"`, `last_name  = "Byrne"`)
	start := time.Now()
	old, p := compileText(b, before), compileText(b, after)
	compile := time.Since(start)
	sec := credentials.NewLookup(testKey, p)
	cases := simulate.Generate(p)
	simulate.TuneProcess(simulate.TransportMemory)
	for b.Loop() {
		start := time.Now()
		affected := simulate.Affected(p, cases, simulate.ChangeBetween(old, p, testKey))
		selecting := time.Since(start)
		rep, err := simulate.Run(context.Background(), p, sec, affected, simulate.Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, fail, _ := rep.Counts(); fail > 0 {
			b.Fatalf("%d cases failed", fail)
		}
		b.ReportMetric(float64(len(affected)), "cases")
		b.ReportMetric(float64(len(cases)), "suite")
		b.ReportMetric(selecting.Seconds(), "select-s")
		b.ReportMetric(rep.Duration.Seconds(), "run-s")
		b.ReportMetric(compile.Seconds(), "compile-s")
	}
}
