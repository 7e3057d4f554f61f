package plan_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/plan"
	"switchboard/compiler/provision"
)

// Removing a person, the plan says what happens to their data (under the
// site's policy, counted where this machine can), their DDIs and their
// extension, in the order apply takes them.
func TestOffboardSteps(t *testing.T) {
	k := testKey(t)
	withDDI := func() *ir.Program {
		p := irtest.HarbourView()
		p.DDIs = append(p.DDIs, ir.DDI{Number: "+35315550100", Trunk: "carrier", Target: ir.UserRef("john")})
		p.Sort()
		return p
	}
	st := applied(desired(t, withDDI(), k, nil))
	for _, tt := range []struct {
		name    string
		data    string
		counted bool
		want    []string
	}{
		{"archive, counted", "archive", true, []string{
			"app and portal logins revoked, registrations dropped when the server reloads",
			"3 voicemail messages, greeting archived for 30 days, until 2027-01-04 for Mary Byrne, then deleted (identity john)",
			"DDI +35315550100 becomes spare (trunk carrier; its calls go to 404)",
			"extension 102 quarantined until 2027-03-05",
		}},
		{"delete, not counted here", "delete", false, []string{
			"app and portal logins revoked, registrations dropped when the server reloads",
			"voicemail messages, greeting and PIN deleted (removed_data = \"delete\")",
			"DDI +35315550100 becomes spare (trunk carrier; its calls go to 404)",
			"extension 102 quarantined until 2027-03-05",
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			p := withDDI()
			removeUser(p, "john")
			if tt.data == "delete" {
				p.Site.RemovedData = "delete"
			}
			ob := plan.NewOffboarding(p)
			ob.Quarantine["102"] = "2027-03-05"
			if tt.counted {
				ob.Inventory = func(identity string) (plan.Inventory, bool) {
					if identity != "john" {
						t.Errorf("counted the box of %q, want john's", identity)
					}
					return plan.Inventory{Messages: 3, Greeting: true}, true
				}
			}
			b, diags := provision.Render(p, credentials.NewSource(k, p))
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			d := plan.NewDesired(plan.Input{Program: p, Bundle: b, Key: k, Offboarding: &ob})
			pl := plan.Diff(d, st)
			var got []string
			for _, c := range pl.Changes {
				if c.Address == "user.john" && c.Offboard != nil {
					got = c.Offboard.Steps(time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC))
				}
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("steps (-want +got):\n%s", diff)
			}
			if summary := strings.Join(pl.Summary, "\n"); !strings.Contains(summary, "John Byrne: DDI +35315550100 becomes spare") {
				t.Errorf("summary does not say the DDI becomes spare:\n%s", summary)
			}
		})
	}
}
