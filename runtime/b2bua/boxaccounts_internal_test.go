package b2bua

import (
	"slices"
	"testing"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/runtime/notify"
)

// TestAccountsOfBox: the index of message-waiting accounts gives, for
// every mailbox, exactly the accounts a walk over the whole program finds
// (an app, desk phones, a flat's monitors sharing a box), in program
// order; a mailbox nobody shows gets none.
func TestAccountsOfBox(t *testing.T) {
	p := irtest.Generate(irtest.Options{Residences: 40, UsersPerResidence: 3, PhoneEvery: 2, Seed: 5})
	st := Prepare(State{Program: p}).st
	for _, m := range append(slices.Clone(p.Mailboxes), ir.Mailbox{Name: "nobody"}, ir.Mailbox{Name: ""}) {
		var want []string
		for _, a := range p.Accounts {
			if a.Kind != ir.AccountTrunk && notify.MailboxOf(p, a.Name) == m.Name && m.Name != "" {
				want = append(want, a.Name)
			}
		}
		var got []string
		for _, a := range st.accountsOfBox(m.Name) {
			got = append(got, a.Name)
		}
		if !slices.Equal(got, want) {
			t.Errorf("accounts of mailbox %q: %v, want %v", m.Name, got, want)
		}
	}
}
