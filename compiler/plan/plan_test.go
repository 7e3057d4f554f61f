package plan_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/credentials"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/plan"
	"switchboard/compiler/provision"
	"switchboard/compiler/state"
)

func testKey(t testing.TB) credentials.Key {
	t.Helper()
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i)
	}
	k, err := credentials.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func desired(t *testing.T, p *ir.Program, k credentials.Key, invites map[string]string) *plan.Desired {
	t.Helper()
	b, diags := provision.Render(p, credentials.NewSource(k, p))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	return plan.NewDesired(plan.Input{Program: p, Bundle: b, Key: k, Invites: invites})
}

// applied is the state after every change of d was applied.
func applied(d *plan.Desired) *state.State {
	st := state.New(d.Site)
	st.Serial = 1
	for _, o := range d.Objects {
		st.Put(state.Object{Address: o.Address, Attributes: o.Attributes})
	}
	return st
}

func actions(p *plan.Plan) []string {
	var out []string
	for _, c := range p.Changes {
		out = append(out, string(c.Action)+" "+c.Address)
	}
	return out
}

func TestFirstPlanCreatesEverythingInApplyOrder(t *testing.T) {
	k := testKey(t)
	p := irtest.HarbourView()
	d := desired(t, p, k, map[string]string{"mary": "mary.work@example.com"})
	pl := plan.Diff(d, state.New(d.Site))
	add, change, remove := pl.Counts()
	if add != len(d.Objects) || change != 0 || remove != 0 {
		t.Errorf("counts %d %d %d for %d objects", add, change, remove, len(d.Objects))
	}
	got := actions(pl)
	// Site first, devices before users.
	if !strings.HasPrefix(got[0], "create site.") {
		t.Errorf("first change %s", got[0])
	}
	lastDevice, firstUser := -1, len(got)
	for i, a := range got {
		if strings.Contains(a, " device.") {
			lastDevice = i
		}
		if strings.Contains(a, " user.") && i < firstUser {
			firstUser = i
		}
	}
	if lastDevice > firstUser {
		t.Errorf("a device comes after a user: %v", got)
	}
	if !slices.Contains(pl.Summary, "new user Mary Byrne, extension 101: invitation will be sent to mary.work@example.com") {
		t.Errorf("summary:\n%s", strings.Join(pl.Summary, "\n"))
	}
	if !slices.Contains(pl.Summary, "new door station front-gate (akuvox-r29c)") {
		t.Errorf("summary:\n%s", strings.Join(pl.Summary, "\n"))
	}
}

func TestNoChangesAfterApply(t *testing.T) {
	k := testKey(t)
	d := desired(t, irtest.HarbourView(), k, nil)
	pl := plan.Diff(d, applied(d))
	if pl.HasChanges() {
		t.Errorf("changes after apply: %v", actions(pl))
	}
	// Moving a block in its file changes origins only: still nothing.
	p := irtest.HarbourView()
	for i := range p.Users {
		p.Users[i].Origin.Line += 10
	}
	if pl := plan.Diff(desired(t, p, k, nil), applied(d)); pl.HasChanges() {
		t.Errorf("origin moves give changes: %v", actions(pl))
	}
}

func TestOneLineChanges(t *testing.T) {
	k := testKey(t)
	before := desired(t, irtest.HarbourView(), k, nil)
	st := applied(before)

	p := irtest.HarbourView()
	p.User("mary").Extension = "109"
	pl := plan.Diff(desired(t, p, k, nil), st)
	if d := cmp.Diff([]string{"update user.mary"}, actions(pl)); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
	c := pl.Changes[0]
	if len(c.Attributes) != 1 || c.Attributes[0].Name != "extension" || c.Attributes[0].Before != `"101"` || c.Attributes[0].After != `"109"` {
		t.Errorf("attributes %+v", c.Attributes)
	}
	if c.Unchanged == 0 {
		t.Error("no unchanged attributes counted")
	}
	if d := cmp.Diff([]string{"Mary Byrne: extension 101 → 109"}, pl.Summary); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}

	// A relay code.
	p = irtest.HarbourView()
	p.Device("lobby").Relays[0].DTMF = "9"
	pl = plan.Diff(desired(t, p, k, nil), st)
	if d := cmp.Diff([]string{"update device.lobby"}, actions(pl)); d != "" {
		t.Errorf("actions (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"lobby: relay code changes"}, pl.Summary); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}

	// A rotation: a new password, shown masked.
	p = irtest.HarbourView()
	p.Account("app.mary").Rotation++
	pl = plan.Diff(desired(t, p, k, nil), st)
	var sensitive []string
	for _, a := range pl.Changes[0].Attributes {
		if a.Sensitive {
			sensitive = append(sensitive, a.Name)
		}
	}
	if d := cmp.Diff([]string{"app.password"}, sensitive); d != "" {
		t.Errorf("sensitive changes (-want +got):\n%s", d)
	}
	if !strings.Contains(strings.Join(pl.Summary, "\n"), "Mary Byrne: new password") {
		t.Errorf("summary %q", pl.Summary)
	}
}

func TestReplaceAndRemove(t *testing.T) {
	k := testKey(t)
	st := applied(desired(t, irtest.HarbourView(), k, nil))
	p := irtest.HarbourView()
	p.Device("front-gate").MAC = "0c1105000001"
	pl := plan.Diff(desired(t, p, k, nil), st)
	if len(pl.Changes) != 1 || pl.Changes[0].Action != plan.Replace || !slices.Equal(pl.Changes[0].ReplacedBecause, []string{"mac"}) {
		t.Fatalf("changes %v", actions(pl))
	}
	if add, change, remove := pl.Counts(); add != 1 || change != 0 || remove != 1 {
		t.Errorf("replace counts %d %d %d", add, change, remove)
	}

	// Removing a user: her object goes, last; who she heard is named.
	p = irtest.HarbourView()
	removeUser(p, "john")
	pl = plan.Diff(desired(t, p, k, nil), st)
	got := actions(pl)
	want := []string{"update site.harbour-view", "update residence.apt-1a", "update device.monitor-1a", "delete user.john", "delete device.desk-102"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("removals last, users before their devices (-want +got):\n%s", d)
	}
	joined := strings.Join(pl.Summary, "\n")
	if !strings.Contains(joined, "John") || !strings.Contains(joined, "is removed: logins revoked, stops receiving calls from front-gate") {
		t.Errorf("summary:\n%s", joined)
	}
}

// removeUser takes a user out of a program the way the compiler would
// leave it: no user, no app account, no legs, entries or numbers for them.
func removeUser(p *ir.Program, name string) {
	ref := ir.UserRef(name).String()
	p.Users = slices.DeleteFunc(p.Users, func(u ir.User) bool { return u.Name == name })
	p.Accounts = slices.DeleteFunc(p.Accounts, func(a ir.Account) bool { return a.Owner.String() == ref })
	p.Mailboxes = slices.DeleteFunc(p.Mailboxes, func(m ir.Mailbox) bool { return m.Owner.String() == ref })
	p.Numbers = slices.DeleteFunc(p.Numbers, func(n ir.Number) bool { return n.Action.Target.String() == ref })
	p.DDIs = slices.DeleteFunc(p.DDIs, func(d ir.DDI) bool { return d.Target.String() == ref })
	p.Conferences = slices.DeleteFunc(p.Conferences, func(c ir.Conference) bool { return c.Owner.String() == ref })
	var devices []string
	for _, d := range p.Devices {
		if d.User == name {
			devices = append(devices, d.Name)
		}
	}
	p.Devices = slices.DeleteFunc(p.Devices, func(d ir.Device) bool { return d.User == name })
	p.Accounts = slices.DeleteFunc(p.Accounts, func(a ir.Account) bool { return slices.Contains(devices, a.Device) })
	for i := range p.Residences {
		r := &p.Residences[i]
		r.Users = slices.DeleteFunc(r.Users, func(u string) bool { return u == name })
		r.Ring.Legs = slices.DeleteFunc(r.Ring.Legs, func(l ir.Leg) bool { return l.Label == ref })
		for _, f := range []*ir.Fallback{&r.Ring.NoAnswer, &r.Ring.Busy, &r.Ring.Decline} {
			if f.Mailbox == name {
				*f = ir.Fallback{Kind: ir.FallbackHangup}
			}
		}
	}
	for i := range p.Devices {
		d := &p.Devices[i]
		d.Contacts = slices.DeleteFunc(d.Contacts, func(c ir.Contact) bool { return strings.Contains(strings.ToLower(c.Name), name) })
		for j := range d.Relays {
			d.Relays[j].Trigger.Accounts = slices.DeleteFunc(d.Relays[j].Trigger.Accounts, func(a string) bool { return a == "app."+name })
		}
	}
	p.Sort()
}

// No attribute, fingerprint or hash holds a password.
func TestNoSecrets(t *testing.T) {
	k := testKey(t)
	p := irtest.HarbourView()
	d := desired(t, p, k, map[string]string{"mary": "mary@example.com"})
	data, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := json.Marshal(plan.Diff(d, state.New(d.Site)))
	for _, c := range credentials.List(p, k) {
		if strings.Contains(string(data), c.Password) || strings.Contains(string(pl), c.Password) {
			t.Errorf("the password of %s appears", c.Name)
		}
	}
}

func TestFingerprintsFollowTheKey(t *testing.T) {
	k := testKey(t)
	raw := make([]byte, 32)
	raw[0] = 9
	k2, _ := credentials.KeyFromBytes(raw)
	st := applied(desired(t, irtest.HarbourView(), k, nil))
	pl := plan.Diff(desired(t, irtest.HarbourView(), k2, nil), st)
	// A new key changes every password and every device file: every device
	// and every user with a login changes, and only credentials and files
	// (and the key's own fingerprint, which says why).
	for _, c := range pl.Changes {
		for _, a := range c.Attributes {
			if !a.Opaque && a.Name != plan.AttrSiteKey {
				t.Errorf("%s: %s changed with the key", c.Address, a.Name)
			}
		}
	}
	if len(pl.Changes) == 0 {
		t.Error("a new key changes nothing")
	}
	if !pl.Rekeyed {
		t.Error("the plan does not say the site key was rekeyed")
	}
	for _, line := range pl.Summary {
		if strings.Contains(line, "password") && !strings.Contains(line, "(site key rekeyed)") {
			t.Errorf("summary line %q does not say why the password changes", line)
		}
	}
	if again := plan.Diff(desired(t, irtest.HarbourView(), k, nil), st); again.Rekeyed {
		t.Error("the same key reads as rekeyed")
	}
}

func TestCheckSaved(t *testing.T) {
	k := testKey(t)
	d := desired(t, irtest.HarbourView(), k, nil)
	st := applied(d)
	p := irtest.HarbourView()
	p.User("mary").Extension = "109"
	d2 := desired(t, p, k, nil)
	ref := plan.Diff(d2, st).Ref()
	if err := plan.CheckSaved(ref, d2, st); err != nil {
		t.Errorf("fresh plan refused: %v", err)
	}
	var stale *plan.StaleError
	if err := plan.CheckSaved(ref, d, st); !errors.As(err, &stale) || !strings.Contains(err.Error(), "configuration changed") {
		t.Errorf("changed config: %v", err)
	}
	st.Serial++
	if err := plan.CheckSaved(ref, d2, st); !errors.As(err, &stale) || !strings.Contains(err.Error(), "state changed") {
		t.Errorf("changed state: %v", err)
	}
}

// An object an apply marked in progress and did not finish is changed
// again, even when the site now equals what the state recorded.
func TestInterruptedChangesAreRedone(t *testing.T) {
	k := testKey(t)
	d := desired(t, irtest.HarbourView(), k, nil)
	st := applied(d)
	o := st.Object("device.lobby")
	o.InProgress = true
	pl := plan.Diff(d, st)
	if len(pl.Changes) != 1 || pl.Changes[0].Address != "device.lobby" || !pl.Changes[0].Interrupted || pl.Changes[0].Action != plan.Update {
		t.Fatalf("changes %v", actions(pl))
	}
	if d := cmp.Diff([]string{"device lobby: an earlier apply did not finish it; it is applied again"}, pl.Summary); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
	// A create that did not finish is still a create.
	st.Put(state.Object{Address: "device.lobby", Attributes: map[string]string{}, InProgress: true})
	pl = plan.Diff(d, st)
	if len(pl.Changes) != 1 || pl.Changes[0].Action != plan.Create {
		t.Fatalf("changes %v", actions(pl))
	}
}

func TestCheckSavedOtherStateFile(t *testing.T) {
	k := testKey(t)
	d := desired(t, irtest.HarbourView(), k, nil)
	st := applied(d)
	ref := plan.Diff(d, st).Ref()
	other := applied(d) // another lineage, same serial
	var stale *plan.StaleError
	if err := plan.CheckSaved(ref, d, other); !errors.As(err, &stale) || !strings.Contains(err.Error(), "another state file") {
		t.Errorf("other lineage: %v", err)
	}
}

// TestReferencesNameTheirInput: a trunk's username and password taken from
// variables are references, {"from":"var.x"}: shown by name, never masked
// as a value and never the literal "var.x" as if it were the username.
func TestReferencesNameTheirInput(t *testing.T) {
	k := testKey(t)
	p := irtest.HarbourView()
	d := desired(t, p, k, nil)
	pl := plan.Diff(d, state.New(d.Site))
	var got []plan.AttributeChange
	for _, c := range pl.Changes {
		if c.Kind != plan.KindTrunk {
			continue
		}
		for _, a := range c.Attributes {
			if a.Name == "username" || a.Name == "password" {
				got = append(got, a)
			}
		}
	}
	want := []plan.AttributeChange{
		{Name: "password", After: `{"from":"var.trunk_password"}`},
		{Name: "username", After: `{"from":"var.trunk_user"}`},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("trunk references (-want +got):\n%s", diff)
	}
	for _, tc := range []struct {
		v, ref string
		ok     bool
	}{
		{`{"from":"var.trunk_user"}`, "var.trunk_user", true},
		{`"var.trunk_user"`, "", false},
		{`{"from":"a","b":"c"}`, "", false},
		{`{}`, "", false},
		{`["from"]`, "", false},
	} {
		ref, ok := plan.Reference(tc.v)
		if ref != tc.ref || ok != tc.ok {
			t.Errorf("Reference(%s) = %q, %v; want %q, %v", tc.v, ref, ok, tc.ref, tc.ok)
		}
	}
}

// TestTarget: -target keeps the targeted objects and those that name them,
// one step, and records what it left out.
func TestTarget(t *testing.T) {
	k := testKey(t)
	p := irtest.HarbourView()
	d := desired(t, p, k, nil)
	full := plan.Diff(d, state.New(d.Site))
	for _, tc := range []struct {
		targets []string
		want    []string
	}{
		// Mary's desk phone: her residence rings it, the lobby's garage relay
		// obeys it, and it is her endpoint.
		{[]string{"device.desk-101"}, []string{"create residence.apt-1a", "create device.desk-101", "create device.lobby", "create user.mary"}},
		// The people the front gate rings.
		{[]string{"device.front-gate"}, []string{"create device.front-gate", "create user.john", "create user.mary"}},
		{[]string{"user.john"}, []string{"create residence.apt-1a", "create device.desk-102", "create user.john"}},
		// The people whose carrier numbers come in by the trunk.
		{[]string{"trunk.carrier"}, []string{"create trunk.carrier", "create user.mary"}},
		{[]string{"user.john", "device.desk-101"}, []string{"create residence.apt-1a", "create device.desk-101", "create device.desk-102", "create device.lobby", "create user.john", "create user.mary"}},
	} {
		got, err := plan.Target(full, d, state.New(d.Site), tc.targets)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, actions(got)); diff != "" {
			t.Errorf("-target %v (-want +got):\n%s", tc.targets, diff)
		}
		if got.LeftOut != len(full.Changes)-len(got.Changes) || len(got.Summary) == 0 {
			t.Errorf("-target %v: left out %d, summary %q", tc.targets, got.LeftOut, got.Summary)
		}
	}
	if _, err := plan.Target(full, d, state.New(d.Site), []string{"user.nobody"}); err == nil || !strings.Contains(err.Error(), `"user.nobody"`) {
		t.Errorf("unknown target: %v", err)
	}
	// An object only the state knows (a removal) can be targeted.
	st := applied(d)
	st.Put(state.Object{Address: "user.gone", Attributes: map[string]string{"display_name": `"Gone"`}})
	removal, err := plan.Target(plan.Diff(d, st), d, st, []string{"user.gone"})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"delete user.gone"}, actions(removal)); diff != "" {
		t.Errorf("removal (-want +got):\n%s", diff)
	}
	for _, bad := range []string{"gate", "widget.gate", "device.", ""} {
		if _, _, err := plan.ParseAddress(bad); err == nil {
			t.Errorf("ParseAddress(%q) accepted", bad)
		}
	}
}
