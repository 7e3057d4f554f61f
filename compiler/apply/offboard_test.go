package apply_test

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/apply"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
)

// reloadWatcher is a serve whose reload reads the state file, as serve's
// recompile does.
type reloadWatcher struct {
	store   *state.Store
	removed []state.Removed
}

func (w *reloadWatcher) Reload(context.Context) error {
	st, _, err := w.store.Read("")
	if err != nil {
		return err
	}
	w.removed = st.Removed
	return nil
}

func (w *reloadWatcher) CheckSync(context.Context, string) error { return nil }

// A removal is in the state before the server reloads (so the reload
// already archives the person's data), with the identity their data
// belongs to; apply reports each step and forgets the person.
func TestRemovalRecordedBeforeReload(t *testing.T) {
	p := irtest.HarbourView()
	s := newSite(t, p, nil)
	ob := plan.NewOffboarding(p)
	s.d = plan.NewDesired(plan.Input{Program: p, Bundle: s.b, Key: s.k, Offboarding: &ob})
	w := &reloadWatcher{store: s.store}
	s.apply(t, func(o *apply.Options) { o.Server = w })

	// A person applied earlier, gone from the site now.
	st, _, err := s.store.Read("")
	if err != nil {
		t.Fatal(err)
	}
	st.Put(state.Object{Address: "user.leaver", Attributes: map[string]string{"extension": `"150"`, "ddis": `["+35315550100 via carrier"]`}, Identity: "id-leaver"})
	if err := s.store.Write(st); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	res := s.apply(t, func(o *apply.Options) {
		o.Server = w
		o.Now = func() time.Time { return now }
	})
	want := []state.Removed{{User: "leaver", Identity: "id-leaver", At: now, Data: "archive", ArchiveUntil: now.AddDate(0, 0, 30), Owner: "mary",
		DDIs: []string{"+35315550100"}, Extension: "150"}}
	if diff := cmp.Diff(want, w.removed); diff != "" {
		t.Errorf("the state as the reload read it (-want +got):\n%s", diff)
	}
	var step *apply.Step
	for i := range res.Steps {
		if res.Steps[i].Address == "user.leaver" {
			step = &res.Steps[i]
		}
	}
	if step == nil || !step.Done || len(step.Offboarding) != 4 {
		t.Fatalf("the leaver's step: %+v", step)
	}
	after, _, _ := s.store.Read("")
	if after.Object("user.leaver") != nil || len(after.Removed) != 1 {
		t.Errorf("after the apply: object %v, removed %+v", after.Object("user.leaver"), after.Removed)
	}
	if got := after.Identity("leaver"); got == "id-leaver" {
		t.Errorf("a new leaver would get the removed one's identity")
	}
}
