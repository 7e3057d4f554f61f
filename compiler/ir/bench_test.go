package ir_test

import (
	"testing"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
)

// benchSite is the 10 000-user, ~3 000-device site of the build target.
func benchSite() *ir.Program {
	return irtest.Generate(irtest.Options{Residences: 2000, UsersPerResidence: 5, PhoneEvery: 12, Seed: 1})
}

func BenchmarkValidate(b *testing.B) {
	p := benchSite()
	for b.Loop() {
		if err := p.Validate(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshal(b *testing.B) {
	p := benchSite()
	var n int
	for b.Loop() {
		data, err := ir.Marshal(p)
		if err != nil {
			b.Fatal(err)
		}
		n = len(data)
	}
	b.ReportMetric(float64(n)/1e6, "MB")
}

func BenchmarkUnmarshal(b *testing.B) {
	data, err := ir.Marshal(benchSite())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := ir.Unmarshal(data); err != nil {
			b.Fatal(err)
		}
	}
}
