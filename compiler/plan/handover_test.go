package plan_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
)

// withOwner is Harbour View owned by the named user, or by the installer
// (owns_site) when owner is "".
func withOwner(owner string) *ir.Program {
	p := irtest.HarbourView()
	p.Site.Installer = &ir.Installer{Company: "Dublin Door Systems", Email: "support@dds.example", OwnsSite: owner == ""}
	p.Users = append([]ir.User(nil), p.Users...)
	for i := range p.Users {
		p.Users[i].Role = "user"
		if p.Users[i].Name == owner {
			p.Users[i].Role = "owner"
		}
	}
	return p
}

func TestHandoverCallout(t *testing.T) {
	k := testKey(t)
	for _, tc := range []struct {
		name        string
		from, to    string // owners: a user's name, "" for the installer
		first       bool   // nothing applied yet
		want        *plan.Handover
		wantCallout string
	}{
		{name: "installer to a user", from: "", to: "mary",
			want:        &plan.Handover{From: "installer", FromName: "Dublin Door Systems", To: "user.mary", ToName: "Mary Byrne"},
			wantCallout: "Ownership passes from the installer (Dublin Door Systems) to Mary Byrne"},
		{name: "user to user", from: "mary", to: "john",
			want:        &plan.Handover{From: "user.mary", FromName: "Mary Byrne", To: "user.john", ToName: "John Byrne"},
			wantCallout: "Ownership passes from Mary Byrne to John Byrne"},
		{name: "back to the installer", from: "john", to: "",
			want:        &plan.Handover{From: "user.john", FromName: "John Byrne", To: "installer", ToName: "Dublin Door Systems"},
			wantCallout: "Ownership passes from John Byrne to the installer (Dublin Door Systems)"},
		{name: "same owner", from: "mary", to: "mary"},
		{name: "first apply", to: "mary", first: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := state.New("harbour-view")
			if !tc.first {
				st = applied(desired(t, withOwner(tc.from), k, nil))
			}
			p := plan.Diff(desired(t, withOwner(tc.to), k, nil), st)
			if diff := cmp.Diff(tc.want, p.Handover); diff != "" {
				t.Fatalf("handover (-want +got)\n%s", diff)
			}
			if tc.want != nil && p.Handover.Callout() != tc.wantCallout {
				t.Errorf("callout %q, want %q", p.Handover.Callout(), tc.wantCallout)
			}
			if p.Rekeyed {
				t.Error("the same key reads as rekeyed")
			}
		})
	}
}
