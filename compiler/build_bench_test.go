package compiler

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"testing"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision"
	"switchboard/lang"
)

// buildSite is `switchboard build` without the CLI: load, check, lower,
// render, then write dialplan.json and the bundle under out.
func buildSite(tb testing.TB, site, out string, k credentials.Key) (*ir.Program, *provision.Bundle) {
	cfg, diags := lang.Load(site, lang.Options{})
	if diags.HasErrors() {
		tb.Fatalf("load: %s", describe(diags))
	}
	checked, diags := Check(cfg)
	if diags.HasErrors() {
		tb.Fatalf("check: %s", describe(diags))
	}
	p, diags := Lower(checked, LowerOptions{})
	if diags.HasErrors() {
		tb.Fatalf("lower: %s", describe(diags))
	}
	b, diags := provision.Render(p, credentials.NewSource(k, p))
	if diags.HasErrors() {
		tb.Fatalf("render: %s", describe(diags))
	}
	// As cmd/switchboard's writeBuild: the bundle is written while the
	// dial plan is encoded.
	if err := os.MkdirAll(out, 0o755); err != nil {
		tb.Fatal(err)
	}
	wrote := make(chan error, 1)
	go func() { wrote <- b.WriteDir(filepath.Join(out, "provision")) }()
	js, err := ir.Marshal(p)
	if err == nil {
		err = os.WriteFile(filepath.Join(out, "dialplan.json"), js, 0o644)
	}
	if werr := <-wrote; err == nil {
		err = werr
	}
	if err != nil {
		tb.Fatal(err)
	}
	return p, b
}

// BenchmarkBuild times a whole build of the 10 000-user, 3 000-device
// site (writeBenchSite) into a fresh directory per iteration: load, check,
// lower, render, dialplan.json and every provisioning file. The time is
// dominated by the file system when files are new; see
// BenchmarkBuildRebuild for a rebuild that changes nothing.
func BenchmarkBuild(b *testing.B) {
	// As switchboard build runs: GOGC 300 (cmd/switchboard buildGCPercent).
	defer debug.SetGCPercent(debug.SetGCPercent(300))
	site := b.TempDir()
	writeBenchSite(b, site)
	out := b.TempDir()
	k := fixedKey(b, 0)
	b.ReportAllocs()
	n := 0
	var files int
	for b.Loop() {
		n++
		_, bundle := buildSite(b, site, filepath.Join(out, strconv.Itoa(n)), k)
		files = len(bundle.Files)
	}
	b.ReportMetric(float64(files), "files")
}

// BenchmarkBuildRebuild times a build into the directory of an identical
// earlier build, where every file is found in place and left alone.
func BenchmarkBuildRebuild(b *testing.B) {
	defer debug.SetGCPercent(debug.SetGCPercent(300))
	site := b.TempDir()
	writeBenchSite(b, site)
	out := b.TempDir()
	k := fixedKey(b, 0)
	buildSite(b, site, out, k)
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		buildSite(b, site, out, k)
	}
}
