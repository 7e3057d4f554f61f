package plan_test

import (
	"slices"
	"strconv"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
)

// withoutUsers returns p without the named users and their ring legs in
// residences, as the compiler would lower a site whose user blocks were
// removed.
func withoutUsers(p *ir.Program, names ...string) *ir.Program {
	q := *p
	gone := func(label string) bool {
		r, err := ir.ParseRef(label)
		return err == nil && r.Kind == ir.RefUser && slices.Contains(names, r.Name)
	}
	q.Users = slices.DeleteFunc(slices.Clone(p.Users), func(u ir.User) bool { return slices.Contains(names, u.Name) })
	q.Residences = slices.Clone(p.Residences)
	for i := range q.Residences {
		r := &q.Residences[i]
		r.Users = slices.DeleteFunc(slices.Clone(r.Users), func(u string) bool { return slices.Contains(names, u) })
		r.Ring.Legs = slices.DeleteFunc(slices.Clone(r.Ring.Legs), func(l ir.Leg) bool { return gone(l.Label) })
	}
	q.Entries = slices.DeleteFunc(slices.Clone(p.Entries), func(e ir.Entry) bool { return gone(e.Target.String()) })
	return &q
}

func TestRemovedAnswerers(t *testing.T) {
	k := testKey(t)
	p := irtest.HarbourView()
	st := applied(desired(t, p, k, nil))
	tests := []struct {
		name  string
		now   *ir.Program
		fresh bool     // against a state where nothing was applied yet
		want  []string // "file:line: summary: detail"
	}{{
		name: "nothing removed",
		now:  p,
	}, {
		name: "one of two residents moves out: the other still answers",
		now:  withoutUsers(p, "john"),
	}, {
		// 1A rang its monitor, mary and john; both leave, the monitor
		// stays: the front gate and the lobby keep ringing an empty flat.
		name: "the whole household moves out, the monitor stays",
		now:  withoutUsers(p, "john", "mary"),
		want: []string{
			`site.pbx.hcl:79: Door code answered only by removed people: At the last apply, code "1A" of door station "front-gate" rang user "john" and user "mary", who are no longer in the site files; now it rings no person, only device "monitor-1a". If nobody lives in residence "apt-1a" any more, remove its button (or the residence); if someone has moved in, add them as users of it.`,
			`site.pbx.hcl:92: Door code answered only by removed people: At the last apply, code "1A" of door station "lobby" rang user "john" and user "mary", who are no longer in the site files; now it rings no person, only device "monitor-1a". If nobody lives in residence "apt-1a" any more, remove its button (or the residence); if someone has moved in, add them as users of it.`,
		},
	}, {
		name:  "nothing applied yet",
		now:   withoutUsers(p, "john", "mary"),
		fresh: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			against := st
			if tt.fresh {
				against = state.New(p.Site.Name)
			}
			var got []string
			for _, d := range plan.RemovedAnswerers(tt.now, against) {
				got = append(got, d.Subject.Filename+":"+strconv.Itoa(d.Subject.Start.Line)+": "+d.Summary+": "+d.Detail)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("warnings (-want +got):\n%s", diff)
			}
		})
	}
}
