package site

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
)

// The provisioning server offers what the site's devices answer: MD5 alone
// while every model is MD5-only, SHA-256 first once one answers it.
func TestDeviceDigest(t *testing.T) {
	dev := func(name string, digest ...string) ir.Account {
		return ir.Account{Name: name, Device: name, Digest: digest}
	}
	for _, tc := range []struct {
		name string
		p    *ir.Program
		want []string
	}{
		{"no devices", &ir.Program{}, []string{"MD5"}},
		{"MD5-only models", &ir.Program{Accounts: []ir.Account{dev("device.gate", "MD5"), dev("device.mon", "MD5")}}, []string{"MD5"}},
		{"apps do not count", &ir.Program{Site: ir.Site{Digest: []string{"SHA-256"}}, Accounts: []ir.Account{{Name: "app.mary"}, dev("device.gate", "MD5")}}, []string{"MD5"}},
		{"one answers SHA-256", &ir.Program{Accounts: []ir.Account{dev("device.gate", "MD5"), dev("device.phone", "SHA-256", "MD5")}}, []string{"SHA-256", "MD5"}},
		{"SHA-256 only", &ir.Program{Accounts: []ir.Account{dev("device.phone", "SHA-256")}}, []string{"SHA-256"}},
	} {
		if diff := cmp.Diff(tc.want, deviceDigest(tc.p)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tc.name, diff)
		}
	}
}
