package simulate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"switchboard/compiler/ir"
	"switchboard/simulate"
)

// writeBuilding writes a generated site into dir: residences flats with
// perFlat residents each (every one with the app) and doors keypad door
// stations with one relay each.
func writeBuilding(tb testing.TB, dir string, residences, perFlat, doors int) {
	tb.Helper()
	var b strings.Builder
	b.WriteString(`site "tower" {
  name     = "Generated Tower"
  country  = "IE"
  timezone = "Europe/Dublin"
  domain   = "tower.example.net"
  installer {
    company = "Dublin Door Systems"
    email   = "support@dds.example"
  }
}
`)
	for d := 0; d < doors; d++ {
		fmt.Fprintf(&b, `
device "door-%d" {
  model    = "akuvox-r29c"
  mac      = "0C:11:05:00:%02X:%02X"
  location = "Entrance %d"
  keypad   = true
  relay "door" {
    dtmf = "#"
  }
}
`, d+1, d>>8, d&0xff, d+1)
	}
	n := 0
	for r := 0; r < residences; r++ {
		fmt.Fprintf(&b, "\nresidence \"flat-%d\" {\n  label = \"%d\"\n}\n", r+1, r+1)
		for u := 0; u < perFlat; u++ {
			n++
			role := "user"
			if n == 1 {
				role = "owner"
			}
			fmt.Fprintf(&b, `
user "u%d" {
  first_name = "Resident"
  last_name  = "Number%d"
  email      = "u%d@tower.example"
  residence  = residence.flat-%d
  role       = %q
  extension  = %d
  app        = true
}
`, n, n, n, r+1, role, 20000+n)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "site.pbx.hcl"), []byte(b.String()), 0o644); err != nil {
		tb.Fatal(err)
	}
}

func compileBuilding(tb testing.TB, residences, perFlat, doors int) (*ir.Program, secrets) {
	tb.Helper()
	dir := tb.TempDir()
	writeBuilding(tb, dir, residences, perFlat, doors)
	return simulate.CompileDir(tb, dir)
}

// BenchmarkSimulateGenerated runs the generated suite of a building —
// three residents per flat, each with the app, and four keypad door
// stations with one relay each — in memory and over loopback UDP. The
// large size is the acceptance figure: 2 000 residences, 6 000 users,
// 44 005 cases, about a million SIP messages through the server (see
// BenchmarkSIPStackFloor for what sipgo alone costs a message). Besides
// the time per run it reports the cases, the cases passed per second and
// the process CPU time the run used.
//
//	go test ./simulate -run '^$' -bench SimulateGenerated -benchtime 1x
func BenchmarkSimulateGenerated(b *testing.B) {
	for _, residences := range []int{100, 2000} {
		p, sec := compileBuilding(b, residences, 3, 4)
		cases := simulate.Generate(p)
		for _, transport := range []string{simulate.TransportMemory, simulate.TransportUDP} {
			for _, tuning := range []string{"before", "after"} {
				b.Run(fmt.Sprintf("residences=%d/%s/%s", residences, transport, tuning), func(b *testing.B) {
					benchmarkRun(b, p, sec, cases, transport, tuning)
				})
			}
		}
	}
}

// benchmarkRun runs the suite tuned as switchboard test does (tuning
// "after"), or without the stack ballast ("before"), for side-by-side
// figures in one run.
func benchmarkRun(b *testing.B, p *ir.Program, sec secrets, cases []simulate.Case, transport, tuning string) {
	simulate.TuneProcess(transport) // as switchboard test does
	if tuning == "before" {
		simulate.SetStackBallast(0)
	}
	defer simulate.SetStackBallast(simulate.StackBallastGoroutines)
	for b.Loop() {
		cpu := processCPU()
		rep, err := simulate.Run(context.Background(), p, sec, cases, simulate.Options{Transport: transport})
		if err != nil {
			b.Fatal(err)
		}
		used := processCPU() - cpu
		pass, fail, skip := rep.Counts()
		for _, r := range rep.Results {
			if r.Status == simulate.Fail {
				b.Fatalf("%d of %d cases failed; first: %s: %s: %s", fail, len(cases), r.Name, r.Step, r.Message)
			}
		}
		b.ReportMetric(float64(pass+fail+skip), "cases")
		b.ReportMetric(float64(pass)/rep.Duration.Seconds(), "cases/s")
		if used > 0 {
			b.ReportMetric(used.Seconds(), "cpu-s")
		}
		if rep.Datagrams > 0 {
			b.ReportMetric(float64(rep.Datagrams)/float64(len(cases)), "datagrams/case")
		}
		b.ReportMetric(float64(rep.SIP)/float64(len(cases)), "sip/case")
	}
}

// A generated building passes in both transports.
func TestGeneratedBuilding(t *testing.T) {
	p, sec := compileBuilding(t, 20, 3, 4)
	cases := simulate.Generate(p)
	for _, transport := range []string{simulate.TransportMemory, simulate.TransportUDP} {
		rep, err := simulate.Run(context.Background(), p, sec, cases, simulate.Options{Transport: transport})
		if err != nil {
			t.Fatal(err)
		}
		if pass, fail, _ := rep.Counts(); fail > 0 || pass == 0 {
			var b strings.Builder
			simulate.WriteText(&b, rep)
			t.Fatalf("%s: %d passed, %d failed:\n%s", transport, pass, fail, b.String())
		}
	}
}
