package scenario_test

import (
	"testing"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/lang"
)

// compileDir takes a site directory through the compiler.
func compileDir(t testing.TB, dir string) *ir.Program {
	t.Helper()
	cfg, diags := lang.Load(dir, lang.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	checked, diags := compiler.Check(cfg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	p, diags := compiler.Lower(checked, compiler.LowerOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return p
}

type secrets = *credentials.Lookup

func newSecrets(t testing.TB, p *ir.Program) secrets {
	t.Helper()
	key, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return credentials.NewLookup(key, p)
}
