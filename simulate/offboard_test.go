package simulate_test

import (
	"context"
	"strings"
	"testing"

	"switchboard/compiler"
	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/lang"
	"switchboard/simulate"
)

// A site compiled under applied identities (a voicemail box per identity,
// not per block name) and with a trunk whose spare numbers go to a
// voicemail box passes its generated suite: the messages land in the
// identities' boxes, and the carrier's call to a spare number lands in
// the unassigned box.
func TestGeneratedSuiteWithIdentitiesAndSpareNumbers(t *testing.T) {
	cfg, diags := lang.Load("../examples/small-office", lang.Options{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	checked, diags := compiler.Check(cfg)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	identity := func(user string) string { return "id-" + user + "-2" }
	p, diags := compiler.Lower(checked, compiler.LowerOptions{Identity: identity})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	var owner *ir.User
	for i := range p.Users {
		if p.Users[i].Mailbox != "" {
			owner = &p.Users[i]
			break
		}
	}
	if owner == nil || owner.Mailbox != identity(owner.Name) || owner.ID() != identity(owner.Name) {
		t.Fatalf("the first user with voicemail: %+v, want a box named for the identity", owner)
	}
	p.Trunks[0].Unassigned, p.Trunks[0].UnassignedMailbox = ir.UserRef(owner.Name), owner.Mailbox
	if err := p.Validate(); err != nil {
		t.Fatal(err)
	}
	key, err := credentials.KeyFromBytes([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	cases := simulate.Generate(p)
	spare := false
	for _, c := range cases {
		if strings.Contains(c.Name, "→ spare ") && strings.HasSuffix(c.Name, "goes to voicemail "+owner.Mailbox) {
			spare = true
		}
	}
	if !spare {
		t.Errorf("no generated case for the spare number's voicemail")
	}
	rep, err := simulate.Run(context.Background(), p, credentials.NewLookup(key, p), cases, simulate.Options{TrunkSecrets: trunkSecrets(t, "../examples/small-office")})
	if err != nil {
		t.Fatal(err)
	}
	if pass, fail, _ := rep.Counts(); fail > 0 || pass == 0 {
		t.Fatalf("%d passed, %d failed:\n%s", pass, fail, report(rep))
	}
	if text := report(rep); !strings.Contains(text, "voicemail "+owner.Mailbox) {
		t.Errorf("no case left a message in %s:\n%s", owner.Mailbox, text)
	}
}
