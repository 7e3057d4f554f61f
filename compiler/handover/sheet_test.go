package handover_test

import (
	"bytes"
	"encoding/json"
	"html"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/credentials"
	"switchboard/compiler/handover"
	"switchboard/compiler/ir"
	"switchboard/compiler/ir/irtest"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
)

func testKey(t testing.TB) credentials.Key {
	t.Helper()
	b := make([]byte, 32)
	for i := range b {
		b[i] = byte(i + 7)
	}
	k, err := credentials.KeyFromBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var when = time.Date(2026, 12, 5, 14, 0, 0, 0, time.UTC)

// harbour is Harbour View with its installer, and a state in which the
// front gate was pushed and read back, the lobby phone only told to fetch
// its files, Mary's invitation sent and John's not.
func harbour(t testing.TB) (*ir.Program, *state.State) {
	p := irtest.HarbourView()
	p.Site.Installer = &ir.Installer{Company: "Dublin Door Systems", Email: "support@dds.example", Phone: "+35315550100"}
	for i := range p.Users {
		if p.Users[i].Name == "mary" || p.Users[i].Name == "john" {
			p.Users[i].SendCredentials = true
		}
	}
	st := state.New(p.Site.Name)
	st.Serial = 3
	for _, d := range p.Devices {
		o := state.Object{Address: "device." + d.Name, Attributes: map[string]string{}, AppliedAt: when}
		if d.Vendor == "akuvox" {
			o.Delivery = &state.Delivery{Method: "api", Outcome: "set and verified", Firmware: "29.30.2.17"}
		} else {
			o.Delivery = &state.Delivery{Method: "check-sync", Outcome: "check-sync sent"}
		}
		st.Put(o)
	}
	st.Put(state.Object{Address: "user.mary", Attributes: map[string]string{plan.AttrInvitation: `"sent to mary@example.com"`}, AppliedAt: when})
	st.Put(state.Object{Address: "user.john", Attributes: map[string]string{plan.AttrInvitation: plan.InvitationNotSent}, AppliedAt: when})
	st.Handovers = []state.Handover{{From: "installer", FromName: "Dublin Door Systems", To: "user.mary", ToName: "Mary Byrne", At: when, PlanHash: "0123456789abcdef0123"}}
	return p, st
}

func newSheet(t testing.TB) (*handover.Sheet, credentials.Key) {
	p, st := harbour(t)
	k := testKey(t)
	return handover.New(handover.Input{Program: p, State: st, Now: when,
		Key: handover.KeyInfo{Location: ".switchboard/site.key", Fingerprint: k.Fingerprint()}}), k
}

func TestSheetFacts(t *testing.T) {
	s, k := newSheet(t)
	if diff := cmp.Diff(handover.Contact{Role: "owner", Name: "Mary Byrne", Email: "mary@example.com", Residence: "1A"}, s.Owner); diff != "" {
		t.Errorf("owner (-want +got)\n%s", diff)
	}
	if s.Installer == nil || s.Installer.Name != "Dublin Door Systems" || s.Installer.Phone != "+35315550100" {
		t.Errorf("installer %+v", s.Installer)
	}
	if s.Key.Fingerprint != k.Fingerprint() || !strings.HasPrefix(s.Key.Fingerprint, "sha256:") {
		t.Errorf("key %+v", s.Key)
	}
	invitations := map[string]string{}
	for _, h := range s.Homes {
		for _, p := range h.People {
			invitations[p.Name] = p.Invitation
		}
	}
	want := map[string]string{"mary": "sent to mary@example.com", "john": "not sent: the last apply could not send it", "aoife": "none: send_credentials is off"}
	for name, w := range want {
		if invitations[name] != w {
			t.Errorf("%s's invitation %q, want %q", name, invitations[name], w)
		}
	}
	var verified, unverified []string
	for _, d := range s.Devices {
		if d.Verified {
			verified = append(verified, d.Name)
		} else {
			unverified = append(unverified, d.Name)
		}
	}
	if len(verified) == 0 || len(unverified) == 0 {
		t.Errorf("verified %v, unverified %v: the fixture has both", verified, unverified)
	}
	open := strings.Join(s.OpenItems, "\n")
	for _, w := range append(unverified, "John Byrne's invitation was not delivered") {
		if !strings.Contains(open, w) {
			t.Errorf("open items lack %q:\n%s", w, open)
		}
	}
	for _, w := range verified {
		if strings.Contains(open, "Device "+w+" ") {
			t.Errorf("verified device %s is an open item", w)
		}
	}
}

// Spare DDIs are the trunks' numbers no user is given.
func TestSpareDDIs(t *testing.T) {
	p, st := harbour(t)
	p.Trunks = append([]ir.Trunk(nil), p.Trunks...)
	p.Trunks[0].DDIs = append(append([]string(nil), p.Trunks[0].DDIs...), "+35315559999")
	s := handover.New(handover.Input{Program: p, State: st, Now: when})
	var want, spare []string
	assigned := map[string]bool{}
	for _, d := range p.DDIs {
		assigned[d.Number] = true
	}
	for _, t := range p.Trunks {
		for _, d := range t.DDIs {
			if !assigned[d] {
				want = append(want, d)
			}
		}
	}
	slices.Sort(want)
	for _, r := range s.Numbers.SpareDDIs {
		spare = append(spare, r.Number)
	}
	if !slices.Contains(spare, "+35315559999") {
		t.Errorf("spare DDIs %v lack the number added to the pool", spare)
	}
	if diff := cmp.Diff(want, spare); diff != "" {
		t.Errorf("spare DDIs (-want +got)\n%s", diff)
	}
}

// The installer owning the site is the owner, and the next step says how
// to hand it over; with nothing applied everything is open.
func TestSheetInstallerOwnsNothingApplied(t *testing.T) {
	p := irtest.HarbourView()
	p.Site.Installer = &ir.Installer{Company: "Dublin Door Systems", Email: "support@dds.example", OwnsSite: true}
	for i := range p.Users {
		p.Users[i].Role = "user"
	}
	s := handover.New(handover.Input{Program: p, State: state.New(p.Site.Name), Now: when})
	if s.Owner.Role != "installer" || s.Applied {
		t.Errorf("owner %+v, applied %v", s.Owner, s.Applied)
	}
	if !strings.Contains(s.NextSteps[0], "remove owns_site") {
		t.Errorf("first step %q", s.NextSteps[0])
	}
	if !strings.Contains(s.OpenItems[0], "never applied") {
		t.Errorf("first open item %q", s.OpenItems[0])
	}
}

// Every format renders the same facts and none holds a secret.
func TestRenderingsHoldTheFactsAndNoSecret(t *testing.T) {
	s, k := newSheet(t)
	p, _ := harbour(t)
	for _, format := range handover.Formats {
		var b bytes.Buffer
		if err := s.Render(&b, format); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		out := b.String()
		if format == "html" {
			out = html.UnescapeString(out)
		}
		for _, w := range []string{"Mary Byrne", "Dublin Door Systems", "front-gate", k.Fingerprint(), "+353", ".switchboard/site.key"} {
			if !strings.Contains(out, w) {
				t.Errorf("%s lacks %q", format, w)
			}
		}
		for _, c := range credentials.List(p, k) {
			if strings.Contains(out, c.Password) {
				t.Errorf("%s shows the password of %s", format, c.Name)
			}
		}
		if strings.Contains(out, k.Encode()) {
			t.Errorf("%s shows the site key", format)
		}
	}
	var b bytes.Buffer
	if err := s.Render(&b, "json"); err != nil {
		t.Fatal(err)
	}
	var back handover.Sheet
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, &back); diff != "" {
		t.Errorf("JSON round trip (-want +got)\n%s", diff)
	}
	if err := s.Render(&b, "pdf"); err == nil {
		t.Error("an unknown format rendered")
	}
}

// The HTML escapes what the site files say: a name cannot inject markup.
func TestHTMLEscapes(t *testing.T) {
	p, st := harbour(t)
	p.Users[0].DisplayName = `<script>alert("x")</script>`
	p.Site.DisplayName = `Quay"; } </style><script>alert(1)</script>`
	var b bytes.Buffer
	if err := handover.New(handover.Input{Program: p, State: st, Now: when}).HTML(&b); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(b.String(), "<script>") {
		t.Error("a display name reached the page as markup")
	}
}

// The commissioning results in the state appear on the sheet: a section
// with every case that ran, and each failed case and the open ones among
// the open items.
func TestSheetCommissioning(t *testing.T) {
	p, st := harbour(t)
	st.Commissioning = &state.Commissioning{Updated: when, Cases: []state.CommissionedCase{
		{Name: "front-gate button 1 → residence 1A rings together, then hangup", Origin: "site.pbx.hcl:40", Status: "passed", At: when, Evidence: []uint64{1, 2}},
		{Name: "front-gate button 2 → residence 1B → john answers", Status: "failed", Detail: "rang mary; expected also john"},
		{Name: "mary calls john on extension 102", Status: "open", Detail: "not called yet"},
		{Name: "a skipped one", Status: "skipped"},
	}}
	s := handover.New(handover.Input{Program: p, State: st, Now: when})
	if diff := cmp.Diff(handover.Commissioning{Updated: when, Passed: 1, Failed: 1, Open: 1, Skipped: 1, Cases: st.Commissioning.Cases}, *s.Commissioning); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	var b strings.Builder
	if err := s.Text(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"Commissioning (2026-12-05 14:00 UTC: 1 passed, 1 failed, 1 open)",
		"front-gate button 1 → residence 1A rings together, then hangup  passed  2026-12-05 14:00  site.pbx.hcl:40",
		`Commissioning: "front-gate button 2 → residence 1B → john answers" failed: rang mary; expected also john.`,
		"Commissioning: 1 of 3 cases are not yet proven on the live site",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("the sheet lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "a skipped one") {
		t.Error("a skipped case is listed")
	}
}
