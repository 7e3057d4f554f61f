package simulate

import (
	"testing"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/lang"
)

// For the benchmarks that measure the run with and without the stack
// ballast (see TuneProcess).
var SetStackBallast = setStackBallast

const StackBallastGoroutines = stackBallastGoroutines

// CompileDir is compileDir for the package's external tests.
var CompileDir = compileDir

// compileDir loads, checks and lowers the site in dir, with a fixed
// site key: what every test of a simulated site starts from.
func compileDir(tb testing.TB, dir string) (*ir.Program, *credentials.Lookup) {
	tb.Helper()
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
	key, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		tb.Fatal(err)
	}
	return p, credentials.NewLookup(key, p)
}
