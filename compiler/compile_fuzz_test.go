package compiler

import (
	"fmt"
	"sort"
	"strings"
	"testing"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/provision"
	"switchboard/compiler/provision/provisiontest"
	"switchboard/lang"
)

// compileGenerated takes a generated site through the whole pipeline and
// checks what comes out: the site loads and checks without an error (else
// the generator is wrong), lowers, renders, the IR survives a JSON round
// trip, and the bundle reads back and agrees with the IR
// (provisiontest.Check: every vendor file parses, every device has its
// file, accounts and relay codes match).
func compileGenerated(t *testing.T, o genOptions) {
	t.Helper()
	src := genSite(o)
	show := func() string {
		var names []string
		for n := range src {
			names = append(names, n)
		}
		sort.Strings(names)
		var b strings.Builder
		for _, n := range names {
			fmt.Fprintf(&b, "-- %s --\n%s", n, src[n])
		}
		return b.String()
	}
	cfg, diags := lang.LoadSources(".", src, lang.Options{})
	if diags.HasErrors() {
		t.Fatalf("generated site does not load (%+v):\n%s\n%s", o, describe(diags), show())
	}
	checked, diags := Check(cfg)
	if diags.HasErrors() {
		t.Fatalf("generated site does not check (%+v):\n%s\n%s", o, describe(diags), show())
	}
	p, diags := Lower(checked, LowerOptions{ProvisionURL: "https://prov.example/"})
	if diags.HasErrors() {
		t.Fatalf("lower (%+v):\n%s\n%s", o, describe(diags), show())
	}
	js, err := ir.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ir.Unmarshal(js)
	if err != nil {
		t.Fatalf("dialplan.json does not read back: %v", err)
	}
	if again, _ := ir.Marshal(back); string(again) != string(js) {
		t.Fatal("dialplan.json changes on a round trip")
	}
	k := fixedKey(t, byte(o.Seed))
	src2 := credentials.NewSource(k, p)
	b, diags := provision.Render(p, src2)
	if diags.HasErrors() {
		t.Fatalf("render (%+v):\n%s\n%s", o, describe(diags), show())
	}
	for _, d := range diags {
		if d.Subject == nil {
			t.Errorf("render warning without a subject: %s", d.Detail)
		}
	}
	for _, err := range provisiontest.Check(p, b, src2, diags) {
		t.Errorf("%v (%+v)", err, o)
	}
	if t.Failed() {
		t.Logf("site:\n%s", show())
	}
}

// TestCompileRandomSites is the property test: random valid sites of
// every size up to a small block always compile and give bundles that
// read back and agree with the IR.
func TestCompileRandomSites(t *testing.T) {
	n := 60
	if testing.Short() {
		n = 10
	}
	for seed := range uint64(n) {
		o := genOptions{Seed: seed, Residences: 1 + int(seed%17), Users: int(seed % 5), Doors: int(seed % 4)}
		t.Run(fmt.Sprint(seed), func(t *testing.T) { compileGenerated(t, o) })
	}
}

// FuzzCompile drives the site generator with fuzzed seeds and sizes: every
// generated site is valid, so it must compile without an error or a panic
// and give bundles that parse back.
func FuzzCompile(f *testing.F) {
	for seed := range uint64(12) {
		f.Add(seed, uint8(1+seed*3), uint8(seed%5), uint8(seed%4))
	}
	f.Add(uint64(1<<63), uint8(40), uint8(6), uint8(6))
	f.Fuzz(func(t *testing.T, seed uint64, residences, users, doors uint8) {
		compileGenerated(t, genOptions{Seed: seed, Residences: 1 + int(residences%48), Users: int(users % 7), Doors: int(doors % 7)})
	})
}
