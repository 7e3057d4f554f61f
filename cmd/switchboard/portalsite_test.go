package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"switchboard/compiler/ir"
	"switchboard/compiler/plan"
	"switchboard/compiler/state"
	"switchboard/email"
	"switchboard/runtime/portal"
)

// sentMail keeps what it is given.
type sentMail struct {
	mu  sync.Mutex
	got []email.Message
}

func (s *sentMail) Send(_ context.Context, m email.Message) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.got = append(s.got, m)
	return nil
}

// TestPortalSite: the portal's invitations are the applied state's, a
// resend is invite's mail (recorded in the state, no password changed)
// and refused for someone not applied, and the handover sheet renders.
func TestPortalSite(t *testing.T) {
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "..", "examples", "family-home"))); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	c := &cli{stdout: &bytes.Buffer{}, stderr: &stderr, environ: []string{"SWITCHBOARD_SITE_KEY=" + testSiteKey}}
	path := statePath(dir, "")
	cs, status := c.compileSite("serve", dir, compileOptions{needKey: true, state: path})
	if cs == nil {
		t.Fatalf("compiling: %d %s", status, stderr.String())
	}
	// Everything applied but david, whose invitation was sent to him;
	// sarah's is held.
	desired := plan.NewDesired(plan.Input{Program: cs.program, Key: cs.key, Invites: plan.Invites(cs.program)})
	st := state.New(cs.program.Site.Name)
	for _, o := range desired.Objects {
		if o.Address == "user.chloe" {
			continue
		}
		rec := state.Object{Address: o.Address, Attributes: map[string]string{}, AppliedAt: time.Now()}
		for k, v := range o.Attributes {
			rec.Attributes[k] = v
		}
		if o.Address == "user.sarah" {
			held, _ := json.Marshal(plan.InvitationHeldPrefix + `device "gate" was not reached`)
			rec.Attributes[plan.AttrInvitation] = string(held)
		}
		st.Put(rec)
	}
	st.Commissioning = &state.Commissioning{Updated: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Cases: []state.CommissionedCase{
		{Name: "gate rings sarah", Status: "passed"}, {Name: "david's DDI", Status: "open", Detail: "his phone is off"}}}
	if err := state.NewStore(path).Write(st); err != nil {
		t.Fatal(err)
	}
	mail := &sentMail{}
	ps := &portalSite{dir: dir, statePath: path, key: cs.key, mailer: mail, program: func() *ir.Program { return cs.program }}

	inv, err := ps.Invitations()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := inv["chloe"]; ok {
		t.Errorf("chloe, not applied, has an invitation status: %q", inv["chloe"])
	}
	if got := inv["sarah"]; got != `held: device "gate" was not reached` {
		t.Errorf("sarah's invitation: %q", got)
	}
	if got := inv["david"]; !strings.HasPrefix(got, "sent to ") {
		t.Errorf("david's invitation: %q", got)
	}

	if _, err := ps.ResendInvitation(context.Background(), "chloe"); err == nil || !strings.Contains(err.Error(), "not applied yet") {
		t.Errorf("resending chloe's: %v, want not applied", err)
	}
	line, err := ps.ResendInvitation(context.Background(), "david")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(line, "no password changed") {
		t.Errorf("resend said %q", line)
	}
	var to []string
	for _, m := range mail.got {
		to = append(to, m.To)
	}
	if diff := cmp.Diff([]string{strings.TrimPrefix(inv["david"], "sent to ")}, to); diff != "" {
		t.Errorf("mail sent to (-want +got):\n%s", diff)
	}
	// No password changed: the plan against the state after the resend
	// is as empty as before for david.
	after, _, err := state.NewStore(path).Read(cs.program.Site.Name)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st.Object("user.david").Attributes, after.Object("user.david").Attributes); diff != "" {
		t.Errorf("david's applied attributes changed (-before +after):\n%s", diff)
	}

	cl, err := ps.Commissioning()
	if err != nil {
		t.Fatal(err)
	}
	want := &portal.Checklist{Updated: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), Cases: []portal.CheckCase{
		{Name: "gate rings sarah", Status: "passed"}, {Name: "david's DDI", Status: "open", Detail: "his phone is off"}}}
	if diff := cmp.Diff(want, cl); diff != "" {
		t.Errorf("commissioning (-want +got):\n%s", diff)
	}

	html, err := ps.HandoverHTML()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(html, []byte("<html")) || !bytes.Contains(html, []byte(cs.program.Site.DisplayName)) {
		t.Errorf("handover sheet: %.200s", html)
	}
}
